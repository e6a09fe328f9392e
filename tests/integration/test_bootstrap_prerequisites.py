"""`./inv bootstrap` on a machine with a running Docker engine but no kind (this CI): whatever
stops it is one sentence, exit 1, no traceback, within 10 s, and nothing half-installed (not
even .tools/bin).

- This checkout as committed: Argo CD's install manifest has no recorded sha256 (it can only be
  recorded on a machine that reaches GitHub), so bootstrap stops at its prerequisites, before
  it downloads anything or creates a cluster.
- A copy with the checksum recorded: bootstrap tries to download the pinned kind, and says why
  it could not.

GitHub is not a target these tests may reach: downloads go through HTTPS_PROXY set to a loopback
port nothing listens on, which is exactly what an unreachable URL looks like to the client
(Python's urllib honours HTTPS_PROXY from the environment)."""

import os
import shutil
import sys
import time
from pathlib import Path

import pytest
import yaml
from gitops.core import run, tools
from support.checkout import ROOT, this_repo
from support.ports import free_port
from support.repocopy import copy_repo


def bootstrap(cwd: Path) -> tuple[run.Result, float]:
    proxy = f"http://127.0.0.1:{free_port()}"
    env = {**os.environ, "HTTPS_PROXY": proxy, "https_proxy": proxy, "NO_PROXY": "", "no_proxy": ""}
    started = time.monotonic()
    result = run.run([sys.executable, "-m", "invoke", "bootstrap"], cwd=cwd, env=env, check=False,
                     timeout=60)
    return result, time.monotonic() - started


def one_sentence(result: run.Result) -> str:
    assert result.returncode == 1
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.fixture
def fresh_machine() -> Path:
    bin_dir = tools.project_bin(this_repo())
    if shutil.which("kind") or bin_dir.exists():
        pytest.skip("kind or a .tools/bin exists here, so this is not a fresh machine")
    return bin_dir


def test_bootstrap_stops_before_anything_when_argocd_is_not_pinned_by_content(fresh_machine: Path) -> None:
    if this_repo().versions["platform"]["argocd"].get("install_sha256"):
        pytest.skip("versions.yaml records Argo CD's manifest checksum: the next test covers bootstrap")
    result, elapsed = bootstrap(ROOT)
    url = this_repo().versions["platform"]["argocd"]["url"]
    assert one_sentence(result) == (
        f"error: versions.yaml platform.argocd.install_sha256 is not a sha256 of {url}; record it "
        "(curl -fsSL URL | sha256sum, checked against the release) before bootstrap installs Argo CD.")
    assert not fresh_machine.exists()
    assert elapsed < 10


def test_bootstrap_without_kind_tries_the_pinned_download_and_says_why_it_failed(
        fresh_machine: Path, tmp_path: Path) -> None:
    (tmp_path / "repo").mkdir()
    copy = copy_repo(tmp_path / "repo", ["versions.yaml", "tasks.py", "argocd", "clusters"])
    versions = yaml.safe_load((copy / "versions.yaml").read_text())
    versions["platform"]["argocd"]["install_sha256"] = "ab" * 32  # recorded; never compared here
    (copy / "versions.yaml").write_text(yaml.safe_dump(versions, sort_keys=False))
    result, elapsed = bootstrap(copy)
    url = versions["tools"]["kind"]["url"]
    assert one_sentence(result) == (f"error: could not download {url} (connection failed); check the "
                                    "network or the URL pinned in versions.yaml.")
    assert not (copy / ".tools").exists() and not fresh_machine.exists()
    assert elapsed < 10
