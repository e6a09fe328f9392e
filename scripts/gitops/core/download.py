"""Download one pinned file and install it only when its sha256 is the pinned one.

Used for the pinned CLIs (kind, kubeseal) and for any pinned artefact fetched at run time
(the Argo CD install manifest). The bytes go to a temporary file beside `dest` and are
hashed while they stream; only a file whose sha256 matches is renamed onto `dest`, so a
mismatch, a dropped connection or an unreachable URL leaves nothing behind and an existing
`dest` byte-identical. The file is written 0644: making a tool executable is the caller's
step, after this function returned (gitops.core.tool_install).
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import re
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from gitops.core.errors import GitOpsError

SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
CHUNK = 1 << 20
# The standard library's client, not requests: core is imported by every task (./inv --list
# must stay light), and urllib honours HTTPS_PROXY/NO_PROXY from the environment the same way.
FETCH_ERRORS = (urllib.error.URLError, http.client.HTTPException, OSError)


def _reason(exc: BaseException) -> str:
    """A short cause for the one-sentence error, without the library's nested reprs."""
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code}"
    if isinstance(exc, TimeoutError) or isinstance(getattr(exc, "reason", None), TimeoutError):
        return "timed out"
    if isinstance(exc, http.client.IncompleteRead):
        return "connection closed before the end of the file"
    return "connection failed"


def fetch_verified(url: str, sha256: str, dest: Path, *, timeout: float = 60) -> Path:
    """Download `url` to `dest` if and only if its sha256 is `sha256`; returns `dest`.

    Raises one GitOpsError sentence when the URL cannot be fetched or the checksum differs;
    in both cases nothing new exists on disk afterwards.
    """
    want = sha256.strip().lower()
    if not SHA256_HEX.match(want):
        raise GitOpsError(f"the pinned sha256 for {url} is {sha256!r}, not 64 hex digits; "
                          "fix it in versions.yaml.")
    if not url.startswith(("https://", "http://")):
        raise GitOpsError(f"{url} is not an http(s) URL; pin the download's URL in versions.yaml.")
    created = [p for p in (dest.parent, *dest.parent.parents) if not p.exists()]
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    tmp = Path(tmp_name)
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as handle:
            # S310: the scheme was checked above (http or https only).
            request = urllib.request.Request(url, headers={"User-Agent": "tasknote-gitops"})  # noqa: S310
            received = 0
            try:
                # A fresh opener reads HTTPS_PROXY/NO_PROXY now: urlopen's shared one keeps
                # whatever the environment said at the first download of the process.
                opener = urllib.request.build_opener()
                with opener.open(request, timeout=timeout) as response:
                    announced = response.headers.get("Content-Length")
                    while chunk := response.read(CHUNK):
                        digest.update(chunk)
                        handle.write(chunk)
                        received += len(chunk)
                if announced is not None and received != int(announced):
                    raise http.client.IncompleteRead(b"", int(announced) - received)
            except FETCH_ERRORS as exc:
                raise GitOpsError(f"could not download {url} ({_reason(exc)}); check the network "
                                  "or the URL pinned in versions.yaml.") from None
            handle.flush()
            os.fsync(handle.fileno())
        got = digest.hexdigest()
        if got != want:
            raise GitOpsError(f"{url} has sha256 {got}, not the pinned {want}; refusing it (nothing was "
                              "installed): check the URL and sha256 pinned in versions.yaml.")
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        for folder in created:  # innermost first; only what this call made, only if still empty
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise
    return dest
