"""The Argo CD install manifest bootstrap applies, pinned by content: downloaded from the URL in
versions.yaml platform.argocd, used only when its sha256 is the one recorded there, and applied
from the verified file (never `kubectl apply -f <url>`, which would apply whatever the URL
serves at that moment)."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gitops.core.download import fetch_verified
from gitops.core.errors import GitOpsError


@dataclass(frozen=True)
class ArgocdPin:
    version: str
    url: str
    sha256: str


def version_of(versions: dict[str, Any]) -> str:
    """The pinned Argo CD version (v stripped): what the running server's image must say."""
    entry = (versions.get("platform") or {}).get("argocd")
    if not isinstance(entry, dict) or not entry.get("version"):
        raise GitOpsError("versions.yaml has no platform.argocd.version; pin Argo CD there.")
    return str(entry["version"]).lstrip("v")


def image_has_version(image: str, version: str) -> bool:
    tag = image.split("@", 1)[0].rsplit(":", 1)[-1]
    return tag.lstrip("v") == version


def pin_of(versions: dict[str, Any]) -> ArgocdPin:
    """platform.argocd of versions.yaml; one sentence naming what is missing."""
    entry = (versions.get("platform") or {}).get("argocd")
    if not isinstance(entry, dict) or not entry.get("version") or not entry.get("url"):
        raise GitOpsError("versions.yaml has no platform.argocd version and url; pin Argo CD there.")
    sha256 = str(entry.get("install_sha256") or "").strip().lower()
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise GitOpsError(f"versions.yaml platform.argocd.install_sha256 is not a sha256 of {entry['url']}; "
                          "record it (curl -fsSL URL | sha256sum, checked against the release) before "
                          "bootstrap installs Argo CD.")
    return ArgocdPin(version_of(versions), str(entry["url"]), sha256)


def fetch(versions: dict[str, Any], dest_dir: Path,
          download: Callable[[str, str, Path], Path] = fetch_verified) -> Path:
    """The verified install manifest in dest_dir (install-<version>.yaml)."""
    pin = pin_of(versions)
    return download(pin.url, pin.sha256, dest_dir / f"argocd-install-{pin.version}.yaml")


def objects(versions: dict[str, Any]) -> list[dict[str, Any]]:
    """The objects of the verified install manifest (downloaded beside nothing else, checked,
    parsed, the file gone again)."""
    with tempfile.TemporaryDirectory(prefix="tasknote-argocd-") as tmp:
        text = fetch(versions, Path(tmp)).read_text(encoding="utf-8")
    return [d for d in yaml.safe_load_all(text) if isinstance(d, dict)]
