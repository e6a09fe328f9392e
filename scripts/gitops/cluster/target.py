"""Which cluster a task talks to: kind, k3s, or any kubeconfig context, and the tree it runs.

One spelling everywhere a cluster is chosen: `--target kind|k3s|context:NAME`. A Target also
knows which argocd/clusters/<cluster> tree (and clusters/<cluster> certificate) belongs to it:
kind and k3s name their own; `context:NAME` runs kind's tree unless `--cluster-kind k3s` says
the context is a k3s-flavoured cluster (staging/prod).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gitops.core import config
from gitops.core.errors import GitOpsError

KIND_CLUSTER_NAME = "tasknote"
K3S_CONTEXT = "tasknote-k3s"
CONTEXT_PREFIX = "context:"
TARGET_HELP = ("kind, k3s or context:NAME (an existing kubeconfig context; it runs kind's tree "
               "unless --cluster-kind k3s)")
CLUSTER_KIND_HELP = "for --target context:NAME: which tree it runs, kind (default) or k3s"


def k3s_kubeconfig_path() -> Path:
    """Outside the repository: a kubeconfig holds a client key and must never be committed."""
    return Path.home() / ".kube" / "tasknote-k3s.yaml"


@dataclass(frozen=True)
class Target:
    """One cluster: which argocd/clusters/<cluster> tree it runs, and its kubeconfig context.

    `managed` says the automation creates (and may delete) the cluster itself; an existing
    context given with --target context:NAME is only ever used, never created or deleted.
    """

    cluster: str
    context: str
    kubeconfig: Path | None = None
    managed: bool = True

    @property
    def spec(self) -> str:
        """How to name this target on the command line."""
        return self.cluster if self.managed else f"{CONTEXT_PREFIX}{self.context}"

    def describe(self) -> str:
        if not self.managed:
            return f"existing context {self.context} (running argocd/clusters/{self.cluster})"
        where = f" in {self.kubeconfig}" if self.kubeconfig else ""
        return f"{self.cluster} cluster (context {self.context}{where})"


def resolve(cluster: str = "kind", context: str = "") -> Target:
    """The target of a cluster tree, optionally an existing context running it."""
    config.check_cluster(cluster)
    if context:
        return Target(cluster, context, None, managed=False)
    if cluster == "kind":
        return Target("kind", f"kind-{KIND_CLUSTER_NAME}")
    return Target("k3s", K3S_CONTEXT, k3s_kubeconfig_path())


def parse(spec: str, cluster_kind: str = "") -> Target:
    """`kind`, `k3s` or `context:NAME` (with cluster_kind naming the tree a context runs)."""
    if spec.startswith(CONTEXT_PREFIX):
        name = spec[len(CONTEXT_PREFIX):]
        if not name:
            raise GitOpsError("--target context: needs a context name, e.g. context:prod-eu.")
        return resolve(cluster_kind or "kind", context=name)
    if spec in config.CLUSTERS:
        if cluster_kind and cluster_kind != spec:
            raise GitOpsError(f"--cluster-kind {cluster_kind} contradicts --target {spec}; "
                              "drop --cluster-kind (it is for --target context:NAME).")
        return resolve(spec)
    raise GitOpsError(f"unknown target {spec!r}; use kind, k3s or context:NAME.")
