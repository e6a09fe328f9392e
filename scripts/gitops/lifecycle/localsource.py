"""The local GitOps loop for the kind target: which source Argo CD reads, and publishing to it.

Default on kind: the local Git server (gitops.cluster.gitserver) serving what
gitops.cluster.publish made of the user's checkout. `--source <git URL>` keeps the fork-based
path: the committed Applications are applied as they are and nothing is published. This module
only wires the pieces to a cluster (its sealing key, the kind registry, the Applications);
the pieces themselves are tested on their own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gitops.cluster import devsecrets, gitserver, publish
from gitops.cluster.kind_sites import DEVELOPER, NODE_REGISTRY_HOST, KindSite
from gitops.cluster.port import ClusterPort, Port
from gitops.cluster.target import Target
from gitops.core.errors import GitOpsError
from gitops.core.repo import Repo
from gitops.lifecycle import devsync
from gitops.manifests import repo_url
from gitops.secrets import keys

SEALING_KEY_SELECTOR = "sealedsecrets.bitnami.com/sealed-secrets-key=active"


@dataclass(frozen=True)
class Source:
    """Where Argo CD reads this cluster's manifests from."""

    url: str
    local: bool  # True: the local Git server, published by us; False: a fork the user pushes to

    def describe(self) -> str:
        return f"the local Git source {self.url}" if self.local else f"the Git remote {self.url}"


def choose(repo: Repo, source: str = "", *, local_url: str = "") -> Source:
    """`--source URL` wins; else the local Git source where there can be one (`local_url`: only
    for the kind cluster bootstrap manages, whose Docker network the server joins); else
    versions.yaml's URL."""
    if source:
        return Source(repo_url.check_url(source), local=False)
    if local_url:
        return Source(local_url, local=True)
    return Source(str(repo.version_of("repository", "url")), local=False)


def root_application_text(text: str, committed_url: str, source: Source) -> str:
    """root.yaml as it is applied: its repoURL pointed at the chosen source (the same edit the
    published tree carries, so the self-managed root app does not flip back on its first sync)."""
    if source.url == committed_url:
        return text
    after = repo_url.replace_scalar(text, committed_url, source.url)
    if after == text:
        raise GitOpsError(f"the root Application does not name {committed_url}; run ./inv manifests.check "
                          "and fix argocd/clusters/<cluster>/root.yaml.")
    return after


def cluster_certificate(repo: Repo, port: ClusterPort) -> Any:
    secrets = port.list("v1", "Secret", keys.controller_namespace(repo), SEALING_KEY_SELECTOR)
    return devsecrets.active_certificate(secrets)


@dataclass(frozen=True)
class Loop:
    """Where one kind site's local loop lives: its Git server, where this machine pushes the app
    image, and the name the nodes pull it by (the one the published overlay pins)."""

    server: gitserver.GitServer
    push_name: str
    pull_name: str


def loop_for(site: KindSite = DEVELOPER) -> Loop:
    """The developer's site pushes and pulls localhost:5001/tasknote; conformance's pushes to its
    own host port while its nodes still pull localhost:5001 (gitops.cluster.kind_sites)."""
    return Loop(gitserver.for_site(site), f"{site.push_host}/{publish.APP_IMAGE}",
                f"{NODE_REGISTRY_HOST}/{publish.APP_IMAGE}")


def publish_checkout(repo: Repo, port: ClusterPort, loop: Loop, *, include_uncommitted: bool = False,
                     progress: Callable[[str], None] = print) -> publish.Published:
    """Start the Git server if needed and publish the checkout sealed for this cluster's key."""
    running = gitserver.ensure(repo, loop.server)
    return publish.publish(repo, running.bare_repo, source_url=running.url,
                           cert=cluster_certificate(repo, port), push_name=loop.push_name,
                           pull_name=loop.pull_name, include_uncommitted=include_uncommitted,
                           progress=progress)


def published(repo: Repo, port: ClusterPort, loop: Loop, *, include_uncommitted: bool = False) -> bool:
    """Bootstrap's check: the server answers and serves what publishing now would serve."""
    if not gitserver.ready(repo, loop.server):
        return False
    return publish.is_current(repo, loop.server.bare_repo, source_url=loop.server.url,
                              cert=cluster_certificate(repo, port), push_name=loop.push_name,
                              pull_name=loop.pull_name, include_uncommitted=include_uncommitted)


def describe(result: publish.Published) -> str:
    what = "published" if result.created else "already published"
    image = "built and pushed" if result.image.built else "already in the registry"
    return (f"{what} {result.commit[:12]} from {result.source.head[:12]}"
            f"{' plus uncommitted changes' if result.source.uncommitted else ''}; "
            f"image {result.image.reference}@{result.image.digest[:19]} {image}")


def sync(repo: Repo, target: Target, *, include_uncommitted: bool = False, deadline_s: float = 600,
         progress: Callable[[str], None] = print, port: ClusterPort | None = None) -> devsync.SyncReport:
    """`./inv dev.sync`: publish again, refresh the Applications, wait, report."""
    if target.cluster != "kind":
        raise GitOpsError("dev.sync publishes to the kind cluster's local Git source; other clusters "
                          "deploy through Git pull requests (./inv release.bump).")
    loop = loop_for(DEVELOPER)
    server = loop.server
    if not gitserver.ready(repo, server):
        raise GitOpsError(f"the local Git source {server.container} is not running; run ./inv bootstrap "
                          "first (it starts it and publishes the first commit).")
    the_port = port or Port(repo, target)

    def publish_now() -> publish.Published:
        return publish_checkout(repo, the_port, loop, include_uncommitted=include_uncommitted,
                                progress=progress)

    def changes(result: publish.Published) -> list[devsync.Change]:
        return devsync.desired_changes(repo, server.bare_repo, result.parent, result.commit)

    return devsync.sync(the_port, url=server.url, deadline_s=deadline_s, progress=progress,
                        publish=publish_now, changes=changes)
