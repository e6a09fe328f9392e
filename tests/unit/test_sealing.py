"""Native Sealed Secrets encryption against a test-only decryptor written from the documented
format; certificate checks; plaintext input parsing; key backups and restore."""

from __future__ import annotations

import base64
import datetime as dt
import os
import struct

import pytest
import yaml
from cryptography import x509
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from gitops.core import config
from gitops.core.errors import GitOpsError
from gitops.core.repo import Repo
from gitops.secrets import crypto, inputs, keys, sealing
from support import sealing_testlib as lib
from support.checkout import ROOT, this_repo


@pytest.fixture(scope="module")
def pair() -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    # 2048 bits keeps the unit tier fast; the 4096-bit generator has its own test below.
    return crypto.generate_key_pair(key_size=2048)


VALUES = {"POSTGRES_PASSWORD": b"s3cr\xc3\xa9t-\x00-value", "DATABASE_URL": b"postgresql://u:p@h/db"}


def test_strict_round_trip_through_the_documented_format(pair) -> None:
    key, cert = pair
    sealed = sealing.sealed_secret("tasknote-db", "tasknote-dev", VALUES, cert)
    assert sealed["apiVersion"] == "bitnami.com/v1alpha1" and sealed["kind"] == "SealedSecret"
    assert sealed["spec"]["template"]["metadata"] == {"name": "tasknote-db", "namespace": "tasknote-dev"}
    assert "annotations" not in sealed["metadata"]
    assert lib.unseal(key, sealed) == VALUES


def test_byte_layout_is_length_prefix_rsa_block_then_gcm(pair) -> None:
    key, cert = pair
    blob = crypto.hybrid_encrypt(crypto.rsa_key(cert), b"hello", b"ns/name")
    (rsa_len,) = struct.unpack(">H", blob[:2])
    assert rsa_len == key.key_size // 8
    assert len(blob) == 2 + rsa_len + len(b"hello") + 16  # GCM tag, no nonce stored
    # A fresh session key per value: sealing the same value twice never repeats.
    assert blob != crypto.hybrid_encrypt(crypto.rsa_key(cert), b"hello", b"ns/name")


@pytest.mark.parametrize(
    ("namespace", "name"), [("tasknote-prod", "tasknote-db"), ("tasknote-dev", "other"), ("x", "y")]
)
def test_strict_scope_fails_under_another_namespace_or_name(pair, namespace, name) -> None:
    key, cert = pair
    sealed = sealing.sealed_secret("tasknote-db", "tasknote-dev", VALUES, cert)
    sealed["metadata"].update(namespace=namespace, name=name)
    with pytest.raises(ValueError):
        lib.unseal(key, sealed)


def test_namespace_wide_ignores_the_name_but_not_the_namespace(pair) -> None:
    key, cert = pair
    sealed = sealing.sealed_secret("a", "tasknote-dev", VALUES, cert, scope="namespace-wide")
    for meta in (sealed["metadata"], sealed["spec"]["template"]["metadata"]):
        assert meta["annotations"] == {"sealedsecrets.bitnami.com/namespace-wide": "true"}
    sealed["metadata"]["name"] = "renamed"
    assert lib.unseal(key, sealed) == VALUES
    sealed["metadata"]["namespace"] = "tasknote-prod"
    with pytest.raises(ValueError):
        lib.unseal(key, sealed)


def test_cluster_wide_uses_the_empty_label(pair) -> None:
    key, cert = pair
    sealed = sealing.sealed_secret("a", "tasknote-dev", VALUES, cert, scope="cluster-wide")
    assert sealed["metadata"]["annotations"] == {"sealedsecrets.bitnami.com/cluster-wide": "true"}
    sealed["metadata"].update(namespace="anywhere", name="else")
    assert lib.unseal(key, sealed) == VALUES
    assert crypto.encryption_label("n", "x", "cluster-wide") == b""


@pytest.mark.parametrize("offset", [1, 100, -1, -20])
def test_a_flipped_byte_fails_authentication(pair, offset) -> None:
    key, cert = pair
    blob = bytearray(crypto.hybrid_encrypt(crypto.rsa_key(cert), b"payload", b"ns/n"))
    blob[offset] ^= 0x01
    # Offsets in the RSA block break OAEP (ValueError); in the GCM part the tag (InvalidTag).
    with pytest.raises((ValueError, InvalidTag)):
        lib.hybrid_decrypt(key, bytes(blob), b"ns/n")


def test_generated_pair_looks_like_the_controllers() -> None:
    key, cert = crypto.generate_key_pair()
    assert key.key_size == 4096
    names = {a.oid: a.value for a in cert.subject}
    assert names == {NameOID.COMMON_NAME: "sealed-secret", NameOID.ORGANIZATION_NAME: "sealed-secret"}
    assert cert.issuer == cert.subject
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == dt.timedelta(days=3650)
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert crypto.load_certificate(crypto.cert_pem(cert), "x") is not None


# --- certificate checks ---------------------------------------------------------------------


def _ec_cert() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sealed-secret")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(1).not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def test_certificate_problems_are_one_sentence() -> None:
    _, expired = lib.short_lived_pair(days=-1)
    _, future = crypto.generate_key_pair(now=dt.datetime.now(dt.UTC) + dt.timedelta(days=2), key_size=2048)
    small_key = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - the point
    cases = {
        b"not a certificate": "is not a PEM certificate",
        b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n": "is not a PEM certificate",
        _ec_cert(): "not RSA",
        crypto.cert_pem(expired): "expired on",
        crypto.cert_pem(future): "is not valid before",
    }
    _, small_cert = crypto.generate_key_pair(key_size=2048)
    small = (
        x509.CertificateBuilder().subject_name(small_cert.subject).issuer_name(small_cert.subject)
        .public_key(small_key.public_key()).serial_number(2)
        .not_valid_before(small_cert.not_valid_before_utc).not_valid_after(small_cert.not_valid_after_utc)
        .sign(small_key, hashes.SHA256())
    )
    cases[small.public_bytes(serialization.Encoding.PEM)] = "1024-bit RSA key"
    for pem, expected in cases.items():
        with pytest.raises(GitOpsError) as err:
            crypto.load_certificate(pem, "clusters/kind/sealed-secrets-cert.pem")
        message = str(err.value)
        assert expected in message and "clusters/kind/sealed-secrets-cert.pem" in message
        assert message.count("\n") == 0 and message.endswith(".")


def test_committed_certificates_are_valid_public_certificates() -> None:
    for cluster in config.CLUSTERS:
        path, cert = sealing.read_cluster_certificate(cluster, this_repo())
        assert b"PRIVATE KEY" not in path.read_bytes()
        assert crypto.rsa_key(cert).key_size == 4096


# --- plaintext input (kubectl parity is proved in test_secret_inputs_kubectl.py) -------------


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"A=1\n\xff\xfe=2\n", "line 2 is not valid UTF-8"),
        (b"A=1\nA=2\n", "given twice"),
        (b"A=1\nhunter2 no key\n", "line 2 does not start with a valid key"),
        (b"bad key=1\n", "line 1 does not start with a valid key"),
        (b"a/b=1\n", "line 1 does not start with a valid key"),
    ],
)
def test_bad_env_files_are_one_sentence_without_the_value(content, expected) -> None:
    with pytest.raises(GitOpsError, match=expected) as err:
        inputs.parse_env_file(content, "secrets.env")
    assert "hunter2" not in str(err.value) and "\n" not in str(err.value)


def test_literals_never_echo_a_value() -> None:
    with pytest.raises(GitOpsError) as err:
        inputs.split_literal("=hunter2-no-key")
    assert "hunter2" not in str(err.value)
    assert inputs.split_literal("TOKEN") == ("TOKEN", None)  # value-less: asked for, not on argv
    values = inputs.parse_env_file(b"A=2\n", "f")
    with pytest.raises(GitOpsError, match="given twice"):
        inputs.add_value(values, "A", b"1", "--from-literal")


@pytest.mark.parametrize("name", ["Tasknote", "-db", "db-", "a_b", "", "x" * 254, "a..b"])
def test_invalid_kubernetes_names(name) -> None:
    with pytest.raises(GitOpsError, match="not a valid Kubernetes name"):
        inputs.check_name(name)


# --- key backups ----------------------------------------------------------------------------


def test_init_key_writes_backup_outside_repo_and_restore_reads_it(tmp_path) -> None:
    root = tmp_path / "repo"
    (root / "clusters").mkdir(parents=True)
    backup = tmp_path / "home" / "kind.yaml"
    result = keys.init_key("kind", backup, Repo(root, {}), key_size=2048)
    assert os.stat(backup).st_mode & 0o777 == 0o600
    text = backup.read_text()
    assert text.startswith("# This file holds the sealed-secrets controller's PRIVATE keys")
    assert b"PRIVATE" not in result.cert_file.read_bytes()
    [secret] = keys.restore_key(backup, "kube-system")
    assert secret["metadata"]["labels"] == {keys.KEY_LABEL: "active"}
    assert secret["type"] == "kubernetes.io/tls"
    key = serialization.load_pem_private_key(base64.b64decode(secret["data"]["tls.key"]), None)
    assert base64.b64decode(secret["data"]["tls.key"]).startswith(b"-----BEGIN RSA PRIVATE KEY-----")
    cert = x509.load_pem_x509_certificate(result.cert_file.read_bytes())
    assert key.public_key().public_numbers() == cert.public_key().public_numbers()

    with pytest.raises(GitOpsError, match="already exists"):
        keys.init_key("kind", tmp_path / "other.yaml", Repo(root, {}))
    with pytest.raises(GitOpsError, match="only copy"):
        keys.init_key("kind", backup, Repo(root, {}), replace=True)


def _small_pair():
    return crypto.generate_key_pair(key_size=2048)


def test_backup_paths_inside_the_repository_are_refused(tmp_path) -> None:
    for inside in (ROOT / "keys.yaml", ROOT / "overlays" / ".." / "k.yaml"):
        with pytest.raises(GitOpsError, match="inside the repository"):
            keys.check_backup_path(inside, this_repo())
    with pytest.raises(GitOpsError, match="inside the repository"):
        keys.init_key("kind", ROOT / "kind.yaml", this_repo())


def test_restore_key_accepts_kubectl_output_and_drops_server_fields(tmp_path) -> None:
    key, cert = _small_pair()
    controller = lib.RecordedController([(key, cert)])
    listing = tmp_path / "main.key"
    listing.write_bytes(controller.key_secrets())
    listing.chmod(0o600)
    [secret] = keys.restore_key(listing, namespace="sealed-secrets")
    assert secret["metadata"]["namespace"] == "sealed-secrets"
    assert not {"uid", "resourceVersion", "creationTimestamp", "generateName"} & set(secret["metadata"])
    listing.chmod(0o644)
    with pytest.raises(GitOpsError, match="chmod 600"):
        keys.restore_key(listing, "kube-system")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("kind: ConfigMap\n", "other than Secrets"),
        ("kind: Secret\ndata: {a: b}\n", "without tls.crt and tls.key"),
        (": : :\n", "not valid YAML"),
        ("", "no key Secrets"),
    ],
)
def test_restore_key_rejects_what_is_not_a_key_backup(tmp_path, content, expected) -> None:
    path = tmp_path / "b.yaml"
    path.write_text(content)
    path.chmod(0o600)
    with pytest.raises(GitOpsError, match=expected):
        keys.restore_key(path, "kube-system")
    with pytest.raises(GitOpsError, match="does not exist"):
        keys.restore_key(tmp_path / "missing.yaml", "kube-system")


def test_committed_sealed_secrets_match_the_contract() -> None:
    for env, cluster in sealing.ENV_CLUSTER.items():
        docs = lib.sealed_docs(ROOT / "overlays" / env / sealing.SEALED_FILE)
        [db] = [d for d in docs if d["metadata"]["name"] == "tasknote-db"]
        assert db["metadata"]["namespace"] == f"tasknote-{env}"
        assert set(db["spec"]["encryptedData"]) == {
            "POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB", "DATABASE_URL"
        }
        _, cert = sealing.read_cluster_certificate(cluster, this_repo())
        size = crypto.rsa_key(cert).key_size // 8
        for value in db["spec"]["encryptedData"].values():
            assert struct.unpack(">H", base64.b64decode(value)[:2]) == (size,)
        assert yaml.safe_dump(db)  # plain data, no Python tags
        # The app's own login, mounted by the api, worker and summary (migrate makes the role).
        [app] = [d for d in docs if d["metadata"]["name"] == sealing.APP_DB_SECRET]
        assert app["metadata"]["namespace"] == f"tasknote-{env}"
        assert set(app["spec"]["encryptedData"]) == {"DATABASE_URL"}
