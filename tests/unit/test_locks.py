"""The image's locks are resolved for the image's interpreter, hash-pinned, and their build
backend comes from the app's own [build-system]."""

import re
import tomllib
from pathlib import Path

import pytest
from gitops.core import lockfiles
from gitops.core.errors import GitOpsError
from gitops.manifests import pins
from support.checkout import this_repo


def test_image_lock_argv_targets_the_image_python_with_hashes() -> None:
    argv = lockfiles.image_lock_argv(["pyproject.toml"], "requirements.lock")
    assert argv[argv.index("--python-version") + 1] == "3.13"
    assert argv[argv.index("--python-platform") + 1] == "x86_64-unknown-linux-gnu"
    assert "--generate-hashes" in argv
    assert argv[-2:] == ["-o", "requirements.lock"]


def test_build_requirements_read_from_the_app_pyproject() -> None:
    requires = lockfiles.build_requirements(this_repo().app / "pyproject.toml")
    assert any(r.startswith("setuptools") for r in requires)


def test_pyproject_without_build_system_is_one_sentence(tmp_path: Path) -> None:
    bad = tmp_path / "pyproject.toml"
    bad.write_text('[project]\nname = "x"\n')
    with pytest.raises(GitOpsError, match=r"no \[build-system\] requires"):
        lockfiles.build_requirements(bad)


@pytest.mark.parametrize("name", ["requirements.lock", "build-requirements.lock"])
def test_committed_image_locks_pin_every_package_with_a_hash(name: str) -> None:
    text = (this_repo().app / name).read_text()
    pinned = pins.lock_pins(text)
    assert pinned, f"{name} pins nothing"
    blocks = [b for b in text.split("\n") if "==" in b and not b.startswith("#")]
    assert len(blocks) == len(pinned)
    assert text.count("--hash=sha256:") >= len(pinned)


def test_app_lock_covers_every_runtime_dependency() -> None:
    project = tomllib.loads((this_repo().app / "pyproject.toml").read_text())["project"]
    pinned = pins.lock_pins((this_repo().app / "requirements.lock").read_text())
    for requirement in project["dependencies"]:
        name = re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0]
        normalised = re.sub(r"[-_.]+", "-", name).lower()
        assert normalised in pinned, f"{name} is not in the app lock; run ./inv dev.lock"
