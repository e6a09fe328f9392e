"""Adapters everything else stands on: the Repo value, the one process runner, atomic files,
errors, pinned tools.
"""
