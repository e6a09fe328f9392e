"""Copies of parts of this repository, so a test can break them without touching the real files."""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path

from support.checkout import ROOT


def copy_repo(dest: Path, names: Iterable[str]) -> Path:
    """Copy the top-level files and folders `names` of the repository into `dest`; returns dest."""
    for name in names:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name)
        else:
            shutil.copy2(src, dest / name)
    return dest
