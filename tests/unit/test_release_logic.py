"""Pure parts of the release path: PR bodies, changed objects, build argv, branch names, GitHub config."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import yaml
from gitops.core.errors import GitOpsError
from gitops.delivery import gitflow, github, release
from gitops.images import app
from gitops.manifests.overlays import Pin

OLD = Pin("tasknote", "ghcr.io/acme/tasknote", "1.4.1", "sha256:" + "1" * 64)
NEW = Pin("tasknote", "ghcr.io/acme/tasknote", "1.4.2", "sha256:" + "2" * 64)
SHA = "0123456789abcdef0123456789abcdef01234567"

RENDER = """\
apiVersion: v1
kind: Service
metadata: {name: tasknote-api, namespace: tasknote-dev}
spec: {ports: [{port: 80}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: tasknote-api, namespace: tasknote-dev}
spec: {template: {spec: {containers: [{name: api, image: "IMAGE"}]}}}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: tasknote-summary, namespace: tasknote-dev}
spec: {jobTemplate: {spec: {template: {spec: {containers: [{name: s, image: "IMAGE"}]}}}}}
"""


def docs(text: str) -> list[object]:
    return list(yaml.safe_load_all(text))


def test_changed_objects_names_only_what_differs() -> None:
    before = docs(RENDER.replace("IMAGE", OLD.reference))
    after = docs(RENDER.replace("IMAGE", NEW.reference))
    assert release.changed_objects(before, after) == (
        "CronJob tasknote-dev/tasknote-summary", "Deployment tasknote-dev/tasknote-api")
    assert release.changed_objects(before, before) == ()


def test_changed_objects_counts_added_and_removed_objects() -> None:
    extra = "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: extra}\n"
    assert release.changed_objects(docs(RENDER), docs(RENDER + extra)) == ("ConfigMap extra",)


def test_pr_body_shows_old_and_new_version_digest_and_objects() -> None:
    body = release.pr_body("dev", OLD, NEW, ("Deployment tasknote-dev/tasknote-api",))
    for text in ("**dev**", "`1.4.1`", "`1.4.2`", OLD.digest, NEW.digest,
                 "- Deployment tasknote-dev/tasknote-api", "reverting it is the rollback"):
        assert text in body
    assert "| before | (unpinned)" in release.pr_body("dev", None, NEW, ())


def test_outcome_summary_lines() -> None:
    noop = release.Outcome("dev", OLD, OLD, noop=True)
    assert noop.summary() == f"dev already runs tasknote {OLD.tag}; nothing to do."
    done = release.Outcome("dev", OLD, NEW, branch="release/dev/x", commit=SHA,
                           pull_request=github.PullRequest(7, "https://github.com/acme/t/pull/7"))
    assert done.summary().splitlines() == [
        f"dev: tasknote {NEW.tag} (was {OLD.tag})",
        "branch release/dev/x, commit 0123456789ab",
        "pull request #7: https://github.com/acme/t/pull/7",
    ]


def test_pin_short_form_for_subjects() -> None:
    assert NEW.short() == "1.4.2@sha256:222222222222"


def test_unknown_image_is_one_sentence() -> None:
    with pytest.raises(GitOpsError, match=r"unknown image 'tasknote-api'; the overlays pin tasknote\."):
        release.check_image("tasknote-api")


@pytest.mark.parametrize("name", ["release/dev/tasknote-1.4.2-0123456789ab", "promote/prod/x_y.z"])
def test_good_branch_names(name: str) -> None:
    assert gitflow.check_branch_name(name) == name


@pytest.mark.parametrize("name", ["", "a..b", "/a", "a/", "a//b", "a.lock", "a b", "a~1", "a@{1}", "a."])
def test_bad_branch_names(name: str) -> None:
    with pytest.raises(GitOpsError, match="not a valid git branch name"):
        gitflow.check_branch_name(name)


def test_transaction_undoes_newest_first_and_reports_leftovers() -> None:
    done: list[str] = []
    tx = gitflow.Transaction()
    tx.add("first", lambda: done.append("first"))

    def broken() -> None:
        raise RuntimeError("cannot")

    tx.add("second", broken)
    tx.add("third", lambda: done.append("third"))
    assert tx.rollback() == ["second"]
    assert done == ["third", "first"]
    assert tx.rollback() == []  # nothing left to undo twice


def test_build_argv_tags_labels_and_ca_secret(tmp_path: Path) -> None:
    ca = tmp_path / "ca.crt"
    ca.write_text("cert")
    spec = app.release_plan("ghcr.io/acme/tasknote", "1.4.2", SHA, context=Path("apps/tasknote"), ca=ca,
                            source="https://github.com/acme/tasknote")
    argv = app.build_argv("docker", spec)
    assert argv[:2] == ["docker", "build"] and argv[-1] == "apps/tasknote"
    pairs = list(itertools.pairwise(argv))
    assert ("--tag", "ghcr.io/acme/tasknote:1.4.2") in pairs
    assert ("--tag", "ghcr.io/acme/tasknote:git-0123456789ab") in pairs
    assert ("--label", f"org.opencontainers.image.revision={SHA}") in pairs
    assert ("--label", "org.opencontainers.image.version=1.4.2") in pairs
    assert ("--label", "org.opencontainers.image.source=https://github.com/acme/tasknote") in pairs
    assert ("--secret", f"id=ca,src={ca}") in pairs
    assert "--push" not in argv


def test_build_argv_without_ca_and_multi_platform(tmp_path: Path) -> None:
    spec = app.release_plan("ghcr.io/acme/tasknote", "1.4.2", SHA, context=Path("ctx"),
                            platforms=("linux/amd64", "linux/arm64"))
    argv = app.build_argv("docker", spec)
    assert argv[:3] == ["docker", "buildx", "build"]
    assert "--secret" not in argv and "--push" in argv
    assert argv[argv.index("--platform") + 1] == "linux/amd64,linux/arm64"


@pytest.mark.parametrize(("image", "version", "revision", "match"), [
    ("ghcr.io/acme/tasknote", "1.4.2", "abc", "not a full git commit"),
    ("ghcr.io/acme/tasknote", "bad tag", SHA, "not a valid image tag"),
    ("ghcr.io/acme/tasknote:1.0", "1.4.2", SHA, "without tag or digest"),
])
def test_plan_refuses_bad_input(image: str, version: str, revision: str, match: str) -> None:
    with pytest.raises(GitOpsError, match=match):
        app.release_plan(image, version, revision, context=Path("ctx"))


def test_github_config_needs_a_token_and_a_repository() -> None:
    with pytest.raises(GitOpsError, match="GITHUB_TOKEN is not set"):
        github.from_env("acme/tasknote", {})
    with pytest.raises(GitOpsError, match="cannot tell which GitHub repository"):
        github.from_env(None, {"GITHUB_TOKEN": "t0ken-value"})
    gh = github.from_env(None, {"GITHUB_TOKEN": "t0ken-value", "GITHUB_REPOSITORY": "acme/tasknote"})
    assert (gh.api_url, gh.repository) == ("https://api.github.com", "acme/tasknote")
    assert "t0ken-value" not in repr(gh)
    enterprise = github.from_env("acme/x", {"GITHUB_TOKEN": "t", "GITHUB_API_URL": "https://ghe.example/api/v3"})
    assert enterprise.api_url == "https://ghe.example/api/v3"
