"""The smoke suite's certificate-chain step (issue 14, defect 8) against a real TLS server on
loopback with a certificate made here the way cert-manager's SelfSigned issuer makes one (the
certificate is its own CA, put into the Secret's ca.crt)."""

from __future__ import annotations

import base64
import datetime
import json
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from gitops.cluster.target import Target
from gitops.verify import smoke_targets, tls_chain
from gitops.verify.steps import PASSED, Outcome
from support.fakeport import FakePort
from support.localhttp import QuietHandler

HOST = "tasknote.localtest.me"


def self_signed(host: str) -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(days=90))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    return cert_pem, key_pem


class Ok(QuietHandler):
    def do_GET(self) -> None:
        self.reply(200, b"ok")


@contextmanager
def https_server(tmp_path: Path, cert_pem: str, key_pem: str) -> Iterator[int]:
    (tmp_path / "tls.crt").write_text(cert_pem)
    (tmp_path / "tls.key").write_text(key_pem)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "tls.crt", tmp_path / "tls.key")
    server = ThreadingHTTPServer(("127.0.0.1", 0), Ok)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


def test_chain_verifies_against_the_issuers_ca(tmp_path: Path) -> None:
    cert, key = self_signed(HOST)
    with https_server(tmp_path, cert, key) as port:
        step = tls_chain.check_chain("127.0.0.1", port, HOST, ca_pem=cert)
    assert step.ok, step.detail
    assert step.step == f"tls chain {HOST}" and step.detail.startswith("valid until ")


def test_untrusted_chain_fails_naming_the_reason(tmp_path: Path) -> None:
    cert, key = self_signed(HOST)
    other, _ = self_signed(HOST)
    with https_server(tmp_path, cert, key) as port:
        step = tls_chain.check_chain("127.0.0.1", port, HOST, ca_pem=other)
        system = tls_chain.check_chain("127.0.0.1", port, HOST)
    assert not step.ok and "does not verify" in step.detail and "kubectl describe certificate" in step.detail
    assert not system.ok  # a self-signed certificate is not trusted by the system roots


def test_certificate_for_another_host_fails(tmp_path: Path) -> None:
    cert, key = self_signed("other.example.com")
    with https_server(tmp_path, cert, key) as port:
        step = tls_chain.check_chain("127.0.0.1", port, HOST, ca_pem=cert)
    assert not step.ok and "does not verify" in step.detail


def test_nothing_listening_is_one_line() -> None:
    step = tls_chain.check_chain("127.0.0.1", 9, HOST, timeout_s=2)
    assert not step.ok and step.detail.startswith("no TLS handshake with 127.0.0.1:9")


# ---- which host, port and trust the smoke suite uses --------------------------------------------------

INGRESS = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
           "metadata": {"name": "tasknote", "namespace": "tasknote-dev"},
           "spec": {"tls": [{"hosts": [HOST], "secretName": "tasknote-tls"}], "rules": [{"host": HOST}]}}


def recorded_checks(monkeypatch: Any) -> list[tuple[Any, ...]]:
    """What check_chain is asked (the network handshake itself is tested above)."""
    seen: list[tuple[Any, ...]] = []

    def check(*args: Any) -> Outcome:
        seen.append(args)
        return Outcome("tls", PASSED, 0.0)

    monkeypatch.setattr(tls_chain, "check_chain", check)
    return seen


def test_kind_checks_localhost_443_against_the_secrets_ca(monkeypatch: Any) -> None:
    """The Ingress and the TLS Secret as the API returns them (cert-manager writes tls.crt, tls.key
    and ca.crt into the Secret; only the public ca.crt is read)."""
    port = FakePort(Target("kind", "kind-tasknote"))
    port.seed(INGRESS, {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
                        "metadata": {"name": "tasknote-tls", "namespace": "tasknote-dev"},
                        "data": {"ca.crt": base64.b64encode(b"-----BEGIN CERTIFICATE-----\nX\n").decode()}})
    seen = recorded_checks(monkeypatch)
    step = smoke_targets.tls_step(port, port.target, "tasknote-dev")
    assert step is not None and step.ok
    assert seen == [("127.0.0.1", 443, HOST, "-----BEGIN CERTIFICATE-----\nX\n")]


def test_k3s_checks_the_public_host_against_the_system_roots(monkeypatch: Any) -> None:
    port = FakePort(Target("k3s", "tasknote-k3s"))
    ingress = json.loads(json.dumps(INGRESS))
    ingress["metadata"]["namespace"] = "tasknote-prod"
    ingress["spec"]["tls"][0]["hosts"] = ["tasknote.example.com"]
    port.seed(ingress)
    seen = recorded_checks(monkeypatch)
    smoke_targets.tls_step(port, port.target, "tasknote-prod")
    assert seen == [("tasknote.example.com", 443, "tasknote.example.com")]


def test_no_tls_on_the_ingress_means_no_step(monkeypatch: Any) -> None:
    port = FakePort(Target("kind", "kind-tasknote"))
    port.seed({**INGRESS, "spec": {"rules": [{"host": HOST}]}})
    assert smoke_targets.tls_step(port, port.target, "tasknote-dev") is None
