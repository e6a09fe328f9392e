"""Rules on the Argo CD objects: automated sync, and revisions that do not move."""

from __future__ import annotations

import re

from gitops.manifests.objects import is_ours, sources
from gitops.manifests.policy.model import Context, Doc
from gitops.manifests.policy.walkers import Found

MUTABLE_REVISIONS = frozenset({"", "HEAD", "main", "master", "latest", "*"})


def argocd_automated(doc: Doc, ctx: Context) -> Found:
    if doc.get("kind") != "Application":
        return
    auto = ((doc.get("spec") or {}).get("syncPolicy") or {}).get("automated")
    if not isinstance(auto, dict) or auto.get("enabled") is False:
        yield "spec.syncPolicy.automated", "the Application is not synced automatically"
        return
    missing = [k for k in ("prune", "selfHeal") if auto.get(k) is not True]
    if missing:
        yield "spec.syncPolicy.automated", f"automated sync without {' and '.join(missing)}"


def pinned_revision(revision: str) -> bool:
    """A version (v3.2.0, 0.33.1) or commit, not a branch, HEAD, wildcard or range."""
    if revision in MUTABLE_REVISIONS or not re.search(r"\d", revision):
        return False
    return re.search(r"[*^~<>|]|\.x\b|\.X\b", revision) is None


def argocd_pinned_revision(doc: Doc, ctx: Context) -> Found:
    if doc.get("kind") != "Application":
        return
    for source, path in sources(doc):
        if is_ours(source):
            continue
        revision = str(source.get("targetRevision", ""))
        what = f"chart {source['chart']}" if source.get("chart") else str(source.get("repoURL", "?"))
        if not pinned_revision(revision):
            yield f"{path}.targetRevision", (f"platform source {what} follows {revision or 'HEAD'!r}, "
                                             "not a pinned version")

