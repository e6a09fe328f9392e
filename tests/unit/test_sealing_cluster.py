"""fetch-cert, reencrypt and backup-key at the cluster boundary.

No Kubernetes API server can run here, so the controller is a RecordedController that plays back
responses shaped like the real /v1/cert.pem, /v1/rotate and `kubectl get secrets -o yaml`
answers (see tests/fixtures/secrets), mounted behind the cluster port's test fake
(tests/support/fakecontroller.py). Real runs are in tests/e2e/test_secrets_controller.py.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from gitops.core.errors import GitOpsError
from gitops.core.repo import Repo
from gitops.secrets import controller, crypto, keys, sealing
from support import sealing_testlib as lib
from support.checkout import this_repo
from support.fakecontroller import mount

REPO = this_repo()


def repo_at(root: Path) -> Repo:
    """A Repo on a test tree, with this checkout's versions.yaml."""
    return Repo(root, REPO.versions)


def access(recorded: lib.RecordedController) -> controller.ControllerAccess:
    return mount(recorded)[1]


@pytest.fixture(scope="module")
def old_pair():
    return crypto.generate_key_pair(key_size=2048)


@pytest.fixture(scope="module")
def new_pair():
    return crypto.generate_key_pair(key_size=2048)


@pytest.fixture
def repo(tmp_path, old_pair, monkeypatch):
    monkeypatch.setattr(sealing, "find_kubeseal", lambda *a: None)
    root = lib.make_repo(tmp_path / "repo", old_pair[1])
    sealing.seal("staging", "tasknote-db", {"PASSWORD": b"one"}, repo=repo_at(root))
    sealing.seal("prod", "tasknote-db", {"PASSWORD": b"two"}, repo=repo_at(root))
    sealing.seal("prod", "shared", {"TOKEN": b"three"}, repo=repo_at(root), scope="namespace-wide")
    sealing.seal("dev", "tasknote-db", {"PASSWORD": b"kind-only"}, repo=repo_at(root))
    return root


# --- fetch-cert -----------------------------------------------------------------------------


def test_fetch_cert_writes_and_then_reports_unchanged(tmp_path, old_pair) -> None:
    root = tmp_path / "repo"
    (root / "clusters").mkdir(parents=True)
    recorded = lib.RecordedController([old_pair])
    reach = access(recorded)
    first = controller.fetch_cert(repo_at(root), "kind", reach)
    assert first.changed and first.previous is None
    assert (root / "clusters/kind/sealed-secrets-cert.pem").read_bytes() == crypto.cert_pem(old_pair[1])
    second = controller.fetch_cert(repo_at(root), "kind", reach)
    assert not second.changed and second.fingerprint == first.fingerprint
    assert recorded.calls == [("GET", "/v1/cert.pem")] * 2


def test_fetch_cert_refuses_a_different_certificate_without_replace(repo, old_pair, new_pair) -> None:
    before = lib.checksums(repo)
    rotated = lib.RecordedController([old_pair, new_pair])
    expected = re.escape("does not match clusters/k3s/sealed-secrets-cert.pem")
    with pytest.raises(GitOpsError, match=expected) as err:
        controller.fetch_cert(repo_at(repo), "k3s", access(rotated))
    assert "\n" not in str(err.value)
    assert lib.checksums(repo) == before
    result = controller.fetch_cert(repo_at(repo), "k3s", access(rotated), replace=True)
    assert result.changed
    assert (repo / "clusters/k3s/sealed-secrets-cert.pem").read_bytes() == crypto.cert_pem(new_pair[1])


def test_fetch_cert_rejects_a_bad_served_certificate(repo) -> None:
    before = lib.checksums(repo)
    expired = lib.RecordedController([lib.short_lived_pair(days=-1)])
    with pytest.raises(GitOpsError, match="the certificate the controller served expired"):
        controller.fetch_cert(repo_at(repo), "kind", access(expired), replace=True)

    class Garbage(lib.RecordedController):
        def get(self, path):
            return b"<html>502 Bad Gateway</html>"

    with pytest.raises(GitOpsError, match="is not a PEM certificate"):
        controller.fetch_cert(repo_at(repo), "kind", access(Garbage([])), replace=True)
    assert lib.checksums(repo) == before


# --- reencrypt ------------------------------------------------------------------------------


def test_reencrypt_moves_every_object_of_the_cluster_to_the_newest_key(repo, old_pair, new_pair) -> None:
    recorded = lib.RecordedController([old_pair, new_pair])
    controller.fetch_cert(repo_at(repo), "k3s", access(recorded), replace=True)
    dev_before = (repo / "overlays/dev/sealed-secrets.yaml").read_bytes()
    result = controller.reencrypt(repo_at(repo), "k3s", access(recorded))
    assert result.objects == 3
    assert {p.parent.name for p in result.files} == {"staging", "prod"}
    assert (repo / "overlays/dev/sealed-secrets.yaml").read_bytes() == dev_before  # kind's env untouched
    staging = lib.sealed_docs(repo / "overlays/staging/sealed-secrets.yaml")
    prod = lib.sealed_docs(repo / "overlays/prod/sealed-secrets.yaml")
    assert lib.unseal(new_pair[0], staging[0]) == {"PASSWORD": b"one"}
    assert [lib.unseal(new_pair[0], d) for d in prod] == [{"PASSWORD": b"two"}, {"TOKEN": b"three"}]
    with pytest.raises(ValueError):
        lib.unseal(old_pair[0], prod[0])
    assert prod[1]["metadata"]["annotations"] == {crypto.ANNOTATION_NAMESPACE_WIDE: "true"}
    for doc in staging + prod:
        assert doc["apiVersion"] == "bitnami.com/v1alpha1" and doc["kind"] == "SealedSecret"
        assert "creationTimestamp" not in doc["metadata"]
        assert "creationTimestamp" not in doc["spec"]["template"]["metadata"]


def test_reencrypt_refuses_when_the_committed_cert_is_not_the_clusters(repo, old_pair, new_pair) -> None:
    before = lib.checksums(repo)
    recorded = lib.RecordedController([old_pair, new_pair])
    with pytest.raises(GitOpsError, match=re.escape("run ./inv secrets.fetch-cert --target k3s")):
        controller.reencrypt(repo_at(repo), "k3s", access(recorded))
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
        controller.reencrypt(repo_at(repo), "k3s", access(recorded))
    assert lib.checksums(repo) == before


# --- backup-key -----------------------------------------------------------------------------


def test_backup_key_writes_0600_outside_the_repo_and_restores(tmp_path, old_pair, new_pair) -> None:
    recorded = lib.RecordedController([old_pair, new_pair])
    out = tmp_path / "backups" / "k3s.yaml"
    path, count = controller.backup_keys(REPO, out, access(recorded))
    assert (path, count) == (out, 2)
    assert os.stat(out).st_mode & 0o777 == 0o600
    assert out.read_text().startswith("# This file holds the sealed-secrets controller's PRIVATE keys")
    restored = keys.restore_key(out, "kube-system")
    assert [s["metadata"]["name"] for s in restored] == ["sealed-secrets-key0", "sealed-secrets-key1"]
    with pytest.raises(GitOpsError, match="already exists; pass --force"):
        controller.backup_keys(REPO, out, access(recorded))
    controller.backup_keys(REPO, out, access(recorded), force=True)


def test_backup_key_refuses_paths_inside_the_repository(old_pair) -> None:
    port, reach = mount(lib.RecordedController([old_pair]))
    before = lib.checksums(REPO.root)
    for inside in ("keys.yaml", "clusters/kind/key.yaml", "overlays/../backup.yaml"):
        with pytest.raises(GitOpsError, match="inside the repository"):
            controller.backup_keys(REPO, REPO.root / inside, reach)
    assert port.calls == []  # refused before any key left the cluster
    assert lib.checksums(REPO.root) == before


def test_backup_key_with_no_keys_in_the_namespace(tmp_path) -> None:
    with pytest.raises(GitOpsError, match="holds no Secret labelled"):
        controller.backup_keys(REPO, tmp_path / "k.yaml", access(lib.RecordedController([])))
    assert not (tmp_path / "k.yaml").exists()


# --- the controller through the cluster port ------------------------------------------------


def test_controller_access_uses_the_service_proxy_and_the_request_body(old_pair) -> None:
    port, reach = mount(lib.RecordedController([old_pair]))
    # The Service's first port name goes into the proxy path, as kubeseal's getServicePortName.
    proxy = "/api/v1/namespaces/kube-system/services/http:sealed-secrets-controller:http/proxy"
    assert reach.get("/v1/cert.pem") == crypto.cert_pem(old_pair[1])
    assert port.calls == [("get", "Service", "kube-system", "sealed-secrets-controller"),
                          ("raw", "GET", f"{proxy}/v1/cert.pem")]
    sent = []
    answer = b'{"kind": "SealedSecret"}'
    port.routes[("POST", f"{proxy}/v1/rotate")] = lambda body: sent.append(body) or answer
    body = b'{"spec": {"encryptedData": {"A": "AgB..."}}}'
    assert reach.post("/v1/rotate", body) == b'{"kind": "SealedSecret"}'
    assert sent == [json.loads(body)] and all("AgB" not in part for call in port.calls for part in call)
    elsewhere = controller.ControllerAccess(port, "sealed-secrets")  # no such service there: a 404
    expected = r"has no Service sealed-secrets/sealed-secrets-controller; check platform\.sealed_secrets"
    with pytest.raises(GitOpsError, match=expected) as err:
        elsewhere.get("/v1/cert.pem")
    assert "\n" not in str(err.value)


def test_applying_keys_sends_them_in_the_request_body(old_pair) -> None:
    port, _ = mount(lib.RecordedController([]))
    manifests = [keys.key_secret(*old_pair, "sealed-secrets-key0", "kube-system")]
    assert controller.apply_keys(port, manifests) == 1
    key_b64 = manifests[0]["data"]["tls.key"]
    assert port.applied[0]["data"]["tls.key"] == key_b64
    assert port.calls == [("apply", "Secret", "kube-system", "sealed-secrets-key0")]
    stored = port.list("v1", "Secret", "kube-system", keys.KEY_LABEL)
    assert [s["metadata"]["name"] for s in stored] == ["sealed-secrets-key0"]
