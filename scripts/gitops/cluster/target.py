"""Where a cluster comes from (kind, k3s, or any kubeconfig context) and how to talk to it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gitops.core import config

KIND_CLUSTER_NAME = "tasknote"
K3S_CONTEXT = "tasknote-k3s"


def k3s_kubeconfig_path() -> Path:
    """Outside the repository: a kubeconfig holds a client key and must never be committed."""
    return Path.home() / ".kube" / "tasknote-k3s.yaml"


@dataclass(frozen=True)
class Target:
    """One cluster to bootstrap: which argocd/clusters/<cluster> tree it runs, and its API.

    `managed` says the automation creates (and may delete) the cluster itself; an existing
    context given with --context is only ever used, never created or deleted.
    """

    cluster: str
    context: str
    kubeconfig: Path | None = None
    managed: bool = True

    def kubectl_args(self) -> list[str]:
        args = ["--context", self.context]
        if self.kubeconfig is not None:
            args += ["--kubeconfig", str(self.kubeconfig)]
        return args

    def describe(self) -> str:
        if not self.managed:
            return f"existing context {self.context} (running argocd/clusters/{self.cluster})"
        where = f" in {self.kubeconfig}" if self.kubeconfig else ""
        return f"{self.cluster} cluster (context {self.context}{where})"


def resolve(cluster: str = "kind", context: str = "") -> Target:
    """The target for `--cluster` and an optional `--context` (an existing cluster to adopt)."""
    config.check_cluster(cluster)
    if context:
        return Target(cluster, context, None, managed=False)
    if cluster == "kind":
        return Target("kind", f"kind-{KIND_CLUSTER_NAME}")
    return Target("k3s", K3S_CONTEXT, k3s_kubeconfig_path())
