"""`./inv bootstrap` as a user runs it, where a prerequisite is missing: one line, exit 1,
no traceback, fast. Docker is hidden through PATH, so this needs nothing but Python; the
integration tier runs the same command with the real Docker engine (then kind is missing)."""

import os
import sys
import time

from gitops.core import run
from support.checkout import ROOT


def test_bootstrap_without_docker_fails_fast_in_one_line() -> None:
    env = {**os.environ, "PATH": "/nonexistent"}
    started = time.monotonic()
    result = run.run([sys.executable, "-m", "invoke", "bootstrap"], cwd=ROOT, env=env, check=False,
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
    result = run.run([sys.executable, "-m", "invoke", "bootstrap", "--dry-run"], cwd=ROOT, env=env,
                     timeout=30)
    out = result.stdout
    assert "bootstrap plan for the kind cluster (context kind-tasknote):" in out
    assert " 1. prerequisites  todo" in out and "docker is not installed" in out
    assert " 2. tools          todo  kind at the pinned version, else downloaded into .tools/bin" in out
    assert " 7. app-health     todo  argocd-cm has the Application health check" in out
    assert "10. synced         todo  every Application Synced and Healthy  (after prerequisites)" in out


def test_old_cluster_option_still_works_with_a_one_line_deprecation() -> None:
    env = {**os.environ, "PATH": "/nonexistent"}
    result = run.run([sys.executable, "-m", "invoke", "bootstrap", "--cluster", "k3s", "--dry-run"], cwd=ROOT,
                     env=env, timeout=30)
    assert result.stderr.strip() == "deprecated: --cluster/--context will go away; use --target k3s"
    assert "bootstrap plan for the k3s cluster (context tasknote-k3s" in result.stdout


def test_target_context_runs_the_named_tree() -> None:
    env = {**os.environ, "PATH": "/nonexistent"}
    result = run.run([sys.executable, "-m", "invoke", "bootstrap", "--target", "context:prod-eu",
                      "--cluster-kind", "k3s", "--dry-run"], cwd=ROOT, env=env, timeout=30)
    assert "bootstrap plan for the existing context prod-eu (running argocd/clusters/k3s):" in result.stdout
    assert result.stderr == ""
