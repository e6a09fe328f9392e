"""Small readers of Kubernetes and Argo CD objects shared by the policy rules, the pin checks
(gitops.manifests.pins) and the schema validator. Standard library only, so importing it stays cheap."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

Doc = dict[str, Any]

# Paths of this repository an Argo CD source may deploy (its overlays, app-of-apps, bases
# and cluster configs): such a source tracks a branch by design and names our repoURL.
OUR_PATHS = ("overlays/", "argocd/", "base/", "clusters/")


def namespace_of(doc: Doc) -> str:
    return str((doc.get("metadata") or {}).get("namespace") or "")


def name_of(doc: Doc) -> str:
    return str((doc.get("metadata") or {}).get("name") or "")


def ref(kind: str, namespace: str, name: str) -> str:
    """kind/namespace/name as findings and schema problems print it (empty parts left out)."""
    return "/".join(p for p in (kind, namespace, name) if p)


def sources(doc: Doc) -> Iterator[tuple[dict[str, Any], str]]:
    """(source, field path) of an Argo CD Application: spec.source, then each spec.sources[i]."""
    spec = doc.get("spec") or {}
    if isinstance(spec.get("source"), dict):
        yield spec["source"], "spec.source"
    for i, source in enumerate(spec.get("sources") or []):
        if isinstance(source, dict):
            yield source, f"spec.sources[{i}]"


def is_ours(source: dict[str, Any]) -> bool:
    """A source inside this repository (its overlays or app-of-apps), which tracks a branch by design."""
    return str(source.get("path", "")).lstrip("./").startswith(OUR_PATHS)
