"""`./inv bootstrap` on a machine with a running Docker engine but no kind (this CI): the
one-sentence message users see, exit 1, no traceback, within 10 s."""

import shutil
import time

import pytest
from gitops.core import run
from support.checkout import ROOT


def test_bootstrap_without_kind_says_how_to_get_it() -> None:
    if shutil.which("kind"):
        pytest.skip("kind is installed here, so bootstrap would not stop at the kind check")
    started = time.monotonic()
    result = run.run([str(ROOT / "inv"), "bootstrap"], cwd=ROOT, check=False, timeout=60)
    elapsed = time.monotonic() - started
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: kind is not installed; kind 0.33.0 is needed: download "
                               "https://github.com/kubernetes-sigs/kind/releases/download/v0.33.0/")
    assert "sha256" in lines[0] and "Traceback" not in result.stderr + result.stdout
    assert elapsed < 10
