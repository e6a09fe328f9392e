"""Typed Secrets: a sealed docker-registry or TLS Secret decrypts (test decryptor) to exactly what
`kubectl create secret docker-registry|tls --dry-run=client` makes of the same inputs, carries
the type the kubelet and ingress controllers look for, and a Secret over 1 MiB is refused."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from gitops.core.errors import GitOpsError
from gitops.core.repo import Repo
from gitops.secrets import crypto, sealing, secret_types
from support import kubectl_secrets
from support import sealing_testlib as lib
from support.checkout import this_repo

try:
    kubectl_secrets.kubectl()
except GitOpsError as exc:
    pytest.skip(f"the differential tests need the pinned kubectl (lock file): {exc}", allow_module_level=True)


@pytest.fixture(scope="module")
def pair():
    return crypto.generate_key_pair(key_size=2048)


@pytest.fixture
def repo(tmp_path, pair, monkeypatch) -> Repo:
    monkeypatch.setattr(sealing, "find_kubeseal", lambda repo: None)
    return Repo(lib.make_repo(tmp_path / "repo", pair[1]), this_repo().versions)


def seal_and_open(repo, key, values, secret_type):
    sealing.seal("dev", "probe", values, repo=repo, secret_type=secret_type)
    [doc] = lib.sealed_docs(repo.root / "overlays" / "dev" / sealing.SEALED_FILE)
    return doc, lib.unseal(key, doc)


DOCKER = {
    "plain": ("ghcr.io", "robot", "s3cr3t-t0ken", ""),
    "with email": ("registry.example.com:5000", "ci", "pw", "ci@example.com"),
    "characters Go escapes": ("ghcr.io", "u<&>", 'p\u2028"\\\x01\t\b\f\x7f\u00e9', ""),
    "the default server": (secret_types.DEFAULT_DOCKER_SERVER, "u", "p", ""),
}


@pytest.mark.parametrize("case", list(DOCKER))
def test_docker_registry_secret_matches_kubectl(case, repo, pair) -> None:
    server, user, password, email = DOCKER[case]
    args = ["docker-registry", "probe", f"--docker-server={server}", f"--docker-username={user}",
            f"--docker-password={password}"] + ([f"--docker-email={email}"] if email else [])
    theirs = kubectl_secrets.create_secret(args)
    assert theirs.ok, theirs.error
    values = secret_types.docker_config_json(server, user.encode(), password.encode(), email)
    doc, opened = seal_and_open(repo, pair[0], values, secret_types.DOCKER_CONFIG_JSON)
    assert opened == theirs.data
    assert doc["spec"]["template"]["type"] == theirs.type == "kubernetes.io/dockerconfigjson"


def _cert_and_key(private_key) -> tuple[bytes, bytes]:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tasknote.example.com")])
    now = dt.datetime.now(dt.UTC)
    builder = x509.CertificateBuilder().subject_name(name).issuer_name(name)
    cert = (builder.public_key(private_key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + dt.timedelta(days=30)).sign(private_key, hashes.SHA256()))
    key_pem = private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


@pytest.mark.parametrize("algorithm", ["rsa", "ecdsa"])
def test_tls_secret_matches_kubectl(algorithm, repo, pair, tmp_path) -> None:
    if algorithm == "rsa":
        key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey = rsa.generate_private_key(65537, 2048)
    else:
        key = ec.generate_private_key(ec.SECP256R1())
    cert_pem, key_pem = _cert_and_key(key)
    (tmp_path / "tls.crt").write_bytes(cert_pem)
    (tmp_path / "tls.key").write_bytes(key_pem)
    theirs = kubectl_secrets.create_secret(
        ["tls", "probe", f"--cert={tmp_path / 'tls.crt'}", f"--key={tmp_path / 'tls.key'}"])
    assert theirs.ok, theirs.error
    values = secret_types.tls_data(cert_pem, key_pem, "tls.crt", "tls.key")
    doc, opened = seal_and_open(repo, pair[0], values, secret_types.TLS)
    assert opened == theirs.data
    assert doc["spec"]["template"]["type"] == theirs.type == "kubernetes.io/tls"


def test_a_key_of_another_certificate_is_refused_like_kubectl(tmp_path) -> None:
    cert_pem, _ = _cert_and_key(ec.generate_private_key(ec.SECP256R1()))
    _, other_key = _cert_and_key(ec.generate_private_key(ec.SECP256R1()))
    (tmp_path / "tls.crt").write_bytes(cert_pem)
    (tmp_path / "tls.key").write_bytes(other_key)
    theirs = kubectl_secrets.create_secret(
        ["tls", "probe", f"--cert={tmp_path / 'tls.crt'}", f"--key={tmp_path / 'tls.key'}"])
    assert not theirs.ok
    with pytest.raises(GitOpsError, match="is not the private key of the first certificate"):
        secret_types.tls_data(cert_pem, other_key, "tls.crt", "tls.key")
    with pytest.raises(GitOpsError, match="holds no PEM certificate"):
        secret_types.tls_data(b"nope", other_key, "tls.crt", "tls.key")


def test_a_secret_over_one_mebibyte_is_refused_and_nothing_is_written(repo) -> None:
    before = lib.checksums(repo.root)
    exactly = {"a": b"x" * (1024 * 1024 - 1), "b": b"y"}
    sealing.seal("dev", "at-the-limit", exactly, repo=repo)  # 1 MiB exactly is allowed
    at_limit = lib.checksums(repo.root)
    assert at_limit != before
    with pytest.raises(GitOpsError) as err:
        sealing.seal("dev", "too-big", {"a": b"x" * (1024 * 1024), "b": b"y"}, repo=repo)
    assert str(err.value) == (
        "Secret too-big would hold 1048577 bytes, over Kubernetes' limit of 1048576 bytes (1 MiB) per "
        "Secret; split the values over several Secrets or keep large files out of Secrets.")
    assert lib.checksums(repo.root) == at_limit


def test_unknown_type_is_one_sentence(repo) -> None:
    with pytest.raises(GitOpsError, match=r"unknown Secret type 'bootstrap\.kubernetes\.io/token'"):
        sealing.seal("dev", "x", {"a": b"1"}, repo=repo, secret_type="bootstrap.kubernetes.io/token")
