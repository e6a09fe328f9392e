"""Checksummed downloads: a file fetched over the network is used only when its sha256 is the
pinned one, and a failed or refused download leaves nothing at the destination."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import requests

from gitops.core.errors import GitOpsError

CHUNK = 1 << 20


def fetch_verified(url: str, sha256: str, dest: Path, *, timeout: float = 60) -> Path:
    """Stream url into a temp file beside dest, check its sha256, then rename it onto dest."""
    if not sha256:
        raise GitOpsError(f"no sha256 is recorded for {url}; record it in versions.yaml before downloading.")
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as handle:
            try:
                with requests.get(url, stream=True, timeout=timeout) as response:
                    response.raise_for_status()
                    for chunk in response.iter_content(CHUNK):
                        digest.update(chunk)
                        handle.write(chunk)
            except requests.HTTPError as exc:
                raise GitOpsError(f"downloading {url} failed with HTTP {exc.response.status_code}; "
                                  "check the URL pinned in versions.yaml.") from None
            except requests.RequestException as exc:
                raise GitOpsError(f"cannot download {url} ({type(exc).__name__}); check the network "
                                  "or proxy settings and retry.") from None
        if digest.hexdigest() != sha256.lower():
            raise GitOpsError(f"{url} has sha256 {digest.hexdigest()}, not the pinned {sha256}; "
                              "refusing it (check the pin in versions.yaml and the upstream release).")
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return dest
