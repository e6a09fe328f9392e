"""invoke tasks of the `cluster` namespace: thin wrappers that parse arguments and call one function."""

from __future__ import annotations

from typing import Any

from invoke.collection import Collection

from gitops.core.errors import GitOpsError
from gitops.tasks._targets import (
    CLUSTER_KIND_HELP,
    DEPRECATED_CLUSTER_HELP,
    DEPRECATED_CONTEXT_HELP,
    TARGET_HELP,
    choose,
)
from gitops.tasks._task import task

# The cluster modules (requests for k3s, the kubernetes client) are imported inside each task:
# `./inv --list` and the other namespaces should not pay for them.

MANAGED_HELP = "kind or k3s: the cluster the automation creates and deletes (default kind)"


def managed(target: str, cluster: str) -> str:
    chosen = choose(target, cluster=cluster, default="kind")
    if not chosen.managed:
        raise GitOpsError(f"{chosen.spec} is an existing context; cluster.create and cluster.delete "
                          "only manage --target kind or --target k3s.")
    return chosen.cluster


@task(help={"target": MANAGED_HELP, "cluster": DEPRECATED_CLUSTER_HELP,
            "host": "k3s only: USER@HOST of the VPS to install the pinned k3s on over SSH",
            "adopt": "k3s only: k3s already runs on --host; just fetch its kubeconfig",
            "api_host": "k3s only: the name or address the kubeconfig uses for the API server "
                        "(default: the address in --host); added to the certificate's tls-san"})
def create(c: Any, target: str = "", cluster: str = "", host: str = "", adopt: bool = False,
           api_host: str = "") -> None:
    """Create a kind cluster from clusters/kind, or install/adopt k3s on a VPS."""
    from gitops.cluster import k3s, kind
    from gitops.core.repo import Repo

    if managed(target, cluster) == "kind":
        print(f"kind cluster ready; kubeconfig context {kind.create(Repo.discover())}")
        return
    if not host:
        raise GitOpsError("k3s needs --host USER@HOST (the VPS to install on or adopt).")
    repo = Repo.discover()
    path = k3s.adopt(repo, host, api_host) if adopt else k3s.install(repo, host, api_host)
    print(f"k3s kubeconfig written to {path} (mode 0600); export KUBECONFIG={path}")


@task(help={"target": MANAGED_HELP, "cluster": DEPRECATED_CLUSTER_HELP,
            "host": "k3s only: USER@HOST to uninstall k3s from"})
def delete(c: Any, target: str = "", cluster: str = "", host: str = "") -> None:
    """Delete the kind cluster, or uninstall k3s from the VPS (a second delete is a no-op)."""
    from gitops.cluster import k3s, kind
    from gitops.core.repo import Repo

    if managed(target, cluster) == "kind":
        repo = Repo.discover()
        print("kind cluster deleted" if kind.delete(repo) else "no kind cluster to delete")
        if kind.delete_registry(repo):
            print(f"registry container {kind.REGISTRY_CONTAINER} removed")
        from gitops.cluster import gitserver

        server = gitserver.default()
        if gitserver.delete(repo, server):
            # The published history stays: a new cluster restored from the same key re-uses it.
            print(f"Git server container {server.container} removed (history kept in {server.root})")
        return
    if not host:
        raise GitOpsError("k3s needs --host USER@HOST (the VPS to uninstall from).")
    k3s.uninstall(host)
    print(f"k3s removed from {host}")


@task(help={"target": f"{TARGET_HELP} (default kind)", "cluster-kind": CLUSTER_KIND_HELP,
            "cluster": DEPRECATED_CLUSTER_HELP, "context": DEPRECATED_CONTEXT_HELP})
def kubeconfig_(c: Any, target: str = "", cluster_kind: str = "", cluster: str = "",
                context: str = "") -> None:
    """Print the kubeconfig context (and file) of a cluster and check its API server answers."""
    from gitops.cluster import kubeconfig
    from gitops.core.repo import Repo

    chosen = choose(target, cluster_kind, cluster=cluster, context=context, default="kind")
    kubeconfig.require_reachable(Repo.discover(), chosen)
    print(chosen.context if chosen.kubeconfig is None else f"{chosen.context} in {chosen.kubeconfig}")


@task(help={"image": "a local image reference to load into the kind nodes (repeatable)"},
      iterable=["image"])
def load(c: Any, image: list[str]) -> None:
    """Load local images into the kind cluster's nodes (no registry needed)."""
    from gitops.cluster import kind
    from gitops.core.repo import Repo

    if not image:
        raise GitOpsError("give at least one --image REF to load.")
    for ref in kind.load_images(Repo.discover(), image):
        print(f"loaded {ref}")


ns = Collection("cluster")
ns.add_task(create)
ns.add_task(delete)
ns.add_task(kubeconfig_, name="kubeconfig")
ns.add_task(load)
