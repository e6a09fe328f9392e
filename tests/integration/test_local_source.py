"""The local Git source end to end, with real containers: the Git server image built from the
air-gapped base, a real registry, a real publish of a clone of this repository, and a second
container on a user-defined Docker network doing what Argo CD's repo-server does (ls-remote,
clone, `git fetch origin <sha>`: argoproj/argo-cd util/git/client.go). Only the cluster itself
is missing here; its tests are in tests/e2e."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from gitops.cluster import gitserver, publish
from gitops.cluster.target import resolve
from gitops.core import run, tools
from gitops.core.repo import Repo
from gitops.images import registry
from gitops.lifecycle import bootstrap, devsync, localsource
from gitops.manifests.overlays import read_pin
from gitops.secrets import crypto, keys
from support.checkout import this_repo
from support.fakeport import FakePort
from support.gitrepo import git
from support.registry import running_registry
from support.sealing_testlib import unseal

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def docker() -> str:
    return str(tools.docker_engine(this_repo()))


@pytest.fixture(scope="module")
def server_image() -> str:
    return gitserver.ensure_image(this_repo())


@pytest.fixture
def network() -> Iterator[str]:
    name = f"tasknote-test-net-{uuid.uuid4().hex[:8]}"
    run.run([docker(), "network", "create", name])
    try:
        yield name
    finally:
        run.run([docker(), "network", "rm", name], check=False)


@pytest.fixture
def strict_umask() -> Iterator[None]:
    """A user whose files are private by default: the server (www-data) must still read them."""
    previous = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.fixture
def server(tmp_path: Path, network: str, server_image: str,
           strict_umask: None) -> Iterator[gitserver.GitServer]:
    spec = gitserver.GitServer(tmp_path / "served", container=f"tasknote-test-git-{uuid.uuid4().hex[:8]}",
                               network=network, image=server_image)
    try:
        yield gitserver.ensure(this_repo(), spec)
    finally:
        gitserver.delete(this_repo(), spec)


@pytest.fixture
def user_repo(tmp_path: Path) -> Path:
    """A clone of this repository with what a developer has lying around: a stash, a staged
    change and an unstaged one."""
    repo = tmp_path / "checkout"
    run.run(["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(repo)], timeout=120)
    (repo / "README.md").write_text((repo / "README.md").read_text() + "\nstashed line\n")
    git(repo, "stash", "push", "--quiet", "-m", "work in progress")
    (repo / "docs-note.txt").write_text("staged\n")
    git(repo, "add", "docs-note.txt")
    (repo / "versions.yaml").write_text((repo / "versions.yaml").read_text() + "# unstaged edit\n")
    return repo


@pytest.fixture(scope="module")
def cluster_key() -> tuple[Any, Any]:
    return crypto.generate_key_pair(key_size=2048)


def fingerprint_of(repo: Path) -> dict[str, str]:
    """sha256 of every file of the checkout, .git included (refs, index, stash, objects)."""
    return {str(p.relative_to(repo)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(repo.rglob("*")) if p.is_file() and not p.is_symlink()}


def in_client(network: str, image: str, script: str) -> str:
    """Run a shell script in ANOTHER container on the network (the Git server image has git)."""
    return run.run([docker(), "run", "--rm", "--network", network, "--entrypoint", "sh", image, "-c", script],
                   timeout=120).stdout


def registry_digest(host: str, tag: str) -> str:
    """The digest the registry itself reports (Docker-Content-Digest), independent of publish."""
    response = requests.get(f"http://{host}/v2/tasknote/manifests/{tag}",
                            headers={"Accept": registry.ACCEPT}, timeout=10)
    response.raise_for_status()
    return response.headers["Docker-Content-Digest"]


def test_server_image_builds_from_the_airgapped_base(server_image: str) -> None:
    if not gitserver.has_airgap_base(docker()):
        pytest.fail("debian:trixie-slim is not the air-gapped stand-in; run ./inv images.airgap")
    labels = yaml.safe_load(run.run([docker(), "image", "inspect", "-f", "{{json .Config.Labels}}",
                                     server_image]).stdout)
    # Labels are inherited from the base: the air-gap label proves which base it was built FROM.
    assert labels["org.tasknote.airgap"] == "true"
    assert labels[gitserver.INPUTS_LABEL] == gitserver.context_hash(gitserver.context_dir(this_repo()))


def test_publish_serves_one_commit_the_repo_server_can_fetch(
        user_repo: Path, server: gitserver.GitServer, network: str, server_image: str,
        cluster_key: tuple[Any, Any], request: pytest.FixtureRequest) -> None:
    key, cert = cluster_key
    before = fingerprint_of(user_repo)
    with running_registry() as host:
        push_name = f"{host}/tasknote"
        current = {"source_url": server.url, "cert": cert, "push_name": push_name}
        assert not publish.is_current(Repo.at(user_repo), server.bare_repo, **current)
        first = publish.publish(Repo.at(user_repo), server.bare_repo, source_url=server.url, cert=cert,
                                push_name=push_name)
        request.addfinalizer(lambda: run.run([docker(), "image", "rm", first.image.reference], check=False))
        assert first.created and first.image.built
        assert fingerprint_of(user_repo) == before, "publishing wrote into the user's checkout"

        # What the repo-server does, from another container on the network.
        url = server.url
        committed_url = yaml.safe_load((user_repo / "versions.yaml").read_text())["repository"]["url"]
        out = in_client(network, server_image, f"""set -e
git ls-remote {url}
git clone --quiet {url} /tmp/clone && git -C /tmp/clone rev-parse HEAD
mkdir /tmp/f && cd /tmp/f && git init --quiet
git fetch --quiet {url} {first.commit} && git rev-parse FETCH_HEAD
git -c protocol.version=0 fetch --quiet {url} {first.commit} && git rev-parse FETCH_HEAD
echo ---overlay && git show FETCH_HEAD:overlays/dev/kustomization.yaml
echo ---sealed && git show FETCH_HEAD:overlays/dev/sealed-secrets.yaml
echo ---root && git show FETCH_HEAD:argocd/clusters/kind/root.yaml
echo ---tree && git ls-tree -r --name-only FETCH_HEAD
echo ---still-naming-the-fork && (git grep -l {committed_url} FETCH_HEAD -- argocd versions.yaml || true)
""")
        refs, rest = out.split("---overlay\n")
        assert f"{first.commit}\trefs/heads/main" in refs
        assert refs.split().count(first.commit) >= 4  # ls-remote HEAD+main, clone, two fetches
        overlay, rest = rest.split("---sealed\n")
        sealed, rest = rest.split("---root\n")
        root_app, rest = rest.split("---tree\n")
        tree, still_naming = rest.split("---still-naming-the-fork\n")
        assert still_naming.split() == [], "the published Applications/AppProjects must read the local source"

        pin = read_pin(overlay, "tasknote")
        assert pin is not None
        assert pin.digest == registry_digest(host, publish.image_tag(first.source.app_tree))
        assert pin.new_name == push_name

        docs = [d for d in yaml.safe_load_all(sealed) if d]
        # Each dev SealedSecret decrypts with this cluster's key: the owner's credentials and
        # the app role's login (15a), both generated for this cluster.
        assert [d["metadata"]["name"] for d in docs] == ["tasknote-db", "tasknote-db-app"]
        owner, app_login = (unseal(key, doc) for doc in docs)
        assert owner["POSTGRES_PASSWORD"] and owner["POSTGRES_PASSWORD"].decode() in \
            owner["DATABASE_URL"].decode()
        assert app_login["DATABASE_URL"].decode().startswith("postgresql://tasknote_app:")

        assert yaml.safe_load(root_app)["spec"]["source"]["repoURL"] == url
        # HEAD's tree: the staged file and the unstaged edit are not in it.
        assert "docs-note.txt" not in tree.split()

        second = publish.publish(Repo.at(user_repo), server.bare_repo, source_url=server.url, cert=cert,
                                 push_name=push_name)
        assert (second.created, second.commit, second.image.built) == (False, first.commit, False)
        assert publish.is_current(Repo.at(user_repo), server.bare_repo, **current)
        checkout = Repo.at(user_repo)
        assert not publish.is_current(checkout, server.bare_repo, **current, include_uncommitted=True)
        head = run.run(["git", "--git-dir", str(server.bare_repo), "rev-parse", "refs/heads/main"]).stdout
        assert head.strip() == first.commit

        with_changes = publish.publish(Repo.at(user_repo), server.bare_repo, source_url=server.url, cert=cert,
                                       push_name=push_name, include_uncommitted=True)
        assert with_changes.created and not with_changes.image.built  # apps/tasknote did not change
        assert set(with_changes.changed) == {"docs-note.txt", "versions.yaml"}
        bare = ["git", "--git-dir", str(server.bare_repo)]
        parent = run.run([*bare, "rev-parse", f"{with_changes.commit}^"]).stdout.strip()
        assert parent == first.commit
        # The desired state dev.sync reports, rendered by kubectl kustomize at each published commit:
        # the first publish adds everything, a versions.yaml comment and a new file change no object.
        added = devsync.desired_changes(this_repo(), server.bare_repo, None, first.commit)
        assert "Deployment tasknote-dev/tasknote-api added (overlays/dev)" in map(str, added)
        assert any(c.kind == "Application" and c.where == "argocd/clusters/kind" for c in added)
        assert devsync.desired_changes(this_repo(), server.bare_repo, with_changes.parent,
                                       with_changes.commit) == []
        # Same cluster key: the database credentials PostgreSQL was initialised with are kept.
        shown = run.run([*bare, "show", f"{with_changes.commit}:overlays/dev/sealed-secrets.yaml"]).stdout
        assert shown == sealed
        assert fingerprint_of(user_repo) == before, "publishing wrote into the user's checkout"

        # A one-line app change: a new image, and the workloads running it change digest.
        module = user_repo / "apps" / "tasknote" / "src" / "tasknote" / "__init__.py"
        module.write_text(module.read_text() + "# a one-line change\n")
        git(user_repo, "commit", "--quiet", "-am", "a one-line app change")
        code = publish.publish(Repo.at(user_repo), server.bare_repo, source_url=server.url, cert=cert,
                               push_name=push_name)
        request.addfinalizer(lambda: run.run([docker(), "image", "rm", code.image.reference], check=False))
        assert code.created and code.image.built and code.image.digest != first.image.digest
        changes = devsync.desired_changes(this_repo(), server.bare_repo, code.parent, code.commit)
        rolled = set(map(str, changes))
        assert "Deployment tasknote-dev/tasknote-api changed (overlays/dev)" in rolled
        assert "Deployment tasknote-dev/tasknote-worker changed (overlays/dev)" in rolled

    # A sync pinned to an earlier commit still fetches it by id once main has moved on, also with
    # the v0 protocol, where only advertised tips are allowed unless the server says otherwise.
    older = in_client(network, server_image, f"""set -e
mkdir /tmp/o && cd /tmp/o && git init --quiet
git -c protocol.version=0 fetch --quiet {url} {first.commit} && git rev-parse FETCH_HEAD""")
    assert older.split() == [first.commit]

    refused = run.run([docker(), "run", "--rm", "--network", network, "--entrypoint", "sh", server_image,
                       "-c",
                       f"git clone --quiet {url} /tmp/c && cd /tmp/c && git -c user.name=x -c user.email=x@x "
                       "commit --quiet --allow-empty -m x && git push --quiet origin HEAD:refs/heads/main"],
                      check=False, timeout=120)
    assert refused.returncode != 0, "the Git server accepted a push over HTTP"


def test_bootstrap_steps_serve_the_checkout_and_point_the_root_app_at_it(
        user_repo: Path, server: gitserver.GitServer, network: str, server_image: str,
        cluster_key: tuple[Any, Any], request: pytest.FixtureRequest) -> None:
    """bootstrap's own git-source, publish and root-app steps, for real but for the cluster: the
    cluster port is its test fake (no Kubernetes here), holding the active sealing key Secret
    the sealing-key step would have applied (gitops.secrets.keys.key_secret's shape)."""
    key, cert = cluster_key
    port = FakePort()
    port.seed(keys.key_secret(key, cert, "sealed-secrets-key-test", "kube-system"))
    with running_registry() as host:
        loop = localsource.Loop(server, f"{host}/tasknote", f"{host}/tasknote")
        options = bootstrap.Options(progress=lambda _: None, loop=loop)
        steps = {s.name: s for s in bootstrap.build_steps(Repo.at(user_repo), resolve("kind"), options, port)}
        for name in ("git-source", "publish", "root-app"):
            check = steps[name].check
            assert check is not None
            assert name == "git-source" or not check(), f"{name} claims done before it ran"
            steps[name].do()
            assert check(), f"{name} ran but its check still fails"
        published = run.run(["git", "--git-dir", str(server.bare_repo), "rev-parse", "refs/heads/main"]
                            ).stdout.strip()
        tag = publish.image_tag(run.run(["git", "--git-dir", str(server.bare_repo), "rev-parse",
                                         f"{published}:apps/tasknote"]).stdout.strip())
        pushed = f"{host}/tasknote:{tag}"
        request.addfinalizer(lambda: run.run([docker(), "image", "rm", pushed], check=False))
        overlay = in_client(network, server_image, f"cd /tmp && git clone --quiet {server.url} c && "
                            "cat c/overlays/dev/kustomization.yaml")
        pin = read_pin(overlay, "tasknote")
        assert pin is not None and pin.digest == registry_digest(host, tag)
    [root] = [o for o in port.applied if o["kind"] == "Application"]
    assert root["spec"]["source"]["repoURL"] == server.url
