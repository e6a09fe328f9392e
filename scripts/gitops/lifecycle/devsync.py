"""The inner loop on kind: publish the checkout again, have Argo CD pick it up now, wait, report.

`./inv dev.sync` = gitops.cluster.publish (the image is rebuilt only when apps/tasknote's tree
changed: its tag is that tree's hash), then the Applications reading the local Git source get
the annotation `argocd.argoproj.io/refresh: normal`, which asks the application controller to
re-read Git now instead of at its next poll ("Indicates that app needs to be refreshed. Removed
by application controller after app is refreshed", https://argo-cd.readthedocs.io/en/latest/
user-guide/annotations-and-labels/), then waits until each of them reports the published commit
as its synced revision and every Application is Synced and Healthy (gitops.verify.reconcile).
It prints the objects the commit changed (the desired state: each kustomization the kind cluster
deploys, rendered at the previous and the new published commit and compared) and the time
taken. An unchanged checkout publishes nothing and ends after the publish check.
"""

from __future__ import annotations

import tarfile
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitops.cluster.port import ClusterPort
from gitops.core import run
from gitops.core.errors import GitOpsError
from gitops.core.repo import Repo
from gitops.manifests import render
from gitops.verify.reconcile import AppStatus, Snapshot, observe_cluster, wait_until_ready

Obj = dict[str, Any]
REFRESH_ANNOTATION = "argocd.argoproj.io/refresh"
ARGOCD_NAMESPACE = "argocd"
ARGO_API = "argoproj.io/v1alpha1"


def sources(app: Obj) -> list[Obj]:
    spec = app.get("spec") or {}
    return [spec["source"]] if spec.get("source") else list(spec.get("sources") or [])


def reads(app: Obj, url: str) -> bool:
    return any(s.get("repoURL") == url for s in sources(app))


def synced_revision(app: Obj) -> str:
    """status.sync.revision (one source) or the first of status.sync.revisions (several)."""
    sync = (app.get("status") or {}).get("sync") or {}
    return str(sync.get("revision") or next(iter(sync.get("revisions") or []), ""))


def at_revision(snapshot: Snapshot, apps: Iterable[Obj], url: str, commit: str) -> Snapshot:
    """The snapshot, with every Application that reads `url` but has not synced `commit` yet
    counted as not ready (it may still be Synced/Healthy at the previous commit)."""
    behind = {str(a["metadata"]["name"]): synced_revision(a) for a in apps
              if reads(a, url) and synced_revision(a) != commit}
    statuses = tuple(
        AppStatus(s.name, f"at {behind[s.name][:7] or 'none'}", s.health,
                  f"waiting for {commit[:7]}", s.children) if s.name in behind else s
        for s in snapshot.apps)
    return Snapshot(statuses, snapshot.workloads, snapshot.missing)


@dataclass(frozen=True)
class Change:
    where: str  # the kustomization it is rendered from, e.g. overlays/dev
    kind: str
    namespace: str
    name: str
    what: str  # added, changed or removed

    def __str__(self) -> str:
        at = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{self.kind} {at} {self.what} ({self.where})"


def identity(obj: Obj) -> tuple[str, str, str, str]:
    """(API group, kind, namespace, name): what Kubernetes calls one object."""
    api = str(obj.get("apiVersion") or "")
    meta = obj.get("metadata") or {}
    group = api.rpartition("/")[0]
    return group, str(obj.get("kind")), str(meta.get("namespace") or ""), str(meta.get("name"))


def object_changes(where: str, before: Iterable[Obj], after: Iterable[Obj]) -> list[Change]:
    """The objects a kustomization renders differently at two commits: the desired state that
    changed. (Argo CD's own syncResult cannot say this: with ServerSideApply=true, which dev uses,
    every applied object reports "serverside-applied", changed or not: kubectl's apply.go.)"""
    old = {identity(o): o for o in before}
    new = {identity(o): o for o in after}
    changes = []
    for key in sorted(old.keys() | new.keys()):
        what = "added" if key not in old else "removed" if key not in new else \
            "changed" if old[key] != new[key] else ""
        if what:
            changes.append(Change(where, key[1], key[2], key[3], what))
    return changes


# The kustomizations the kind cluster deploys from this repository: its app-of-apps and dev.
KIND_TARGETS = ("argocd/clusters/kind", "overlays/dev")


def rendered_at(repo: Repo, bare: Path, commit: str | None, names: Sequence[str] = KIND_TARGETS
                ) -> dict[str, list[Obj]]:
    """`kubectl kustomize` of each named target as a published commit holds it (none: empty)."""
    if commit is None:
        return {name: [] for name in names}
    with tempfile.TemporaryDirectory(prefix="tasknote-render-") as tmp:
        root = Path(tmp)
        tar = root / "tree.tar"
        run.run(["git", "--git-dir", str(bare), "archive", "--format=tar", f"--output={tar}", commit,
                 "base", "overlays", "argocd", "clusters"], timeout=120)
        with tarfile.open(tar) as archive:
            archive.extractall(root, filter="data")
        kubectl = render.kubectl(repo)
        chosen = [t for t in render.targets(root) if t.name in names]
        return {t.name: render.render_one(t, None, None, kubectl).docs for t in chosen}


def desired_changes(repo: Repo, bare: Path, before: str | None, after: str) -> list[Change]:
    old, new = rendered_at(repo, bare, before), rendered_at(repo, bare, after)
    return [c for name in KIND_TARGETS for c in object_changes(name, old.get(name, []), new.get(name, []))]


def refresh_patch() -> Obj:
    """The merge patch asking the application controller to re-read Git now."""
    return {"metadata": {"annotations": {REFRESH_ANNOTATION: "normal"}}}


@dataclass(frozen=True)
class SyncReport:
    commit: str
    published: bool
    image_built: bool
    image: str
    files: tuple[str, ...]
    changes: tuple[Change, ...]
    seconds: float

    def lines(self) -> list[str]:
        if not self.published:
            return [f"nothing changed: {self.commit[:12]} is already published and synced "
                    f"({self.seconds:.1f} s)"]
        out = [f"published {self.commit[:12]} ({'new image' if self.image_built else 'same image'} "
               f"{self.image})"]
        out += [f"  file  {path}" for path in self.files]
        out += [f"  object  {change}" for change in self.changes] or ["  no object changed"]
        out.append(f"dev.sync took {self.seconds:.0f} s")
        return out


def wait_for_commit(port: ClusterPort, *, url: str, commit: str, deadline_s: float,
                    progress: Callable[[str], None], clock: Callable[[], float] = time.monotonic,
                    sleep: Callable[[float], None] = time.sleep) -> None:
    """gitops.verify.reconcile's poll loop over snapshots where an Application reading `url` that
    has not synced `commit` yet counts as not ready."""
    observe = observe_cluster(port, ARGOCD_NAMESPACE)

    def observe_at_commit() -> Snapshot:
        return at_revision(observe(), port.list(ARGO_API, "Application", ARGOCD_NAMESPACE), url, commit)

    wait_until_ready(observe_at_commit, what=f"Argo CD to sync {commit[:12]}", deadline_s=deadline_s,
                     progress=progress, clock=clock, sleep=sleep)


def sync(port: ClusterPort, *, publish: Callable[[], Any], url: str,
         changes: Callable[[Any], list[Change]] = lambda published: [], deadline_s: float = 600,
         progress: Callable[[str], None] = print, clock: Callable[[], float] = time.monotonic,
         sleep: Callable[[float], None] = time.sleep) -> SyncReport:
    """Publish, refresh, wait, report. `publish` returns a gitops.cluster.publish.Published;
    `changes(published)` the objects its commit changes (desired_changes for the real thing)."""
    started = clock()
    progress("publishing the checkout to the local Git source ...")
    published = publish()
    image = f"{published.image.reference}@{published.image.digest}"
    apps = port.list(ARGO_API, "Application", ARGOCD_NAMESPACE)
    ours = sorted(str(a["metadata"]["name"]) for a in apps if reads(a, url))
    if not ours:
        raise GitOpsError(f"no Argo CD Application reads {url}; bootstrap the cluster with the local "
                          "source first (./inv bootstrap).")
    behind = [a for a in apps if reads(a, url) and synced_revision(a) != published.commit]
    if not published.created and not behind:
        return SyncReport(published.commit, False, published.image.built, image, (), (),
                          clock() - started)
    changed = tuple(changes(published)) if published.created else ()
    progress(f"published {published.commit[:12]} ({len(changed)} objects changed); asking Argo CD to "
             f"refresh {', '.join(ours)}")
    for name in ours:
        port.patch(ARGO_API, "Application", name, ARGOCD_NAMESPACE, refresh_patch())
    wait_for_commit(port, url=url, commit=published.commit, deadline_s=deadline_s, progress=progress,
                    clock=clock, sleep=sleep)
    return SyncReport(published.commit, True, published.image.built, image, published.changed, changed,
                      clock() - started)
