"""Point the repository's Argo CD objects at a fork: the one URL versions.yaml and argocd/ share.

A fork's cluster must read the fork, so every `repoURL:` and `sourceRepos:` entry naming the
current URL changes together with versions.yaml `repository.url`. The edit replaces the URL
where it stands as a whole YAML scalar, so comments, order and quoting stay as they were, and
every file is written only after every new text is ready; a failed write puts back the files
already written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from gitops.core import config, files
from gitops.core.errors import GitOpsError

# https://host/owner/repo(.git), ssh://git@host/... or git@host:owner/repo(.git): what Argo CD accepts.
URL_SHAPE = re.compile(r"^(https://[\w.-]+(:\d+)?/[\w./-]+|ssh://[\w.-]+@[\w.-]+(:\d+)?/[\w./-]+"
                       r"|[\w.-]+@[\w.-]+:[\w./-]+)$")


@dataclass(frozen=True)
class Edit:
    path: Path
    before: bytes
    after: bytes


def check_url(url: str) -> str:
    if not URL_SHAPE.match(url):
        raise GitOpsError(f"{url!r} is not a Git URL Argo CD can clone; use https://host/owner/repo.git "
                          "or git@host:owner/repo.git.")
    return url


def current_url(root: Path) -> str:
    url = (config.load_versions(root / "versions.yaml").get("repository") or {}).get("url")
    if not url:
        raise GitOpsError("versions.yaml has no repository.url; "
                          "add the URL Argo CD reads this repository from.")
    return str(url)


def replace_scalar(text: str, old: str, new: str) -> str:
    """`old` replaced where it is a whole YAML scalar value (plain or quoted), nowhere else."""
    pattern = re.compile(r"(?m)(?P<lead>(:|-)\s+)(?P<q>['\"]?)" + re.escape(old)
                         + r"(?P=q)(?P<tail>\s*(#.*)?)$")
    return pattern.sub(lambda m: f"{m['lead']}{m['q']}{new}{m['q']}{m['tail']}", text)


def plan(root: Path, new_url: str) -> list[Edit]:
    """The files that change and their new bytes; nothing is written."""
    old = current_url(root)
    new = check_url(new_url)
    candidates = [root / "versions.yaml", *sorted((root / "argocd").rglob("*.yaml"))]
    edits = []
    for path in candidates:
        before = path.read_bytes()
        after = replace_scalar(before.decode("utf-8"), old, new).encode("utf-8")
        if after != before:
            edits.append(Edit(path, before, after))
    return edits


def apply(edits: list[Edit]) -> None:
    """Write every edit; if one write fails, put back the files already written."""
    done: list[Edit] = []
    try:
        for edit in edits:
            files.atomic_write(edit.path, edit.after)
            done.append(edit)
    except BaseException:
        for edit in reversed(done):
            files.atomic_write(edit.path, edit.before)
        raise


def retarget(root: Path, new_url: str) -> list[Path]:
    """Point versions.yaml and argocd/ at `new_url`; returns the files changed (none when already there)."""
    edits = plan(root, new_url)
    try:
        apply(edits)
    except OSError as exc:
        raise GitOpsError(f"could not write {exc.filename or 'a file'} ({exc.strerror}); "
                          "nothing was changed, fix the cause and run it again.") from None
    return [e.path for e in edits]
