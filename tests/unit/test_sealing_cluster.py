"""fetch-cert, reencrypt and backup-key at the cluster boundary.

No Kubernetes API server can run here, so the controller is a RecordedController that plays back
responses shaped like the real /v1/cert.pem, /v1/rotate and `kubectl get secrets -o yaml`
answers (see tests/fixtures/secrets). Real runs are in tests/e2e/test_secrets_controller.py.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from gitops.core import config, run
from gitops.core.errors import GitOpsError
from gitops.secrets import controller, sealing
from support import sealing_testlib as lib


@pytest.fixture(scope="module")
def old_pair():
    return sealing.generate_key_pair(key_size=2048)


@pytest.fixture(scope="module")
def new_pair():
    return sealing.generate_key_pair(key_size=2048)


@pytest.fixture
def repo(tmp_path, old_pair, monkeypatch):
    monkeypatch.setattr(sealing, "find_kubeseal", lambda: None)
    root = lib.make_repo(tmp_path / "repo", old_pair[1])
    sealing.seal("staging", "tasknote-db", {"PASSWORD": b"one"}, root=root)
    sealing.seal("prod", "tasknote-db", {"PASSWORD": b"two"}, root=root)
    sealing.seal("prod", "shared", {"TOKEN": b"three"}, root=root, scope="namespace-wide")
    sealing.seal("dev", "tasknote-db", {"PASSWORD": b"kind-only"}, root=root)
    return root


# --- fetch-cert -----------------------------------------------------------------------------


def test_fetch_cert_writes_and_then_reports_unchanged(tmp_path, old_pair) -> None:
    root = tmp_path / "repo"
    (root / "clusters").mkdir(parents=True)
    recorded = lib.RecordedController([old_pair])
    first = controller.fetch_cert("kind", recorded, root=root)
    assert first.changed and first.previous is None
    assert (root / "clusters/kind/sealed-secrets-cert.pem").read_bytes() == sealing.cert_pem(old_pair[1])
    second = controller.fetch_cert("kind", recorded, root=root)
    assert not second.changed and second.fingerprint == first.fingerprint
    assert recorded.calls == [("GET", "/v1/cert.pem")] * 2


def test_fetch_cert_refuses_a_different_certificate_without_replace(repo, old_pair, new_pair) -> None:
    before = lib.checksums(repo)
    rotated = lib.RecordedController([old_pair, new_pair])
    expected = re.escape("does not match clusters/k3s/sealed-secrets-cert.pem")
    with pytest.raises(GitOpsError, match=expected) as err:
        controller.fetch_cert("k3s", rotated, root=repo)
    assert "\n" not in str(err.value)
    assert lib.checksums(repo) == before
    result = controller.fetch_cert("k3s", rotated, replace=True, root=repo)
    assert result.changed
    assert (repo / "clusters/k3s/sealed-secrets-cert.pem").read_bytes() == sealing.cert_pem(new_pair[1])


def test_fetch_cert_rejects_a_bad_served_certificate(repo) -> None:
    before = lib.checksums(repo)
    expired = lib.RecordedController([lib.short_lived_pair(days=-1)])
    with pytest.raises(GitOpsError, match="the certificate the controller served expired"):
        controller.fetch_cert("kind", expired, replace=True, root=repo)

    class Garbage(lib.RecordedController):
        def get(self, path):
            return b"<html>502 Bad Gateway</html>"

    with pytest.raises(GitOpsError, match="is not a PEM certificate"):
        controller.fetch_cert("kind", Garbage([]), replace=True, root=repo)
    assert lib.checksums(repo) == before


# --- reencrypt ------------------------------------------------------------------------------


def test_reencrypt_moves_every_object_of_the_cluster_to_the_newest_key(repo, old_pair, new_pair) -> None:
    recorded = lib.RecordedController([old_pair, new_pair])
    controller.fetch_cert("k3s", recorded, replace=True, root=repo)
    dev_before = (repo / "overlays/dev/sealed-secrets.yaml").read_bytes()
    result = controller.reencrypt("k3s", recorded, root=repo)
    assert result.objects == 3
    assert {p.parent.name for p in result.files} == {"staging", "prod"}
    assert (repo / "overlays/dev/sealed-secrets.yaml").read_bytes() == dev_before  # kind's env untouched
    staging = lib.sealed_docs(repo / "overlays/staging/sealed-secrets.yaml")
    prod = lib.sealed_docs(repo / "overlays/prod/sealed-secrets.yaml")
    assert lib.unseal(new_pair[0], staging[0]) == {"PASSWORD": b"one"}
    assert [lib.unseal(new_pair[0], d) for d in prod] == [{"PASSWORD": b"two"}, {"TOKEN": b"three"}]
    with pytest.raises(ValueError):
        lib.unseal(old_pair[0], prod[0])
    assert prod[1]["metadata"]["annotations"] == {sealing.ANNOTATION_NAMESPACE_WIDE: "true"}
    for doc in staging + prod:
        assert doc["apiVersion"] == "bitnami.com/v1alpha1" and doc["kind"] == "SealedSecret"
        assert "creationTimestamp" not in doc["metadata"]
        assert "creationTimestamp" not in doc["spec"]["template"]["metadata"]


def test_reencrypt_refuses_when_the_committed_cert_is_not_the_clusters(repo, old_pair, new_pair) -> None:
    before = lib.checksums(repo)
    recorded = lib.RecordedController([old_pair, new_pair])
    with pytest.raises(GitOpsError, match=re.escape("run ./inv secrets.fetch-cert --cluster k3s")):
        controller.reencrypt("k3s", recorded, root=repo)
    assert lib.checksums(repo) == before
    assert ("POST", "/v1/rotate") not in recorded.calls


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (b"Error decrypting secret", "is not a SealedSecret"),
        (b"[]", "is not a SealedSecret"),
        (json.dumps({"metadata": {"name": "other", "namespace": "tasknote-staging"},
                     "spec": {"encryptedData": {"PASSWORD": "AgA="}}}).encode(), "into another object"),
    ],
)
def test_a_bad_rotate_answer_writes_nothing(repo, old_pair, answer, expected) -> None:
    recorded = lib.RecordedController([old_pair])
    recorded.rotate_override = answer
    before = lib.checksums(repo)
    with pytest.raises(GitOpsError, match=expected):
        controller.reencrypt("k3s", recorded, root=repo)
    assert lib.checksums(repo) == before


# --- backup-key -----------------------------------------------------------------------------


def test_backup_key_writes_0600_outside_the_repo_and_restores(tmp_path, old_pair, new_pair) -> None:
    recorded = lib.RecordedController([old_pair, new_pair])
    out = tmp_path / "backups" / "k3s.yaml"
    path, count = controller.backup_keys(out, recorded)
    assert (path, count) == (out, 2)
    assert os.stat(out).st_mode & 0o777 == 0o600
    assert out.read_text().startswith("# This file holds the sealed-secrets controller's PRIVATE keys")
    restored = sealing.restore_key(out)
    assert [s["metadata"]["name"] for s in restored] == ["sealed-secrets-key0", "sealed-secrets-key1"]
    with pytest.raises(GitOpsError, match="already exists; pass --force"):
        controller.backup_keys(out, recorded)
    controller.backup_keys(out, recorded, force=True)


def test_backup_key_refuses_paths_inside_the_repository(old_pair) -> None:
    recorded = lib.RecordedController([old_pair])
    before = lib.checksums(config.ROOT)
    for inside in ("keys.yaml", "clusters/kind/key.yaml", "overlays/../backup.yaml"):
        with pytest.raises(GitOpsError, match="inside the repository"):
            controller.backup_keys(config.ROOT / inside, recorded)
    assert recorded.calls == []  # refused before any key left the cluster
    assert lib.checksums(config.ROOT) == before


def test_backup_key_with_no_keys_in_the_namespace(tmp_path) -> None:
    with pytest.raises(GitOpsError, match="holds no Secret labelled"):
        controller.backup_keys(tmp_path / "k.yaml", lib.RecordedController([]))
    assert not (tmp_path / "k.yaml").exists()


# --- the kubectl transport ------------------------------------------------------------------


def test_kubectl_transport_uses_the_service_proxy_and_stdin(monkeypatch) -> None:
    transport = controller.KubectlTransport(Path("/bin/kubectl"), "kube-system", context="kind-tasknote")
    proxy = "/api/v1/namespaces/kube-system/services/http:sealed-secrets-controller:/proxy"
    assert transport.get_argv("/v1/cert.pem")[-3:] == ["get", "--raw", f"{proxy}/v1/cert.pem"]
    assert transport.post_argv("/v1/rotate")[-5:] == [
"create", "--raw", f"{proxy}/v1/rotate", "-f", "-"]
    assert transport.get_argv("/x")[2:4] == ["--context", "kind-tasknote"]
    seen = []

    def fake_run(argv, *, input_bytes=None, **kw):
        seen.append((list(argv), input_bytes))
        return run.Result(tuple(argv), 0, '{"kind": "SealedSecret"}', "")

    monkeypatch.setattr(controller.run, "run", fake_run)
    body = b'{"spec": {"encryptedData": {"A": "AgB..."}}}'
    assert transport.post("/v1/rotate", body) == b'{"kind": "SealedSecret"}'
    assert seen[0][1] == body and all(body.decode() not in a for a in seen[0][0])

    def failing(argv, **kw):
        stderr = 'Error from server (NotFound): services "sealed-secrets-controller" not found'
        return run.Result(tuple(argv), 1, "", stderr)

    monkeypatch.setattr(controller.run, "run", failing)
    with pytest.raises(GitOpsError, match="did not answer: Error from server") as err:
        transport.get("/v1/cert.pem")
    assert "\n" not in str(err.value)


def test_applying_keys_sends_them_on_stdin(monkeypatch, old_pair) -> None:
    seen = {}

    def fake_run(argv, *, input_text=None, **kw):
        seen["argv"], seen["stdin"] = list(argv), input_text
        return run.Result(tuple(argv), 0, "secret/sealed-secrets-key0 serverside-applied", "")

    monkeypatch.setattr(controller.tools, "require", lambda name: Path("/bin/kubectl"))
    monkeypatch.setattr(controller.run, "run", fake_run)
    manifests = [sealing.key_secret(*old_pair, "sealed-secrets-key0", "kube-system")]
    assert controller.apply_keys(manifests, "kind-tasknote") == 1
    key_b64 = manifests[0]["data"]["tls.key"]
    assert key_b64 in seen["stdin"] and not any(key_b64 in a for a in seen["argv"])
    assert seen["argv"][-2:] == ["-f", "-"]
