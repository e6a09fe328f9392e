"""`./inv bootstrap` as a user runs it, where a prerequisite is missing: one line, exit 1,
no traceback, fast. Docker is hidden through PATH, so this needs nothing but Python; the
integration tier runs the same command with the real Docker engine (then kind is missing)."""

import os
import sys
import time

from gitops.core import config, run


def test_bootstrap_without_docker_fails_fast_in_one_line() -> None:
    env = {**os.environ, "PATH": "/nonexistent"}
    started = time.monotonic()
    result = run.run([sys.executable, "-m", "invoke", "bootstrap"], cwd=config.ROOT, env=env, check=False,
                     timeout=30)
    elapsed = time.monotonic() - started
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: docker is not installed; docker >= 24.0 is needed:")
    assert "Traceback" not in result.stderr + result.stdout
    assert elapsed < 10


def test_dry_run_prints_the_plan_without_a_cluster() -> None:
    env = {**os.environ, "PATH": "/nonexistent"}
    result = run.run([sys.executable, "-m", "invoke", "bootstrap", "--dry-run"], cwd=config.ROOT, env=env,
                     timeout=30)
    out = result.stdout
    assert "bootstrap plan for the kind cluster (context kind-tasknote):" in out
    assert " 1. prerequisites  todo" in out and "docker is not installed" in out
    assert " 8. synced         todo  every Application Synced and Healthy  (after prerequisites)" in out
