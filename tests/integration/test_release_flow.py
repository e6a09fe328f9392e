"""Release path end to end against real pieces: a registry on loopback, git with a bare remote.

- Registry: the locally built `registry:2` image (Debian's docker-registry, the air-gapped
  stand-in for the upstream image) on a random loopback port. A tiny image (FROM
  debian:trixie-slim) is built and pushed to it with `app.build`/`push.push`.
- Git: a throw-away repository in tmp_path with a minimal base + dev/staging/prod overlays of the
  shape the real ones have (images: block with comments), and a local bare repository as origin.
- GitHub's REST API is the one boundary that cannot run here: a local http.server in this file
  STANDS IN FOR GITHUB (POST /repos/{owner}/{repo}/pulls) and records what it was sent.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from gitops.core import run, tools
from gitops.core.errors import GitOpsError
from gitops.core.repo import Repo
from gitops.delivery import release
from gitops.delivery.release import Options
from gitops.images import app, push
from gitops.manifests import overlays
from gitops.manifests.overlays import Pin
from support.checkout import ROOT, this_repo
from support.gitrepo import git
from support.localhttp import QuietHandler, serve
from support.ports import free_port
from support.registry import running_registry
from support.repocopy import copy_repo

TOKEN = "stand-in-github-token"


# ---------------------------------------------------------------------------------------------
# A real registry and two pushed versions
# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def registry_host() -> Iterator[str]:
    with running_registry() as host:
        yield host


@pytest.fixture(scope="module")
def pushed(registry_host: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Versions 1.0.0 and 1.1.0 of a tiny image, pushed; version → the digest push returned."""
    image = f"{registry_host}/tasknote"
    digests: dict[str, str] = {}
    built: list[str] = []
    try:
        for version in ("1.0.0", "1.1.0"):
            context = tmp_path_factory.mktemp(f"ctx-{version}")
            (context / "Dockerfile").write_text(
                f"FROM debian:trixie-slim\nRUN echo 'tasknote {version}' > /version\n")
            git(context, "init", "-q")
            git(context, "commit", "-q", "--allow-empty", "-m", "context")
            spec = app.release_plan(image, version, app.git_commit(context), context=context)
            app.build(this_repo(), spec, quiet=True)
            built += list(spec.refs)
            digests[version] = push.push(this_repo(), image, list(spec.tags))
        yield digests
    finally:
        run.run(["docker", "image", "rm", "-f", *built], check=False)


def test_push_returns_the_digest_the_registry_serves(registry_host: str, pushed: dict[str, str]) -> None:
    image = f"{registry_host}/tasknote"
    inspect = run.run(["docker", "image", "inspect", "--format", "{{json .RepoDigests}}", f"{image}:1.1.0"])
    assert f"{image}@{pushed['1.1.0']}" in json.loads(inspect.stdout)
    from gitops.images import registry

    assert registry.resolve(image, "1.1.0") == pushed["1.1.0"] != pushed["1.0.0"]
    labels = run.run(["docker", "image", "inspect", "--format", "{{json .Config.Labels}}", f"{image}:1.1.0"])
    assert json.loads(labels.stdout)["org.opencontainers.image.version"] == "1.1.0"


# ---------------------------------------------------------------------------------------------
# A throw-away GitOps repository with a bare origin
# ---------------------------------------------------------------------------------------------

# The repository's real desired state, so the bump's manifests.check gate (render, schemas,
# policy) runs on what people deploy; only the app pin points at the loopback registry.
STATE = ("base", "overlays", "argocd", "clusters", "schemas", "versions.yaml", ".gitignore")


@dataclass
class Clone:
    path: Path
    origin: Path

    def overlay(self, env: str) -> Path:
        return self.path / "overlays" / env / "kustomization.yaml"

    def fingerprint(self) -> dict[str, Any]:
        """Every byte of the working tree plus the refs of both repositories and HEAD."""
        files = {}
        for item in sorted(self.path.rglob("*")):
            parts = item.relative_to(self.path).parts
            if ".git" in parts or ".cache" in parts or not item.is_file():
                continue
            files[str(item.relative_to(self.path))] = hashlib.sha256(item.read_bytes()).hexdigest()
        return {
            "files": files,
            "head": git(self.path, "symbolic-ref", "HEAD"),
            "refs": git(self.path, "for-each-ref", "--format=%(refname) %(objectname)"),
            "origin": git(self.origin, "for-each-ref", "--format=%(refname) %(objectname)"),
            "status": git(self.path, "status", "--porcelain"),
        }


@pytest.fixture
def repo(tmp_path: Path, registry_host: str, pushed: dict[str, str]) -> Clone:
    path, origin = tmp_path / "work", tmp_path / "origin.git"
    path.mkdir()
    copy_repo(path, STATE)
    for env in ("dev", "staging", "prod"):
        overlay = path / "overlays" / env / "kustomization.yaml"
        pin = Pin("tasknote", f"{registry_host}/tasknote", "1.0.0", pushed["1.0.0"])
        overlay.write_text(overlays.set_pin(overlay.read_text(), pin))
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
    git(tmp_path, "init", "-q", "-b", "main", str(path))
    git(path, "config", "user.name", "Release Test")
    git(path, "config", "user.email", "release-test@example.invalid")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "initial state")
    git(path, "remote", "add", "origin", str(origin))
    git(path, "push", "-q", "origin", "main")
    return Clone(path, origin)


# ---------------------------------------------------------------------------------------------
# GitHub stand-in
# ---------------------------------------------------------------------------------------------

@dataclass
class GitHubStandIn:
    """Stands in for GitHub's REST API (POST /repos/{owner}/{repo}/pulls); records requests."""

    url: str = ""
    status: int = 201
    received: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
def github_stand_in() -> Iterator[GitHubStandIn]:
    state = GitHubStandIn()

    class Handler(QuietHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            state.received.append({"path": self.path, "headers": dict(self.headers), "json": body})
            if state.status == 201:
                answer = {"number": 7, "html_url": "https://github.example/acme/tasknote/pull/7"}
            else:
                answer = {"message": "Validation Failed"}
            self.reply_json(state.status, answer)

    with serve(Handler) as base_url:
        state.url = base_url
        yield state


def options(repo: Clone, gh: GitHubStandIn | None = None, **env: str) -> Options:
    variables = {"DOCKER_CONFIG": str(repo.path.parent / "no-docker-config")}
    if gh is not None:
        variables |= {"GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": gh.url, "GITHUB_REPOSITORY": "acme/tasknote"}
    variables |= env
    return Options(repo=Repo.at(repo.path), pull_request=gh is not None, env=variables)


def kustomize(overlay: Path) -> str:
    return run.run([str(tools.require("kubectl", this_repo())), "kustomize", str(overlay)]).stdout


# ---------------------------------------------------------------------------------------------
# Must show: push → resolve → bump → kubectl kustomize shows the pushed digest
# ---------------------------------------------------------------------------------------------

def test_bump_pins_the_digest_the_push_returned(repo: Clone, registry_host: str,
                                                pushed: dict[str, str]) -> None:
    outcome = release.bump("dev", "tasknote", "1.1.0", opts=options(repo))
    expected = f"image: {registry_host}/tasknote:1.1.0@{pushed['1.1.0']}"
    assert expected in kustomize(repo.overlay("dev").parent)
    assert outcome.new.digest == pushed["1.1.0"] and outcome.old is not None
    # Every workload running the app image changes, nothing else.
    assert "Deployment tasknote-dev/tasknote-api" in outcome.changed
    assert set(outcome.changed) <= {
        "Deployment tasknote-dev/tasknote-api", "Deployment tasknote-dev/tasknote-worker",
        "CronJob tasknote-dev/tasknote-summary", "Job tasknote-dev/tasknote-migrate"}
    assert git(repo.path, "symbolic-ref", "--short", "HEAD") == outcome.branch
    subject = git(repo.path, "log", "-1", "--format=%s")
    assert subject == (f"dev: tasknote 1.1.0@{pushed['1.1.0'][:19]}… (was 1.0.0@{pushed['1.0.0'][:19]}…)")
    assert git(repo.path, "status", "--porcelain") == ""
    # Only the newTag line changed; comments are where they were.
    diff = git(repo.path, "diff", "HEAD~1", "--unified=0", "--", "overlays/dev/kustomization.yaml")
    assert [line for line in diff.splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---")] == [
        f'-    newTag: "1.0.0@{pushed["1.0.0"]}"', f'+    newTag: "1.1.0@{pushed["1.1.0"]}"']


def test_bump_pushes_the_branch_and_opens_a_pull_request(repo: Clone, github_stand_in: GitHubStandIn,
                                                         pushed: dict[str, str]) -> None:
    outcome = release.bump("dev", "tasknote", "1.1.0", opts=options(repo, github_stand_in))
    assert outcome.pull_request is not None and outcome.pull_request.number == 7
    assert outcome.branch is not None
    assert git(repo.origin, "rev-parse", f"refs/heads/{outcome.branch}") == outcome.commit
    pushed_subject = git(repo.origin, "log", "-1", "--format=%s", outcome.branch)
    assert pushed_subject.startswith("dev: tasknote 1.1.0@sha256:")
    [request] = github_stand_in.received
    assert request["path"] == "/repos/acme/tasknote/pulls"
    assert request["headers"]["Authorization"] == f"Bearer {TOKEN}"
    sent = request["json"]
    assert (sent["head"], sent["base"]) == (outcome.branch, "main")
    assert sent["title"] == git(repo.path, "log", "-1", "--format=%s")
    changed = "Deployment tasknote-dev/tasknote-api"
    for text in (pushed["1.0.0"], pushed["1.1.0"], "`1.0.0`", "`1.1.0`", changed):
        assert text in sent["body"]
    assert TOKEN not in outcome.summary()


def test_bumping_to_the_deployed_digest_is_a_no_op(repo: Clone) -> None:
    before = repo.fingerprint()
    outcome = release.bump("dev", "tasknote", "1.0.0", opts=options(repo))
    assert outcome.noop and "already runs tasknote 1.0.0@" in outcome.summary()
    assert repo.fingerprint() == before


def test_promote_copies_the_exact_digest_one_step_up(repo: Clone, pushed: dict[str, str]) -> None:
    release.bump("dev", "tasknote", "1.1.0", opts=options(repo))
    outcome = release.promote("dev", "staging", opts=options(repo))
    staging = repo.overlay("staging").read_text()
    assert f'newTag: "1.1.0@{pushed["1.1.0"]}"' in staging
    original = (ROOT / "overlays/staging/kustomization.yaml").read_text()
    comments = [line for line in original.splitlines() if line.lstrip().startswith("#")]
    assert comments and all(line in staging.splitlines() for line in comments)
    assert git(repo.path, "log", "-1", "--format=%s").startswith("staging: tasknote 1.1.0@sha256:")
    assert "from dev" in git(repo.path, "log", "-1", "--format=%s") and outcome.branch
    before = repo.fingerprint()
    with pytest.raises(GitOpsError, match="one step at a time"):
        release.promote("dev", "prod", opts=options(repo))
    with pytest.raises(GitOpsError, match="only what dev runs can be promoted"):
        release.promote("dev", "staging", digest=pushed["1.0.0"], opts=options(repo))
    assert repo.fingerprint() == before


def test_promote_keeps_the_target_registry_and_needs_the_digest_there(repo: Clone,
                                                                       registry_host: str) -> None:
    staging = repo.overlay("staging")
    elsewhere = f"{registry_host}/prod/tasknote"
    staging.write_text(staging.read_text().replace(f"{registry_host}/tasknote", elsewhere))
    git(repo.path, "commit", "-q", "-am", "staging pulls from another repository")
    release.bump("dev", "tasknote", "1.1.0", opts=options(repo))
    attempt(repo, lambda: release.promote("dev", "staging", opts=options(repo)),
            f"registry {registry_host} has no digest sha256:[0-9a-f]+ for prod/tasknote; push it first")


def test_rollback_puts_back_the_previous_pin(repo: Clone, pushed: dict[str, str]) -> None:
    bumped = release.bump("dev", "tasknote", "1.1.0", opts=options(repo))
    outcome = release.rollback("dev", opts=options(repo))
    assert outcome.new.digest == pushed["1.0.0"]
    assert f'newTag: "1.0.0@{pushed["1.0.0"]}"' in repo.overlay("dev").read_text()
    assert f"rollback of {(bumped.commit or '')[:12]}" in git(repo.path, "log", "-1", "--format=%s")


# ---------------------------------------------------------------------------------------------
# Bad input: one sentence, non-zero, and the tree (and refs, local and remote) exactly as before
# ---------------------------------------------------------------------------------------------

def branch_for(pushed: dict[str, str]) -> str:
    return f"release/dev/tasknote-1.1.0-{pushed['1.1.0'][7:19]}"


def attempt(repo: Clone, call: Any, match: str) -> None:
    before = repo.fingerprint()
    with pytest.raises(GitOpsError, match=match) as info:
        call()
    message = str(info.value)
    assert "\n" not in message and message.endswith("."), message
    assert TOKEN not in message
    assert repo.fingerprint() == before


def test_a_bump_that_fails_manifests_check_changes_nothing(repo: Clone) -> None:
    """The gate runs the real render + schema + policy check on the edited overlay."""
    api = repo.path / "base" / "tasknote" / "api-deployment.yaml"
    doc = yaml.safe_load(api.read_text())
    del doc["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]
    api.write_text(yaml.safe_dump(doc, sort_keys=False))
    git(repo.path, "commit", "-q", "-am", "someone dropped the readiness probe")
    attempt(repo, lambda: release.bump("dev", "tasknote", "1.1.0", opts=options(repo)),
            r"the bumped overlay fails manifests.check: .*TN004.*tasknote-api.*nothing was changed")


def test_unknown_environment(repo: Clone) -> None:
    attempt(repo, lambda: release.bump("qa", "tasknote", "1.1.0", opts=options(repo)),
            "unknown environment 'qa'")


def test_unknown_image(repo: Clone) -> None:
    attempt(repo, lambda: release.bump("dev", "nginx", "1.1.0", opts=options(repo)), "unknown image 'nginx'")


def test_tag_the_registry_does_not_have(repo: Clone, registry_host: str) -> None:
    attempt(repo, lambda: release.bump("dev", "tasknote", "9.9.9", opts=options(repo)),
            f"registry {registry_host} has no tag 9.9.9 for tasknote; push it first")


def test_malformed_digest(repo: Clone) -> None:
    attempt(repo, lambda: release.promote("dev", "staging", digest="sha256:12ab", opts=options(repo)),
            "not a sha256 digest")


def test_malformed_tag(repo: Clone) -> None:
    attempt(repo, lambda: release.bump("dev", "tasknote", "1.1.0@sha256:x", opts=options(repo)),
            "not a valid image tag")


def test_dirty_working_tree(repo: Clone) -> None:
    (repo.path / "notes.txt").write_text("work in progress\n")
    attempt(repo, lambda: release.bump("dev", "tasknote", "1.1.0", opts=options(repo)),
            "uncommitted changes")


def test_existing_local_branch(repo: Clone, pushed: dict[str, str]) -> None:
    git(repo.path, "branch", branch_for(pushed))
    attempt(repo, lambda: release.bump("dev", "tasknote", "1.1.0", opts=options(repo)),
            "already exists locally")


def test_existing_remote_branch(repo: Clone, pushed: dict[str, str], github_stand_in: GitHubStandIn) -> None:
    git(repo.path, "push", "-q", "origin", f"main:refs/heads/{branch_for(pushed)}")
    attempt(repo, lambda: release.bump("dev", "tasknote", "1.1.0", opts=options(repo, github_stand_in)),
            "already exists on origin")
    assert github_stand_in.received == []


def test_network_error_reaching_the_registry(repo: Clone) -> None:
    port = free_port()
    attempt(repo, lambda: release.bump("dev", "tasknote", "1.1.0", f"127.0.0.1:{port}", opts=options(repo)),
            f"cannot reach 127.0.0.1:{port}")


def test_missing_github_token(repo: Clone, github_stand_in: GitHubStandIn) -> None:
    attempt(repo, lambda: release.bump("dev", "tasknote", "1.1.0",
                                       opts=options(repo, github_stand_in, GITHUB_TOKEN="")),
            "GITHUB_TOKEN is not set")


def test_push_rejected_by_the_remote_rolls_everything_back(repo: Clone, github_stand_in: GitHubStandIn,
                                                           ) -> None:
    hook = repo.origin / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'pushes are frozen' >&2\nexit 1\n")
    hook.chmod(0o755)
    attempt(repo, lambda: release.bump("dev", "tasknote", "1.1.0", opts=options(repo, github_stand_in)),
            "git push of release/dev/tasknote-1.1.0-.* failed .*nothing was changed")
    assert github_stand_in.received == []


def test_pull_request_refused_rolls_back_the_pushed_branch(repo: Clone, github_stand_in: GitHubStandIn,
                                                           ) -> None:
    github_stand_in.status = 422
    attempt(repo, lambda: release.bump("dev", "tasknote", "1.1.0", opts=options(repo, github_stand_in)),
            r"GitHub refused the pull request .* \(HTTP 422: Validation Failed\); nothing was changed")
    assert len(github_stand_in.received) == 1  # it was asked, then the branch was deleted again


def test_github_unreachable_rolls_back(repo: Clone, github_stand_in: GitHubStandIn) -> None:
    github_stand_in.url = f"http://127.0.0.1:{free_port()}"
    attempt(repo, lambda: release.bump("dev", "tasknote", "1.1.0", opts=options(repo, github_stand_in)),
            "cannot reach the GitHub API")
