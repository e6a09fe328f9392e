"""Fixtures shared by the integration tests: the TaskNote image, built once per session."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from gitops.core import run
from gitops.images import app
from support.checkout import this_repo


@pytest.fixture(scope="session")
def tasknote_image() -> Iterator[str]:
    """apps/tasknote/Dockerfile built as `./inv images.build` builds it, under a tag of this run's
    own (the engine is shared), removed afterwards; BuildKit's cache keeps rebuilds quick."""
    tag = f"tasknote:it-{uuid.uuid4().hex[:8]}"
    app.build(this_repo(), app.local_spec(this_repo(), tag=tag), quiet=True)
    try:
        yield tag
    finally:
        run.run(["docker", "image", "rm", tag], check=False, timeout=60)
