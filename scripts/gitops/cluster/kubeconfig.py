"""Existing kubeconfig contexts: list them and check one answers."""

from __future__ import annotations

from pathlib import Path

from kubernetes import config as kube_config

from gitops.cluster.port import Port
from gitops.cluster.target import Target
from gitops.core.errors import GitOpsError
from gitops.core.repo import Repo


def contexts(kubeconfig: Path | None = None) -> list[str]:
    """The context names of a kubeconfig (default: $KUBECONFIG or ~/.kube/config); none when unreadable."""
    try:
        found, _ = kube_config.list_kube_config_contexts(  # type: ignore[no-untyped-call]
            config_file=str(kubeconfig) if kubeconfig else None)
    except (kube_config.ConfigException, OSError):
        return []
    return [str(c["name"]) for c in found or []]


def require_reachable(repo: Repo, target: Target) -> None:
    """One sentence naming the context and the fix when its API server does not answer."""
    if target.context not in contexts(target.kubeconfig):
        host = " --host USER@HOST" if target.cluster == "k3s" else ""
        fix = (f"create it with ./inv cluster.create --target {target.cluster}{host}" if target.managed
               else "see kubectl config get-contexts for the ones you have")
        raise GitOpsError(f"kubeconfig has no context {target.context!r}; {fix}.")
    if not reachable(repo, target):
        raise GitOpsError(
            f"the API server of context {target.context!r} does not answer; "
            "start the cluster or fix the kubeconfig."
        )


def reachable(repo: Repo, target: Target) -> bool:
    try:
        return Port(repo, target).reachable()
    except GitOpsError:
        return False

