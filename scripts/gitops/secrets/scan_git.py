"""Git and file plumbing of the secret scanner: which files, their lines as a stream, the lines
each commit added, and blob contents (the one `git cat-file --batch`)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path

from gitops.core import run

# Every local branch and tag by default: a secret on a side branch leaks as soon as it is pushed.
ALL_REFS = ("--all",)


def text_lines(data: bytes) -> list[str] | None:
    """A blob's lines, or None for binary content (a NUL byte in the first 8 KiB, as git does)."""
    if b"\0" in data[:8192]:
        return None
    return [line.removesuffix("\r") for line in data.decode("utf-8", errors="replace").split("\n")]


def file_lines(file: Path) -> Iterator[str] | None:
    """A file's lines streamed from disk, whatever its size; None for a binary file."""
    with file.open("rb") as handle:
        if b"\0" in handle.read(8192):
            return None

    def stream() -> Iterator[str]:
        with file.open("rb") as handle:
            for raw in handle:
                yield raw.decode("utf-8", errors="replace").rstrip("\n").removesuffix("\r")

    return stream()


def git(root: Path, *args: str, input_text: str | None = None) -> str:
    return run.run(["git", "-C", str(root), *args], input_text=input_text, timeout=300).stdout


def tree_files(root: Path, staged: bool = False) -> list[str]:
    if staged:
        out = git(root, "diff", "--cached", "--name-only", "--diff-filter=ACMR", "-z")
    else:
        out = git(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    return sorted({p for p in out.split("\0") if p})


_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,\d+)? @@")


def added_lines(log: str) -> Iterator[tuple[str, str, list[tuple[int, str]]]]:
    """(commit, path, [(line number, text)]) for each file each commit touched, from `git log -p -U0`."""
    commit, path, number = "", "", 0
    current: list[tuple[int, str]] = []

    def flush() -> Iterator[tuple[str, str, list[tuple[int, str]]]]:
        if path and current:
            yield commit, path, list(current)

    for line in log.split("\n"):
        if line.startswith("commit ") and len(line) == 47:
            yield from flush()
            commit, path, current = line[7:], "", []
        elif line.startswith("+++ "):
            yield from flush()
            current = []
            path = line[6:] if line.startswith("+++ b/") else ""
        elif line.startswith("@@"):
            match = _HUNK.match(line)
            number = int(match.group(1)) if match else 0
        elif line.startswith("+") and path:
            current.append((number, line[1:]))
            number += 1
    yield from flush()


def history_objects(root: Path, refs: Sequence[str] = ALL_REFS) -> dict[str, str]:
    """Every blob reachable from `refs` with a path it had: {blob id: path}."""
    blobs: dict[str, str] = {}
    for line in git(root, "rev-list", *refs, "--objects").splitlines():
        sha, _, path = line.partition(" ")
        if path and sha not in blobs:
            blobs[sha] = path
    return blobs


def read_blobs(root: Path, shas: Sequence[str]) -> dict[str, bytes]:
    """The content of each blob, through one `git cat-file --batch`.

    The runner hands back text (invalid UTF-8 replaced), which can change byte lengths, so each
    blob is cut at the next blob's header rather than at the size git announced."""
    if not shas:
        return {}
    raw = git(root, "cat-file", "--batch", input_text="".join(f"{s}\n" for s in shas))
    starts: list[tuple[str, int, int]] = []
    pos = 0
    for sha in shas:
        header = raw.find(f"{sha} blob ", pos)
        if header < 0:
            continue  # not a blob (or missing): nothing to scan
        body = raw.index("\n", header) + 1
        starts.append((sha, header, body))
        pos = body
    out: dict[str, bytes] = {}
    for index, (sha, _, body) in enumerate(starts):
        end = starts[index + 1][1] if index + 1 < len(starts) else len(raw)
        out[sha] = raw[body:end].removesuffix("\n").encode("utf-8")
    return out
