"""The desired state in Git: render with Kustomize, validate against schemas, policy rules, pins,
and round-trip edits.
"""
