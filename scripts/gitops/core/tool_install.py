"""Install a pinned CLI that PyPI does not carry (kind, kubeseal) into the project's own bin
directory, from the URL and sha256 versions.yaml pins for this OS and CPU.

versions.yaml says which platform each download is for: `platform: linux-amd64` beside a
tool's `url`/`sha256`, and optionally more under `platforms: {darwin-arm64: {url, sha256}}`.
A tool with no download for this platform is one sentence naming the platforms it has.
The binary is made executable only after core.download verified it, then renamed into place.
"""

from __future__ import annotations

import contextlib
import os
import platform
import tarfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitops.core.download import fetch_verified
from gitops.core.errors import GitOpsError
from gitops.core.files import atomic_write

# Relative to the repository root; gitignored. Per project, so two checkouts pinning
# different versions never overwrite each other's tools.
BIN_DIR = Path(".tools") / "bin"

ARCHES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}
ARCHIVES = (".tar.gz", ".tgz")

Fetch = Callable[..., Path]


@dataclass(frozen=True)
class Artifact:
    """One pinned download: a bare binary, or `member` inside a .tar.gz."""

    tool: str
    version: str
    url: str
    sha256: str
    member: str | None = None


def platform_key(system: str | None = None, machine: str | None = None) -> str:
    """linux-amd64, darwin-arm64, ...: the naming kind and sealed-secrets releases use."""
    os_name = (system or platform.system()).lower()
    cpu = (machine or platform.machine()).lower()
    return f"{os_name}-{ARCHES.get(cpu, cpu)}"


def downloads(entry: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """platform key -> {url, sha256} for one versions.yaml tools entry."""
    table = {str(k): dict(v) for k, v in (entry.get("platforms") or {}).items()}
    if entry.get("url") and entry.get("platform"):
        table.setdefault(str(entry["platform"]), {"url": entry["url"], "sha256": entry.get("sha256")})
    return table


def downloadable(entry: Mapping[str, Any]) -> bool:
    return bool(downloads(entry))


def artifact(name: str, entry: Mapping[str, Any], key: str) -> Artifact:
    """What to fetch for `name` on platform `key`, or one sentence saying why there is nothing."""
    version = str(entry.get("version", "?"))
    table = downloads(entry)
    if not table:
        raise GitOpsError(f"versions.yaml pins no download for {name}; install {name} {version} "
                          "onto your PATH.")
    chosen = table.get(key)
    if chosen is None:
        pinned = ", ".join(sorted(table))
        raise GitOpsError(f"versions.yaml pins {name} {version} downloads only for {pinned}, not {key}; "
                          f"install {name} {version} onto your PATH or add tools.{name}."
                          f"platforms.{key} with its url and sha256.")
    url, sha256 = str(chosen.get("url") or ""), str(chosen.get("sha256") or "")
    if not url or not sha256:
        raise GitOpsError(f"versions.yaml tools.{name} has no url and sha256 for {key}; "
                          "pin both before it can be downloaded.")
    member = name if url.endswith(ARCHIVES) else None
    return Artifact(name, version, url, sha256, member)


def archive_member(archive: Path, member: str) -> bytes:
    """The regular file called `member` (at any depth) inside a verified .tar.gz."""
    with tarfile.open(archive, "r:gz") as tar:
        for info in tar.getmembers():
            if info.isfile() and Path(info.name).name == member:
                handle = tar.extractfile(info)
                if handle is not None:
                    return handle.read()
    raise GitOpsError(f"{archive.name} holds no file named {member}; check the url pinned in versions.yaml.")


def install(art: Artifact, bin_dir: Path, *, fetch: Fetch = fetch_verified,
            progress: Callable[[str], None] = print) -> Path:
    """Fetch, verify, then make executable and rename onto bin_dir/<tool>; returns that path."""
    dest = bin_dir / art.tool
    staging = bin_dir / f".{art.tool}-{art.version}.verified"
    progress(f"downloading {art.tool} {art.version} from {art.url} into {bin_dir}")
    try:
        fetch(art.url, art.sha256, staging)
        if art.member:
            atomic_write(dest, archive_member(staging, art.member), mode=0o755)
        else:
            os.chmod(staging, 0o755)  # noqa: S103 - a verified program: executable is the point
            os.replace(staging, dest)
    finally:
        with contextlib.suppress(FileNotFoundError):
            staging.unlink()
    return dest

