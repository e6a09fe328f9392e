"""Git-driven delivery: release bump, promote and rollback as pull requests; git plumbing and the
GitHub API.
"""
