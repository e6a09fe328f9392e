"""Bad input and missing prerequisites end in one sentence that names the thing and the fix
(issue 14, defect 11): no traceback, no 180 s wait, no message pointing the wrong way. The
docker CLI, where its engine cannot run here, is replaced by recorded answers; git, the invoke
CLI and a loopback port are real."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from gitops.cluster import kubeconfig
from gitops.cluster.target import Target, resolve
from gitops.core import run
from gitops.core.errors import GitOpsError
from gitops.delivery import gitflow
from gitops.images import app
from gitops.lifecycle import bootstrap
from gitops.stack import compose
from gitops.verify import smoke_targets
from support.checkout import this_repo

REPO = this_repo()


def invoke(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "invoke", *args], cwd=REPO.root, capture_output=True,
                          text=True, timeout=120, check=False, env={**os.environ, "NO_COLOR": "1"})


def one_sentence(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_stack_up_with_an_impossible_port_is_one_sentence() -> None:
    assert "--port 99999 is not a TCP port; pass one from 1 to 65535." in one_sentence(
        invoke("stack.up", "--port", "99999"))
    with pytest.raises(GitOpsError, match="--port 0 is not a TCP port"):
        compose.Stack(REPO, port=0)


def test_bootstrap_with_a_missing_key_backup_fails_before_the_dry_run(tmp_path: Path) -> None:
    missing = tmp_path / "nonexistent"
    line = one_sentence(invoke("bootstrap", "--dry-run", "--key-backup", str(missing)))
    assert f"--key-backup {missing} is not a file" in line


def test_smoke_on_k3s_defaults_to_staging_and_refuses_dev() -> None:
    assert smoke_targets.environment_for(REPO, resolve("k3s"), "") == "staging"
    assert smoke_targets.environment_for(REPO, resolve("kind"), "") == "dev"
    assert smoke_targets.environment_for(REPO, resolve("k3s"), "prod") == "prod"
    with pytest.raises(GitOpsError, match=r"runs staging and prod, not dev; pass --env staging\."):
        smoke_targets.environment_for(REPO, resolve("k3s"), "dev")


def test_smoke_against_a_compose_stack_that_is_not_running_says_to_start_it() -> None:
    with socket.socket() as probe:  # a loopback port nothing listens on
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    with pytest.raises(GitOpsError) as error:
        smoke_targets.require_answering(url, timeout_s=1)
    assert str(error.value) == (f"nothing answers at {url}; start the stack with ./inv stack.up "
                                "(or set TASKNOTE_COMPOSE_URL to where it runs).")


def test_image_inspect_with_docker_down_names_the_daemon(monkeypatch: pytest.MonkeyPatch) -> None:
    down = "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?"

    def docker(argv: list[str], **_: Any) -> run.Result:
        return run.Result(tuple(argv), 1, "", down)

    monkeypatch.setattr(run, "run", docker)
    with pytest.raises(GitOpsError, match="the Docker daemon is not answering; start it"):
        app.inspect("ghcr.io/acme/tasknote:1.0", build_with="./inv images.build")


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def test_missing_git_remote_says_so(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    with pytest.raises(GitOpsError) as error:
        gitflow.ensure_branch_absent(tmp_path, "release/dev-1.0.0", "bad")
    assert str(error.value) == ("the repository has no remote named bad; add it (git remote add bad URL) "
                                "or use --no-pr.")


def test_unreachable_git_remote_gives_gits_reason_not_its_advice(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    git(tmp_path, "remote", "add", "origin", str(tmp_path / "gone.git"))
    with pytest.raises(GitOpsError) as error:
        gitflow.ensure_branch_absent(tmp_path, "release/dev-1.0.0", "origin")
    message = str(error.value)
    assert message.startswith("cannot reach remote origin (fatal: ")
    assert "repository exists" not in message and "git remote get-url origin" in message


def test_missing_k3s_context_names_the_required_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kubeconfig, "contexts", lambda kubeconfig_path=None: [])
    with pytest.raises(GitOpsError) as error:
        kubeconfig.require_reachable(REPO, Target("k3s", "tasknote-k3s", Path("/nonexistent/kubeconfig")))
    assert "./inv cluster.create --target k3s --host USER@HOST." in str(error.value)


def test_k3s_dry_run_lists_no_kind_only_steps() -> None:
    steps = [s.name for s in bootstrap.build_steps(REPO, Target("k3s", "tasknote-k3s"), bootstrap.Options())]
    assert steps == ["prerequisites", "cluster", "argocd", "app-health", "sealing-key", "root-app", "synced"]
    kind = Target("kind", "kind-tasknote")
    kind_steps = [s.name for s in bootstrap.build_steps(REPO, kind, bootstrap.Options())]
    assert {"tools", "registry", "images"} <= set(kind_steps)
