"""invoke entry point: the namespaces live in scripts/gitops/tasks; this file holds no logic."""

from gitops.tasks import namespace

__all__ = ["namespace"]
