"""Is there a Kubernetes API server to talk to? Answered quickly, without a traceback."""

from __future__ import annotations

from gitops.cluster.port import Port
from gitops.cluster.target import Target
from gitops.core.errors import GitOpsError
from gitops.core.repo import Repo

NO_SERVER = ("no reachable API server in the current kubeconfig context "
             "(set KUBECONFIG or run ./inv bootstrap)")


def cluster_unreachable(repo: Repo, context: str | None = None) -> str | None:
    """None when the kubeconfig's current (or given) context answers, else why not, in one sentence."""
    try:
        port = Port(repo, Target("kind", context or "", managed=False))
    except GitOpsError:
        return NO_SERVER
    return None if port.reachable() else NO_SERVER
