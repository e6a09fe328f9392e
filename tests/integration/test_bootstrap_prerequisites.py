"""`./inv bootstrap` on a machine with a running Docker engine but no kind (this CI): bootstrap
tries to download the pinned kind, and when it cannot, the user sees one sentence naming the
URL, exit 1, no traceback, within 10 s, and nothing half-installed (not even .tools/bin).

GitHub is not a target this test may reach: the download goes through HTTPS_PROXY set to a
loopback port nothing listens on, which is exactly what an unreachable URL looks like to the
client (Python's urllib honours HTTPS_PROXY from the environment)."""

import os
import shutil
import time

import pytest
from gitops.core import run, tools
from support.checkout import ROOT, this_repo
from support.ports import free_port


def test_bootstrap_without_kind_tries_the_pinned_download_and_says_why_it_failed() -> None:
    bin_dir = tools.project_bin(this_repo())
    if shutil.which("kind") or bin_dir.exists():
        pytest.skip("kind or a .tools/bin exists here, so this is not a fresh machine")
    proxy = f"http://127.0.0.1:{free_port()}"
    env = {**os.environ, "HTTPS_PROXY": proxy, "https_proxy": proxy, "NO_PROXY": "", "no_proxy": ""}
    started = time.monotonic()
    result = run.run([str(ROOT / "inv"), "bootstrap"], cwd=ROOT, env=env, check=False, timeout=60)
    elapsed = time.monotonic() - started
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    url = this_repo().versions["tools"]["kind"]["url"]
    assert lines[0] == (f"error: could not download {url} (connection failed); check the network or the "
                        "URL pinned in versions.yaml.")
    assert "Traceback" not in result.stderr + result.stdout
    assert not bin_dir.exists()
    assert elapsed < 10
