"""Copies of parts of this repository, so a test can break them without touching the real files."""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path

from support.checkout import ROOT
from support.gitrepo import git


def copy_repo(dest: Path, names: Iterable[str]) -> Path:
    """Copy the top-level files and folders `names` of the repository into `dest`; returns dest."""
    for name in names:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name)
        else:
            shutil.copy2(src, dest / name)
    return dest


def clone_repo(dest: Path) -> Path:
    """A throw-away clone of this repository with its committed history (a local clone hardlinks
    the object files, which git never rewrites); uncommitted changes of the checkout stay out."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    git(dest.parent, "clone", "--quiet", str(ROOT), str(dest))
    return dest
