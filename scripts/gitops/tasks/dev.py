"""Developer tasks: the test command, linters and the lock file."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from invoke.collection import Collection

from gitops.core.errors import GitOpsError
from gitops.tasks._task import task

# gitops.core.run and gitops.core.lockfiles are imported inside the tasks: `./inv --list` and every other task
# should not pay for them.


def python_tool(module: str) -> list[str]:
    return [sys.executable, "-m", module]


def pytest_argv(*paths: str, tier: str, k: str, tiers: tuple[str, ...], what: str = "tier") -> list[str]:
    """pytest over `paths`, one tier (a marker) and a -k expression; `tiers` are the known markers."""
    argv = [*python_tool("pytest"), *paths]
    if tier:
        if tier not in tiers:
            raise GitOpsError(f"unknown {what} {tier!r}; use {', '.join(tiers[:-1])} or {tiers[-1]}.")
        argv += ["-m", tier]
    if k:
        argv += ["-k", k]
    return argv


def run_linters(root: Path) -> None:
    from gitops.core import run

    run.stream([*python_tool("ruff"), "check", "."], cwd=root)
    run.stream([*python_tool("mypy")], cwd=root)


@task(help={})
def lint(c: Any) -> None:
    """Run ruff over the repository and mypy (strict) over scripts/gitops."""
    from gitops.core.repo import Repo

    run_linters(Repo.discover().root)


@task(
    help={
        "tier": "run only this tier: unit, manifests, integration or e2e (default: all)",
        "k": "only tests whose names match this pytest -k expression",
        "lint": "run ruff and mypy first (default: on; --no-lint skips them)",
    }
)
def test(c: Any, tier: str = "", k: str = "", lint: bool = True) -> None:
    """The test command: ruff, mypy, then pytest over every tier this machine can run."""
    from gitops.core import run
    from gitops.core.repo import Repo

    root = Repo.discover().root
    if lint:
        run_linters(root)
    argv = pytest_argv(tier=tier, k=k, tiers=("unit", "manifests", "integration", "e2e"))
    # A failing run raises run.CommandError, itself a GitOpsError naming the command.
    run.stream(argv, cwd=root, timeout=3 * 3600)


@task(help={})
def lock(c: Any) -> None:
    """Regenerate the hash-pinned locks: requirements.lock (this repository's tools, from the two
    pyproject.toml files) and apps/tasknote/requirements.lock + build-requirements.lock (the image's
    runtime dependencies and build backend, resolved for Python 3.13 on Linux x86_64)."""
    from gitops.core import lockfiles
    from gitops.core.repo import Repo

    root = Repo.discover().root
    for path in lockfiles.regenerate(root):
        print(f"wrote {path.relative_to(root)}")


@task(
    help={
        "uncommitted": "also publish uncommitted changes: modified, deleted and new files not ignored "
                       "by .gitignore (default: HEAD only). Your working tree, index and branches are "
                       "never touched",
        "timeout": "seconds to wait for Argo CD to sync the published commit (default 600)",
    }
)
def sync(c: Any, uncommitted: bool = False, timeout: int = 600) -> None:
    """Re-publish the checkout to the kind cluster's local Git source and wait for the rollout:
    the app image is rebuilt only when apps/tasknote changed; an unchanged checkout is a no-op."""
    from gitops.cluster.target import resolve
    from gitops.core.repo import Repo
    from gitops.lifecycle import localsource

    report = localsource.sync(Repo.discover(), resolve("kind"), include_uncommitted=uncommitted,
                              deadline_s=timeout)
    for line in report.lines():
        print(line)


TASKS = [test]
ns = Collection("dev", lint, lock, sync)
