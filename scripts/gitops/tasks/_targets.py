"""`--target kind|k3s|context:NAME`: the one way a task names a cluster, and the old spellings.

The old options (`--cluster`, `--context`) still work for one deprecation period: they print a
one-line notice pointing at the --target spelling that means the same, then behave like it.
"""

from __future__ import annotations

import sys

from gitops.cluster.target import CLUSTER_KIND_HELP, TARGET_HELP, Target, parse
from gitops.core.errors import GitOpsError

DEPRECATED_CLUSTER_HELP = "deprecated: use --target kind|k3s"
DEPRECATED_CONTEXT_HELP = "deprecated: use --target context:NAME"

__all__ = ["CLUSTER_KIND_HELP", "DEPRECATED_CLUSTER_HELP", "DEPRECATED_CONTEXT_HELP", "TARGET_HELP",
           "choose"]


def choose(target: str, cluster_kind: str = "", *, cluster: str = "", context: str = "",
           default: str = "") -> Target:
    """The Target a task was given; the old --cluster/--context spellings with a one-line notice."""
    if cluster or context:
        if target:
            raise GitOpsError("give either --target or the deprecated --cluster/--context, not both.")
        target = f"context:{context}" if context else cluster
        if context and cluster and not cluster_kind:
            cluster_kind = cluster
        hint = f" --cluster-kind {cluster_kind}" if context and cluster_kind else ""
        print(f"deprecated: --cluster/--context will go away; use --target {target}{hint}", file=sys.stderr)
    if not target and not default:
        raise GitOpsError("name the cluster with --target kind, --target k3s or --target context:NAME.")
    return parse(target or default, cluster_kind)
