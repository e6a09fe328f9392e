"""Bearer-token flow against the real registry (registry:2, Debian's distribution 2.8) with token auth.

The registry is configured the way Docker Hub, GHCR or Harbor are: every /v2/ request without a
token gets 401 and `WWW-Authenticate: Bearer realm=...,service=...,scope=...`. The token service
is A MINIMAL TOKEN ENDPOINT IN THIS TEST (an http.server): it issues RS256 JWTs signed with a key
made here, whose certificate the registry trusts (auth.token.rootcertbundle). Docker itself
pushes through it, then gitops.images.registry resolves the digest through the same challenge.
"""

from __future__ import annotations

import base64
import datetime
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from gitops.core import run
from gitops.core.errors import GitOpsError
from gitops.images import registry
from support.localhttp import QuietHandler, serve
from support.registry import running_registry

SERVICE = "tasknote-test-registry"
ISSUER = "tasknote-test-token-endpoint"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class TokenEndpoint:
    """The test's token service: grants what is asked, optionally only to one Basic user."""

    key: rsa.RSAPrivateKey
    cert: x509.Certificate
    url: str = ""
    require: tuple[str, str] | None = None
    requests: list[dict[str, Any]] = field(default_factory=list)

    def token(self, scope: str) -> str:
        access = []
        for item in filter(None, scope.split(" ")):
            kind, name, actions = item.split(":")
            access.append({"type": kind, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256",
                  "x5c": [base64.b64encode(self.cert.public_bytes(serialization.Encoding.DER)).decode()]}
        claims = {"iss": ISSUER, "sub": "", "aud": SERVICE, "iat": now, "nbf": now - 30, "exp": now + 300,
                  "jti": uuid.uuid4().hex, "access": access}
        signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
        signature = self.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{b64url(signature)}"


def make_key_and_cert() -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ISSUER)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(hours=2))
            .sign(key, hashes.SHA256()))
    return key, cert


@pytest.fixture(scope="module")
def token_endpoint() -> Iterator[TokenEndpoint]:
    endpoint = TokenEndpoint(*make_key_and_cert())

    class Handler(QuietHandler):
        def do_GET(self) -> None:
            query = parse_qs(urlparse(self.path).query)
            auth = self.headers.get("Authorization", "")
            endpoint.requests.append({"query": query, "basic": auth.startswith("Basic ")})
            if endpoint.require is not None:
                expected = "Basic " + base64.b64encode(":".join(endpoint.require).encode()).decode()
                if auth != expected:
                    self.send_response(401)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
            token = endpoint.token(" ".join(query.get("scope", [])))
            self.reply_json(200, {"token": token, "access_token": token, "expires_in": 300})

    with serve(Handler) as base_url:
        endpoint.url = f"{base_url}/token"
        yield endpoint


@pytest.fixture(scope="module")
def token_registry(token_endpoint: TokenEndpoint, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    auth_dir = tmp_path_factory.mktemp("registry-auth")
    auth_dir.chmod(0o755)  # the registry runs as the docker-registry user
    (auth_dir / "root.pem").write_bytes(token_endpoint.cert.public_bytes(serialization.Encoding.PEM))
    (auth_dir / "config.yml").write_text(f"""\
version: 0.1
storage:
  filesystem:
    rootdirectory: /var/lib/registry
http:
  addr: :5000
auth:
  token:
    realm: {token_endpoint.url}
    service: {SERVICE}
    issuer: {ISSUER}
    rootcertbundle: /auth/root.pem
""")
    for item in auth_dir.iterdir():
        item.chmod(0o644)
    with running_registry(["-v", f"{auth_dir}:/auth:ro"], ["/auth/config.yml"], ready_status=401) as host:
        yield host


@pytest.fixture(scope="module")
def pushed_digest(token_registry: str) -> Iterator[str]:
    ref = f"{token_registry}/acme/base:1.0"
    run.run(["docker", "tag", "debian:trixie-slim", ref])
    try:
        result = run.run(["docker", "push", ref], timeout=300)
        digests = [word for word in result.stdout.split() if word.startswith("sha256:")]
        assert digests, result.stdout
        yield digests[-1]
    finally:
        run.run(["docker", "image", "rm", ref], check=False)


def test_registry_demands_a_bearer_token(token_registry: str) -> None:
    answer = requests.get(f"http://{token_registry}/v2/acme/base/manifests/1.0", timeout=5)
    assert answer.status_code == 401
    challenge = registry.parse_challenge(answer.headers["WWW-Authenticate"])
    assert challenge.scheme == "bearer" and challenge.params["service"] == SERVICE


def test_registry_checks_the_token_signature(token_registry: str, pushed_digest: str,
                                             token_endpoint: TokenEndpoint) -> None:
    """The 401s are real: a token from another key is refused, the endpoint's own is accepted."""
    url = f"http://{token_registry}/v2/acme/base/manifests/1.0"
    accept = {"Accept": registry.ACCEPT}
    forged = TokenEndpoint(*make_key_and_cert()).token("repository:acme/base:pull")
    refused = requests.get(url, headers={**accept, "Authorization": f"Bearer {forged}"}, timeout=5)
    assert refused.status_code == 401
    good = token_endpoint.token("repository:acme/base:pull")
    answer = requests.get(url, headers={**accept, "Authorization": f"Bearer {good}"}, timeout=5)
    assert answer.status_code == 200 and answer.headers["Docker-Content-Digest"] == pushed_digest


def test_anonymous_token_flow_resolves_the_pushed_digest(token_registry: str, pushed_digest: str,
                                                         token_endpoint: TokenEndpoint,
                                                         tmp_path: Path) -> None:
    token_endpoint.requests.clear()
    env = {"DOCKER_CONFIG": str(tmp_path)}
    assert registry.resolve(f"{token_registry}/acme/base", "1.0", env=env) == pushed_digest
    [asked] = token_endpoint.requests
    assert asked["query"]["scope"] == ["repository:acme/base:pull"] and not asked["basic"]


def test_token_flow_with_docker_config_credentials(token_registry: str, pushed_digest: str,
                                                   token_endpoint: TokenEndpoint, tmp_path: Path) -> None:
    token_endpoint.require = ("robot", "robot-pass-for-test")
    try:
        with pytest.raises(GitOpsError, match="refused anonymous access"):
            registry.resolve(f"{token_registry}/acme/base", "1.0", env={"DOCKER_CONFIG": str(tmp_path)})
        auth = base64.b64encode(b"robot:robot-pass-for-test").decode()
        (tmp_path / "config.json").write_text(json.dumps({"auths": {token_registry: {"auth": auth}}}))
        assert registry.resolve(f"{token_registry}/acme/base", "1.0",
                                env={"DOCKER_CONFIG": str(tmp_path)}) == pushed_digest
    finally:
        token_endpoint.require = None


def test_unknown_tag_behind_token_auth(token_registry: str, pushed_digest: str, tmp_path: Path) -> None:
    expected = f"registry {token_registry} has no tag 2.0 for acme/base; push it first"
    with pytest.raises(GitOpsError, match=expected):
        registry.resolve(f"{token_registry}/acme/base", "2.0", env={"DOCKER_CONFIG": str(tmp_path)})
