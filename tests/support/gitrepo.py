"""git in a throw-away repository, independent of the machine's git configuration."""

from __future__ import annotations

from pathlib import Path

from gitops.core import run


def git(root: Path, *args: str) -> str:
    """Run git in `root` with a fixed identity and no signing (a developer's commit.gpgsign or
    missing user.email must not break a test); returns stdout without the trailing newline."""
    argv = ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@example.invalid",
            "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false", *args]
    return run.run(argv).stdout.strip()
