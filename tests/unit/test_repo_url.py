"""manifests.set-repo: a fork's URL lands everywhere the pins check looks, or nowhere."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from gitops.core import config, files
from gitops.core.errors import GitOpsError
from gitops.manifests import pins, repo_url
from support.checkout import ROOT
from support.repocopy import copy_repo

FORK = "https://git.example.org/someone/tasknote-gitops.git"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return copy_repo(tmp_path, ("versions.yaml", "argocd"))


def digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def repository_mismatches(root: Path) -> list[str]:
    versions = config.load_versions(root / "versions.yaml")
    return [str(m) for m in pins.check_repository(root, versions)]


def test_fork_url_replaces_every_reference_and_keeps_the_pins_consistent(repo: Path) -> None:
    old = repo_url.current_url(repo)
    changed = repo_url.retarget(repo, FORK)
    assert repo / "versions.yaml" in changed
    assert any("argocd/projects" in str(p) for p in changed)
    assert repo_url.current_url(repo) == FORK
    assert repository_mismatches(repo) == []
    assert not any(old in p.read_text() for p in repo.rglob("*.yaml"))


def test_only_the_url_line_changes_and_comments_stay(repo: Path) -> None:
    before = (repo / "versions.yaml").read_text().splitlines()
    repo_url.retarget(repo, FORK)
    after = (repo / "versions.yaml").read_text().splitlines()
    changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    old = repo_url.current_url(ROOT)
    assert changed == [(f"  url: {old}", f"  url: {FORK}")]


def test_second_run_changes_nothing(repo: Path) -> None:
    repo_url.retarget(repo, FORK)
    state = digest(repo)
    assert repo_url.retarget(repo, FORK) == []
    assert digest(repo) == state


@pytest.mark.parametrize("bad", ["", "not a url", "https://", "ftp://host/repo.git",
                                 "https://host/repo.git; rm -rf /"])
def test_bad_url_is_one_sentence_and_changes_nothing(repo: Path, bad: str) -> None:
    state = digest(repo)
    with pytest.raises(GitOpsError, match="is not a Git URL Argo CD can clone"):
        repo_url.retarget(repo, bad)
    assert digest(repo) == state


def test_failed_write_puts_back_the_files_already_written(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = digest(repo)
    real = files.atomic_write
    calls = {"n": 0}

    def fail_on_third(path: Path, data: bytes, mode: int | None = None) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError(28, "No space left on device", str(path))
        real(path, data, mode)

    monkeypatch.setattr(files, "atomic_write", fail_on_third)
    with pytest.raises(GitOpsError, match="nothing was changed"):
        repo_url.retarget(repo, FORK)
    assert digest(repo) == state
