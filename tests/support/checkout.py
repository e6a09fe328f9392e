"""This checkout as the tests see it: its root and its Repo value (tests on copies make their own)."""

from __future__ import annotations

import functools
from pathlib import Path

from gitops.core.repo import Repo

ROOT = Path(__file__).resolve().parents[2]


@functools.cache
def this_repo() -> Repo:
    return Repo.at(ROOT)
