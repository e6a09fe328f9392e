"""The registry client against a registry stand-in on loopback (a test-only http.server).

The stand-in speaks just enough of the OCI distribution API and of the Docker token protocol
to exercise the client: a 401 with a Bearer challenge, a token endpoint that checks Basic
credentials, manifests with their media types, 429/503 answers to retry. It is not a registry;
the real-registry round trip is tests/integration/test_release_flow.py.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from gitops.core.errors import GitOpsError
from gitops.images import registry
from support.localhttp import QuietHandler, serve
from support.ports import free_port

INDEX = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                    "manifests": []}).encode()
INDEX_DIGEST = registry.digest_of(INDEX)
TOKEN = "stand-in-token-123"


@dataclass
class Behaviour:
    """What the stand-in does; tests tweak it."""

    bearer: bool = True
    basic_registry: tuple[str, str] | None = None  # manifests demand Basic auth (no token service)
    basic_user: tuple[str, str] | None = None  # token endpoint demands these credentials
    fail_first: int = 0  # answer this many manifest requests with fail_status first
    fail_status: int = 503
    retry_after: str = ""
    claimed_digest: str | None = None  # Docker-Content-Digest to send (default: the true one)
    media_type: str = "application/vnd.oci.image.index.v1+json"
    seen: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)


MANIFEST_PATHS = ("/v2/acme/app/manifests/1.0", f"/v2/acme/app/manifests/{INDEX_DIGEST}")
INDEX_TYPES = ("application/vnd.docker.distribution.manifest.list.v2+json",
               "application/vnd.oci.image.index.v1+json")


def make_handler(b: Behaviour) -> type[QuietHandler]:
    class Handler(QuietHandler):
        def reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            b.seen.append(("GET", self.path, dict(self.headers)))
            host = f"http://127.0.0.1:{self.server.server_address[1]}"
            if self.path.startswith("/token"):
                if b.basic_user:
                    expected = "Basic " + base64.b64encode(":".join(b.basic_user).encode()).decode()
                    if self.headers.get("Authorization") != expected:
                        return self.reply(401)
                return self.reply(200, json.dumps({"token": TOKEN}).encode(),
                                  {"Content-Type": "application/json"})
            if b.basic_registry is not None:
                expected = "Basic " + base64.b64encode(":".join(b.basic_registry).encode()).decode()
                if self.headers.get("Authorization") != expected:
                    return self.reply(401, b"{}", {"WWW-Authenticate": 'Basic realm="stand-in"'})
            elif b.bearer and self.headers.get("Authorization") != f"Bearer {TOKEN}":
                challenge = (f'Bearer realm="{host}/token",service="stand-in",'
                             'scope="repository:acme/app:pull"')
                return self.reply(401, b"{}", {"WWW-Authenticate": challenge})
            if b.fail_first > 0:
                b.fail_first -= 1
                return self.reply(b.fail_status, b"", {"Retry-After": b.retry_after} if b.retry_after else {})
            if self.path in MANIFEST_PATHS:
                # The Accept header is checked in the test body (assert_asked_for_indexes): an
                # assert here would fail in the server thread and look like a connection error.
                return self.reply(200, INDEX, {"Content-Type": b.media_type,
                                               "Docker-Content-Digest": b.claimed_digest or INDEX_DIGEST})
            return self.reply(404, b'{"errors":[{"code":"MANIFEST_UNKNOWN"}]}')

    return Handler


@pytest.fixture
def stand_in() -> Iterator[tuple[str, Behaviour]]:
    behaviour = Behaviour()
    with serve(make_handler(behaviour)) as url:
        yield url.removeprefix("http://"), behaviour


def assert_asked_for_indexes(b: Behaviour) -> None:
    """Every manifest request the stand-in answered accepted both multi-arch index types (else a
    real registry would answer a single-platform manifest and we would pin the wrong digest)."""
    accepts = [headers.get("Accept", "") for _, path, headers in b.seen if path in MANIFEST_PATHS]
    assert accepts, "the client never asked for the manifest"
    for accept in accepts:
        for media_type in INDEX_TYPES:
            assert media_type in accept, f"Accept {accept!r} lacks {media_type}"


NO_CREDS = {"DOCKER_CONFIG": "/nonexistent"}
sleeps: list[float] = []


def resolve(host: str, tag: str = "1.0", env: dict[str, str] | None = None) -> str:
    return registry.resolve(f"{host}/acme/app", tag, env=env or NO_CREDS, sleep=sleeps.append)


def test_anonymous_bearer_flow_resolves_the_index_digest(stand_in: tuple[str, Behaviour]) -> None:
    host, b = stand_in
    assert resolve(host) == INDEX_DIGEST
    assert_asked_for_indexes(b)
    paths = [path for _, path, _ in b.seen]
    assert paths[0] == "/v2/acme/app/manifests/1.0"
    assert paths[1].startswith("/token?") and "scope=repository%3Aacme%2Fapp%3Apull" in paths[1]
    assert "service=stand-in" in paths[1]
    assert "Authorization" not in b.seen[1][2]  # anonymous token request
    assert b.seen[2][2]["Authorization"] == f"Bearer {TOKEN}"


def test_token_endpoint_gets_docker_config_credentials(stand_in: tuple[str, Behaviour],
                                                       tmp_path: Any) -> None:
    host, b = stand_in
    b.basic_user = ("robot", "s3cret-pass")
    with pytest.raises(GitOpsError, match="refused anonymous access") as info:
        resolve(host)
    assert "s3cret" not in str(info.value)
    auth = base64.b64encode(b"robot:s3cret-pass").decode()
    (tmp_path / "config.json").write_text(json.dumps({"auths": {host: {"auth": auth}}}))
    assert resolve(host, env={"DOCKER_CONFIG": str(tmp_path)}) == INDEX_DIGEST
    assert_asked_for_indexes(b)


def test_wrong_credentials_are_one_sentence_without_the_secret(stand_in: tuple[str, Behaviour]) -> None:
    host, b = stand_in
    b.basic_user = ("robot", "right")
    with pytest.raises(GitOpsError, match="refused the configured credentials") as info:
        resolve(host, env={"REGISTRY_USERNAME": "robot", "REGISTRY_PASSWORD": "wrong-secret"})
    assert "wrong-secret" not in str(info.value) and "\n" not in str(info.value)


def test_resolving_by_digest_verifies_it(stand_in: tuple[str, Behaviour]) -> None:
    host, b = stand_in
    assert registry.verify(f"{host}/acme/app", INDEX_DIGEST, env=NO_CREDS) == INDEX_DIGEST
    assert_asked_for_indexes(b)
    with pytest.raises(GitOpsError, match="has no digest sha256:0000"):
        registry.verify(f"{host}/acme/app", "sha256:" + "0" * 64, env=NO_CREDS)


def test_unknown_tag_says_push_it_first(stand_in: tuple[str, Behaviour]) -> None:
    host, _ = stand_in
    with pytest.raises(GitOpsError) as info:
        resolve(host, "9.9.9")
    assert str(info.value) == f"registry {host} has no tag 9.9.9 for acme/app; push it first."


@pytest.mark.parametrize("status", [429, 503])
def test_429_and_5xx_are_retried_with_backoff(stand_in: tuple[str, Behaviour], status: int) -> None:
    host, b = stand_in
    b.bearer, b.fail_first, b.fail_status = False, 2, status
    sleeps.clear()
    assert resolve(host) == INDEX_DIGEST
    assert_asked_for_indexes(b)
    assert sleeps == [0.5, 1.0]  # exponential backoff, no real waiting in the test


def test_retry_after_is_honoured(stand_in: tuple[str, Behaviour]) -> None:
    host, b = stand_in
    b.bearer, b.fail_first, b.retry_after = False, 1, "3"
    sleeps.clear()
    assert resolve(host) == INDEX_DIGEST
    assert_asked_for_indexes(b)
    assert sleeps == [3.0]


def test_a_registry_that_keeps_failing_is_one_sentence(stand_in: tuple[str, Behaviour]) -> None:
    host, b = stand_in
    b.bearer, b.fail_first = False, 99
    with pytest.raises(GitOpsError, match=r"cannot reach .* \(HTTP 503 after 4 attempts\)"):
        resolve(host)


def test_a_digest_header_that_does_not_match_the_body_is_refused(stand_in: tuple[str, Behaviour]) -> None:
    host, b = stand_in
    b.bearer, b.claimed_digest = False, "sha256:" + "f" * 64
    with pytest.raises(GitOpsError, match="refusing to pin it"):
        resolve(host)
    assert_asked_for_indexes(b)


def test_a_body_that_is_not_a_manifest_is_refused(stand_in: tuple[str, Behaviour]) -> None:
    host, b = stand_in
    b.bearer, b.media_type = False, "text/html"
    with pytest.raises(GitOpsError, match="not an image manifest or index"):
        resolve(host)
    assert_asked_for_indexes(b)


def test_network_error_is_one_sentence() -> None:
    port = free_port()  # a port nobody listens on
    with pytest.raises(GitOpsError) as info:
        resolve(f"127.0.0.1:{port}")
    assert str(info.value).startswith(f"cannot reach 127.0.0.1:{port} (ConnectionError after 4 attempts)")
    assert "\n" not in str(info.value)


def test_basic_challenge_is_answered_with_credentials(stand_in: tuple[str, Behaviour]) -> None:
    host, b = stand_in
    b.basic_registry = ("robot", "basic-pass")
    with pytest.raises(GitOpsError, match="requires basic authentication for acme/app; run docker login"):
        resolve(host)
    creds = {"REGISTRY_USERNAME": "robot", "REGISTRY_PASSWORD": "basic-pass"}
    assert resolve(host, env=creds) == INDEX_DIGEST
    assert_asked_for_indexes(b)
