"""The local Git source's pure parts: which SealedSecrets the published commit carries, how
dev.sync reads Applications (through the cluster port's test fake, tests/support/fakeport.py:
the cluster is the boundary we cannot run here), and the Git server's container command line. The Applications
are tests/fixtures/cluster/applications-healthy.json (see its README for where the shape comes
from) pointed at the local source; syncResult.resources entries follow Argo CD's
ResourceResult (argoproj/argo-cd pkg/apis/application/v1alpha1/types.go)."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from gitops.cluster import devsecrets, gitserver
from gitops.core.errors import GitOpsError
from gitops.lifecycle import devsync, localsource
from gitops.secrets import crypto, keys, sealing
from gitops.verify.reconcile import assess
from support.checkout import this_repo
from support.fakeport import FakePort
from support.sealing_testlib import unseal

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "cluster"
URL = gitserver.repo_url()
# Commit ids: what the recorded Applications synced (OLD) and one published after it (NEW).
HEALTHY = json.loads((FIXTURES / "applications-healthy.json").read_text())["items"]
OLD = HEALTHY[0]["status"]["sync"]["revision"]
NEW = hashlib.sha1(b"the next published commit").hexdigest()  # noqa: S324 - a made-up commit id


@pytest.fixture(scope="module")
def pairs() -> list[tuple[Any, Any]]:
    return [crypto.generate_key_pair(key_size=2048) for _ in range(2)]


def fixed_values(env: str) -> dict[str, bytes]:
    return {"POSTGRES_USER": b"tasknote", "POSTGRES_PASSWORD": env.encode(), "POSTGRES_DB": b"tasknote",
            "DATABASE_URL": b"postgresql://tasknote-db:5432/tasknote"}


def sealed_text(cert: Any, names: tuple[str, ...] = ("tasknote-db",)) -> str:
    objs = [sealing.sealed_secret(n, "tasknote-dev", fixed_values("dev"), cert) for n in names]
    return sealing.dump_sealed_file(objs).decode()


def pem(cert: Any) -> bytes:
    return crypto.cert_pem(cert)


# --- devsecrets ----------------------------------------------------------------------------------


def test_committed_secrets_sealed_for_another_key_get_fresh_database_credentials(pairs: list[Any]) -> None:
    (old_key, old_cert), (key, cert) = pairs
    out = devsecrets.sealed_for_cluster(sealed_text(old_cert), pem(old_cert), cert)
    [doc] = [d for d in yaml.safe_load_all(out) if d]
    values = unseal(key, doc)
    assert set(values) == {"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB", "DATABASE_URL"}
    assert values["POSTGRES_PASSWORD"].decode() in values["DATABASE_URL"].decode()
    with pytest.raises(ValueError):
        unseal(old_key, doc)  # sealed for this cluster, not for the committed certificate


def test_committed_secrets_already_for_this_cluster_are_kept_as_they_are(pairs: list[Any]) -> None:
    _, (_, cert) = pairs
    text = sealed_text(cert)
    assert devsecrets.sealed_for_cluster(text, pem(cert), cert) == text


def test_previous_publish_for_the_same_key_is_reused_byte_for_byte(pairs: list[Any]) -> None:
    (_, old_cert), (_, cert) = pairs
    first = devsecrets.sealed_for_cluster(sealed_text(old_cert), pem(old_cert), cert)
    again = devsecrets.sealed_for_cluster(sealed_text(old_cert), pem(old_cert), cert, first, pem(cert))
    assert again == first


def test_previous_publish_for_another_key_is_not_reused(pairs: list[Any]) -> None:
    (_, old_cert), (key, cert) = pairs
    previous = sealed_text(old_cert)  # a publish to an earlier cluster with another key
    out = devsecrets.sealed_for_cluster(sealed_text(old_cert), pem(old_cert), cert, previous, pem(old_cert))
    [doc] = [d for d in yaml.safe_load_all(out) if d]
    assert unseal(key, doc)["POSTGRES_USER"] == b"tasknote"


def test_an_unknown_secret_for_another_key_is_one_sentence_naming_it(pairs: list[Any]) -> None:
    (_, old_cert), (_, cert) = pairs
    committed = sealed_text(old_cert, ("tasknote-db", "smtp-relay"))
    named = r"tasknote-dev/smtp-relay.*secrets.seal --env dev --name smtp-relay"
    with pytest.raises(GitOpsError, match=named):
        devsecrets.sealed_for_cluster(committed, pem(old_cert), cert)


def test_active_certificate_is_the_newest_key(pairs: list[Any]) -> None:
    (old_private, old_cert), (private, cert) = pairs
    older = keys.key_secret(old_private, old_cert, "sealed-secrets-keyold", "kube-system")
    newer = keys.key_secret(private, cert, "sealed-secrets-keynew", "kube-system")
    older["metadata"]["creationTimestamp"] = "2026-11-01T00:00:00Z"
    newer["metadata"]["creationTimestamp"] = "2026-11-30T00:00:00Z"
    assert devsecrets.same_key(pem(devsecrets.active_certificate([newer, older])), cert)
    with pytest.raises(GitOpsError, match="no active Sealed Secrets key"):
        devsecrets.active_certificate([])


# --- devsync -------------------------------------------------------------------------------------


def local_apps(revision: str) -> list[dict[str, Any]]:
    """The recorded healthy Applications, reading the local source and synced at `revision`."""
    apps = copy.deepcopy(HEALTHY)
    for app in apps:
        app["spec"]["source"]["repoURL"] = URL
        status = app["status"]
        status["sync"]["revision"] = revision
        result = status["operationState"]["syncResult"]
        result["revision"] = revision
        if app["metadata"]["name"] == "tasknote-dev":
            result["resources"] = [
                {"group": "apps", "version": "v1", "kind": "Deployment", "namespace": "tasknote-dev",
                 "name": "tasknote-api", "status": "Synced",
                 "message": "deployment.apps/tasknote-api configured", "syncPhase": "Sync"},
                {"group": "", "version": "v1", "kind": "Service", "namespace": "tasknote-dev",
                 "name": "tasknote-api", "status": "Synced", "message": "service/tasknote-api unchanged",
                 "syncPhase": "Sync"},
            ]
    return apps


def test_an_application_still_at_the_old_commit_is_not_ready_though_healthy() -> None:
    apps = local_apps(OLD)
    snapshot = assess(apps)
    assert snapshot.ready
    waiting = devsync.at_revision(snapshot, apps, URL, NEW)
    assert not waiting.ready
    assert any(f"waiting for {NEW[:7]}" in b for b in waiting.blockers())
    done = local_apps(NEW)
    assert devsync.at_revision(assess(done), done, URL, NEW).ready


def test_applications_reading_another_repository_are_not_waited_for() -> None:
    apps = local_apps(OLD)
    for app in apps:
        app["spec"]["source"]["repoURL"] = "https://github.com/argoproj/argo-cd.git"
    assert devsync.at_revision(assess(apps), apps, URL, NEW).ready


def test_object_changes_compare_what_a_kustomization_renders_at_two_commits() -> None:
    """Objects as `kubectl kustomize overlays/dev` renders them (this repository's base/)."""
    base = this_repo().base / "tasknote"
    deployment = yaml.safe_load((base / "api-deployment.yaml").read_text())
    service = yaml.safe_load((base / "api-service.yaml").read_text())
    for obj in (deployment, service):
        obj["metadata"]["namespace"] = "tasknote-dev"
    moved = copy.deepcopy(deployment)
    moved["metadata"]["labels"] = {**(moved["metadata"].get("labels") or {}), "changed": "yes"}
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "migrate",
                                                               "namespace": "tasknote-dev"}}
    changes = devsync.object_changes("overlays/dev", [deployment, service], [moved, service, job])
    assert [str(c) for c in changes] == ["Deployment tasknote-dev/tasknote-api changed (overlays/dev)",
                                         "Job tasknote-dev/migrate added (overlays/dev)"]
    assert [c.what for c in devsync.object_changes("overlays/dev", [service], [])] == ["removed"]
    assert devsync.object_changes("overlays/dev", [deployment, service], [service, deployment]) == []


class FakePublished:
    """gitops.cluster.publish.Published's fields dev.sync reads."""

    def __init__(self, commit: str, created: bool) -> None:
        self.commit, self.created, self.changed = commit, created, ("overlays/dev/kustomization.yaml",)
        self.image = type("Image", (), {"reference": "localhost:5001/tasknote:src-1",
                                        "digest": "sha256:" + "a" * 64, "built": created})()


def fake_cluster(revision: str) -> FakePort:
    """The cluster port's test fake holding the recorded Applications at `revision`; a refresh
    (the merge patch of the annotation) moves every Application to NEW, as the controller would."""
    port = FakePort()
    port.seed(*({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", **a}
                for a in local_apps(revision)))

    def controller(key: Any, obj: dict[str, Any]) -> None:
        if (obj["metadata"].get("annotations") or {}).get(devsync.REFRESH_ANNOTATION) == "normal":
            synced = next(a for a in local_apps(NEW) if a["metadata"]["name"] == key[3])
            port.objects[key] = {**obj, "status": synced["status"]}

    port.on_patch = controller
    return port


def test_sync_with_nothing_published_and_everything_synced_is_a_quick_no_op() -> None:
    port = fake_cluster(NEW)
    report = devsync.sync(port, publish=lambda: FakePublished(NEW, False), url=URL, progress=lambda _: None,
                          clock=port.clock, sleep=port.sleep)
    assert not report.published
    assert [c for c in port.calls if c[0] == "patch"] == []
    assert report.lines()[0].startswith(f"nothing changed: {NEW[:12]}")


def test_sync_refreshes_waits_for_the_commit_and_reports_what_changed() -> None:
    port = fake_cluster(OLD)
    lines: list[str] = []
    change = devsync.Change("overlays/dev", "Deployment", "tasknote-dev", "tasknote-api", "changed")
    report = devsync.sync(port, publish=lambda: FakePublished(NEW, True), url=URL, progress=lines.append,
                          changes=lambda published: [change], deadline_s=60, clock=port.clock,
                          sleep=port.sleep)
    patches = [c for c in port.calls if c[0] == "patch"]
    assert {c[3] for c in patches} == {a["metadata"]["name"] for a in HEALTHY}
    assert all(json.loads(c[4]) == {"metadata": {"annotations": {"argocd.argoproj.io/refresh": "normal"}}}
               for c in patches)
    assert report.changes == (change,)
    assert "  object  Deployment tasknote-dev/tasknote-api changed (overlays/dev)" in report.lines()
    assert any("Synced and Healthy" in line for line in lines)


def test_sync_that_never_reaches_the_commit_times_out_naming_it() -> None:
    port = fake_cluster(OLD)
    port.on_patch = lambda key, obj: None  # the controller never picks the commit up
    with pytest.raises(GitOpsError, match=f"waiting for {NEW[:7]}"):
        devsync.sync(port, publish=lambda: FakePublished(NEW, True), url=URL, progress=lambda _: None,
                     deadline_s=60, clock=port.clock, sleep=port.sleep)


# --- gitserver -----------------------------------------------------------------------------------


def test_container_serves_the_host_directory_read_only_on_the_network_only(tmp_path: Path) -> None:
    server = gitserver.GitServer(tmp_path, container="c", network="kind")
    argv = gitserver.run_argv("docker", server, "tasknote-git-server:abc")
    assert f"{tmp_path.resolve()}:/srv/git:ro" in argv
    assert argv[argv.index("--network") + 1] == "kind"
    assert "-p" not in argv and "--publish" not in argv
    assert server.url == "http://c:8080/git/tasknote.git"


def test_image_builds_from_the_airgapped_stand_in_only_when_there_is_one() -> None:
    with_base = gitserver.build_argv("docker", "ref", "h", Path("ctx"), airgap_base=True)
    assert "BASE=debian:trixie-slim" in with_base
    public = gitserver.build_argv("docker", "ref", "h", Path("ctx"), airgap_base=False)
    assert not any(a.startswith("BASE=") for a in public)


def test_context_hash_changes_with_the_server_config(tmp_path: Path) -> None:
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM debian:trixie-slim\n")
    before = gitserver.context_hash(context)
    (context / "gitconfig").write_text("[http]\n\treceivepack = true\n")
    assert gitserver.context_hash(context) != before


# --- localsource ---------------------------------------------------------------------------------


def test_kind_reads_the_local_source_unless_a_fork_is_given() -> None:
    repo = this_repo()
    assert localsource.choose(repo, local_url=URL) == localsource.Source(URL, local=True)
    fork = "https://github.com/someone/tasknote-gitops.git"
    assert localsource.choose(repo, fork, local_url=URL) == localsource.Source(fork, local=False)
    committed = str(repo.version_of("repository", "url"))
    assert localsource.choose(repo) == localsource.Source(committed, local=False)
    with pytest.raises(GitOpsError, match="not a Git URL"):
        localsource.choose(repo, "github.com/someone", local_url=URL)


def test_root_application_is_applied_pointing_at_the_chosen_source() -> None:
    repo = this_repo()
    committed = str(repo.version_of("repository", "url"))
    text = (repo.argocd / "clusters" / "kind" / "root.yaml").read_text()
    local = localsource.root_application_text(text, committed, localsource.choose(repo, local_url=URL))
    assert yaml.safe_load(local)["spec"]["source"]["repoURL"] == URL
    assert local.replace(URL, committed) == text  # only the URL changed, comments kept
    fork = localsource.Source(committed, local=False)
    assert localsource.root_application_text(text, committed, fork) == text
