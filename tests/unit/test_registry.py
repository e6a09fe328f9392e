"""Pure parts of the registry client: digests, tags, image names, challenges, credentials."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from gitops.core import imageref
from gitops.core.errors import GitOpsError
from gitops.images import registry
from gitops.images.registry import Credentials

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize("digest", [DIGEST, "sha256:" + "0" * 64])
def test_good_digests(digest: str) -> None:
    assert imageref.check_digest(digest) == digest


@pytest.mark.parametrize("digest", [
    "", "sha256:", "sha256:" + "a" * 63, "sha256:" + "a" * 65, "sha256:" + "A" * 64,
    "sha512:" + "a" * 64, "a" * 64, "sha256:" + "g" * 64, f" {DIGEST}",
])
def test_malformed_digests_are_one_sentence(digest: str) -> None:
    with pytest.raises(GitOpsError, match="not a sha256 digest") as info:
        imageref.check_digest(digest)
    assert "\n" not in str(info.value)


def test_digest_of_is_sha256_of_the_bytes() -> None:
    empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"  # pragma: allowlist secret
    assert registry.digest_of(b"") == f"sha256:{empty}"


@pytest.mark.parametrize("tag", ["1.4.2", "v1", "latest", "git-0123456789ab", "a" * 128, "_x"])
def test_good_tags(tag: str) -> None:
    assert imageref.check_tag(tag) == tag


@pytest.mark.parametrize("tag", ["", "-x", ".x", "a" * 129, "1.0@sha256", "a/b", "a b"])
def test_bad_tags(tag: str) -> None:
    with pytest.raises(GitOpsError, match="not a valid image tag"):
        imageref.check_tag(tag)


@pytest.mark.parametrize(("name", "host", "repository"), [
    ("ghcr.io/acme/tasknote", "ghcr.io", "acme/tasknote"),
    ("localhost:5001/tasknote", "localhost:5001", "tasknote"),
    ("127.0.0.1:5000/a/b/c", "127.0.0.1:5000", "a/b/c"),
    ("localhost/tasknote", "localhost", "tasknote"),
    ("tasknote", "registry-1.docker.io", "library/tasknote"),
    ("acme/tasknote", "registry-1.docker.io", "acme/tasknote"),
    ("docker.io/acme/tasknote", "registry-1.docker.io", "acme/tasknote"),
    ("docker.io/debian", "registry-1.docker.io", "library/debian"),
])
def test_image_names_split_like_docker(name: str, host: str, repository: str) -> None:
    parsed = imageref.parse_image_name(name)
    assert (parsed.registry, parsed.repository) == (host, repository)


@pytest.mark.parametrize("name", [
    "ghcr.io/acme/tasknote:1.0", f"ghcr.io/acme/tasknote@{DIGEST}", "ghcr.io/Acme/X",
])
def test_image_names_with_tag_digest_or_capitals_are_refused(name: str) -> None:
    with pytest.raises(GitOpsError):
        imageref.parse_image_name(name)


def test_loopback_registries_use_plain_http() -> None:
    assert registry.base_url("127.0.0.1:5000") == "http://127.0.0.1:5000"
    assert registry.base_url("localhost:5001") == "http://localhost:5001"
    assert registry.base_url("ghcr.io") == "https://ghcr.io"
    assert registry.base_url("localhost.evil.example") == "https://localhost.evil.example"


def test_parse_bearer_challenge() -> None:
    challenge = registry.parse_challenge(
        'Bearer realm="https://auth.example/token",service="registry.example",'
        'scope="repository:acme/app:pull,push"'
    )
    assert challenge.scheme == "bearer"
    assert challenge.params == {
        "realm": "https://auth.example/token",
        "service": "registry.example",
        "scope": "repository:acme/app:pull,push",
    }


def test_parse_challenge_with_spaces_escapes_and_bare_values() -> None:
    challenge = registry.parse_challenge('Basic realm="Registry \\"x\\"" , charset=UTF-8')
    assert challenge.scheme == "basic"
    assert challenge.params == {"realm": 'Registry "x"', "charset": "UTF-8"}


def test_empty_challenge_is_one_sentence() -> None:
    with pytest.raises(GitOpsError, match="empty WWW-Authenticate"):
        registry.parse_challenge("")


def test_credentials_from_the_environment_come_first(tmp_path: Path) -> None:
    env = {"REGISTRY_USERNAME": "bot", "REGISTRY_PASSWORD": "pw-from-env", "DOCKER_CONFIG": str(tmp_path)}
    assert registry.credentials_for("ghcr.io", env) == Credentials("bot", "pw-from-env")


def write_config(tmp_path: Path, config: dict[str, object]) -> dict[str, str]:
    (tmp_path / "config.json").write_text(json.dumps(config))
    return {"DOCKER_CONFIG": str(tmp_path)}


def test_credentials_from_docker_config_auths(tmp_path: Path) -> None:
    auth = base64.b64encode(b"me:pw-in-config").decode()
    env = write_config(tmp_path, {"auths": {"https://ghcr.io": {"auth": auth}}})
    assert registry.credentials_for("ghcr.io", env) == Credentials("me", "pw-in-config")
    assert registry.credentials_for("quay.io", env) is None


def test_credentials_from_a_credential_helper(tmp_path: Path) -> None:
    env = write_config(tmp_path, {"credHelpers": {"ghcr.io": "gh"}, "credsStore": "desktop"})
    asked: list[tuple[str, str]] = []

    def helper(name: str, host: str) -> Credentials:
        asked.append((name, host))
        return Credentials("u", "from-helper")

    assert registry.credentials_for("ghcr.io", env, helper=helper) == Credentials("u", "from-helper")
    assert registry.credentials_for("quay.io", env, helper=helper) == Credentials("u", "from-helper")
    assert asked == [("gh", "ghcr.io"), ("desktop", "quay.io")]


def test_no_docker_config_means_anonymous(tmp_path: Path) -> None:
    assert registry.credentials_for("ghcr.io", {"DOCKER_CONFIG": str(tmp_path / "none")}) is None


def test_broken_docker_config_is_one_sentence(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{")
    with pytest.raises(GitOpsError, match="not valid JSON"):
        registry.credentials_for("ghcr.io", {"DOCKER_CONFIG": str(tmp_path)})


def test_credentials_never_show_their_secret() -> None:
    creds = Credentials("me", "hunter2-secret")
    assert "hunter2" not in repr(creds) and "hunter2" not in str(creds)
