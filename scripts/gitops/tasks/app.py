"""invoke tasks of the `app` namespace: thin wrappers that parse arguments and call one function.

The app image is built by `./inv images.build` (one build command for local and release images).
"""

from __future__ import annotations

from typing import Any

from invoke.collection import Collection

from gitops.tasks._task import task


@task(help={
    "tier": "run only this tier of the app's tests: unit or integration (default: both)",
    "k": "only tests whose names match this pytest -k expression",
})
def test(c: Any, tier: str = "", k: str = "") -> None:
    """Run the app's own tests (apps/tasknote/tests); a tier whose prerequisite is missing skips."""
    from gitops.core import run
    from gitops.core.repo import Repo
    from gitops.tasks.dev import pytest_argv

    argv = pytest_argv("apps/tasknote/tests", tier=tier, k=k, tiers=("unit", "integration"),
                       what="app test tier")
    # A failing run raises run.CommandError, itself a GitOpsError naming the command.
    run.stream(argv, cwd=Repo.discover().root, timeout=3600)


ns = Collection("app", test)
