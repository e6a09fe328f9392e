"""Digest resolution over the OCI distribution HTTP API: a tag is only a pointer, the digest is the pin.

The manifest is fetched with Accept headers for an OCI index, a Docker manifest list, an OCI image
manifest and a Docker v2 manifest, so a multi-platform tag resolves to its index (what a kubelet
pulls). The digest is computed from the body and compared with Docker-Content-Digest: neither the
registry's header nor the tag is trusted alone. Bearer-token challenges (anonymous or with
credentials from the environment or the Docker config / credential helper) and 429/5xx retries
with backoff are handled here; credentials never reach a log line or an error message.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import requests

from gitops.core import run
from gitops.core.errors import GitOpsError
from gitops.core.imageref import DOCKER_HUB, check_digest, check_tag, parse_image_name

MANIFEST_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
ACCEPT = ", ".join(MANIFEST_TYPES)
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
DEFAULT_TIMEOUT_S = 15.0
DEFAULT_ATTEMPTS = 4


def digest_of(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


def is_loopback(registry: str) -> bool:
    host = registry.rsplit(":", 1)[0] if not registry.startswith("[") else registry.split("]")[0] + "]"
    return host in ("localhost", "[::1]") or host.startswith("127.")


def base_url(registry: str) -> str:
    # Docker itself talks plain HTTP to loopback registries; everything else is HTTPS.
    return f"{'http' if is_loopback(registry) else 'https'}://{registry}"


# ---------------------------------------------------------------------------------------------
# WWW-Authenticate challenges
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Challenge:
    scheme: str
    params: Mapping[str, str]


_PARAM_RE = re.compile(r'\s*([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))\s*,?')


def parse_challenge(header: str) -> Challenge:
    """`Bearer realm="https://auth/token",service="registry",scope="repository:x:pull"` → Challenge."""
    scheme, _, rest = header.strip().partition(" ")
    if not scheme:
        raise GitOpsError("the registry sent an empty WWW-Authenticate challenge; it cannot be answered.")
    params: dict[str, str] = {}
    pos = 0
    while pos < len(rest):
        match = _PARAM_RE.match(rest, pos)
        if not match or match.end() == pos:
            break
        quoted, bare = match.group(2), match.group(3)
        value = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else bare
        params[match.group(1).lower()] = value
        pos = match.end()
    return Challenge(scheme.lower(), params)


# ---------------------------------------------------------------------------------------------
# Credentials: environment first, then the Docker config (auths, credHelpers, credsStore)
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Credentials:
    username: str
    password: str

    def __repr__(self) -> str:  # never print the secret, even in a traceback's locals
        return f"Credentials(username={self.username!r}, password=<hidden>)"


def docker_config_path(env: Mapping[str, str]) -> Path:
    return Path(env.get("DOCKER_CONFIG") or Path.home() / ".docker") / "config.json"


def _config_keys(registry: str) -> tuple[str, ...]:
    if registry == DOCKER_HUB:
        return ("https://index.docker.io/v1/", "index.docker.io", "docker.io", registry)
    return (registry, f"https://{registry}", f"http://{registry}")


def credential_helper(helper: str, registry: str) -> Credentials | None:
    """Ask docker-credential-<helper> (the secret arrives on its stdout, never on argv)."""
    result = run.run([f"docker-credential-{helper}", "get"], input_text=registry, check=False, timeout=30)
    if result.returncode != 0:
        return None
    try:
        data = json.loads(result.stdout)
    except ValueError:
        return None
    if not isinstance(data, dict) or not data.get("Secret"):
        return None
    return Credentials(str(data.get("Username", "")), str(data["Secret"]))


def credentials_for(registry: str, env: Mapping[str, str] | None = None,
                    helper: Callable[[str, str], Credentials | None] = credential_helper,
                    ) -> Credentials | None:
    """REGISTRY_USERNAME/REGISTRY_PASSWORD, else the Docker config's entry for this registry."""
    env = os.environ if env is None else env
    if env.get("REGISTRY_USERNAME") and env.get("REGISTRY_PASSWORD"):
        return Credentials(env["REGISTRY_USERNAME"], env["REGISTRY_PASSWORD"])
    path = docker_config_path(env)
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except ValueError:
        raise GitOpsError(f"{path} is not valid JSON; fix or remove it.") from None
    if not isinstance(config, dict):
        return None
    keys = _config_keys(registry)
    helpers = config.get("credHelpers") or {}
    for key in keys:
        if key in helpers:
            return helper(str(helpers[key]), registry)
    auths = config.get("auths") or {}
    for key in keys:
        entry = auths.get(key)
        if isinstance(entry, dict) and entry.get("auth"):
            try:
                user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
            except ValueError:
                raise GitOpsError(f"{path} has a malformed auth entry for {key}; run docker login again.") \
                    from None
            return Credentials(user, password)
    if config.get("credsStore"):
        return helper(str(config["credsStore"]), registry)
    return None


# ---------------------------------------------------------------------------------------------
# The client
# ---------------------------------------------------------------------------------------------

@dataclass
class Client:
    """One registry: retries, the token dance, and manifest fetches."""

    registry: str
    session: requests.Session
    credentials: Credentials | None = None
    attempts: int = DEFAULT_ATTEMPTS
    timeout_s: float = DEFAULT_TIMEOUT_S
    sleep: Callable[[float], None] = time.sleep
    backoff_s: float = 0.5
    url: str = ""

    def __post_init__(self) -> None:
        self.url = self.url or base_url(self.registry)
        self._tokens: dict[str, str] = {}

    def _send(self, method: str, url: str, headers: Mapping[str, str],
              auth: tuple[str, str] | None = None, params: Mapping[str, str] | None = None,
              ) -> requests.Response:
        """One request with retries on 429/5xx and connection errors; network trouble is one sentence."""
        last_error = ""
        for attempt in range(self.attempts):
            try:
                response = self.session.request(method, url, headers=dict(headers), auth=auth,
                                                params=params, timeout=self.timeout_s,
                                                allow_redirects=True)
            except requests.RequestException as exc:
                last_error = type(exc).__name__
                response = None
            if response is not None and response.status_code not in RETRY_STATUSES:
                return response
            if response is not None:
                last_error = f"HTTP {response.status_code}"
            if attempt + 1 < self.attempts:
                self.sleep(self._delay(response, attempt))
        host = url.split("/")[2]
        raise GitOpsError(
            f"cannot reach {host} ({last_error} after {self.attempts} attempts); "
            "check the registry address and your network, then retry."
        )

    def _delay(self, response: requests.Response | None, attempt: int) -> float:
        retry_after = response.headers.get("Retry-After", "") if response is not None else ""
        if retry_after.isdigit():
            return min(float(retry_after), 30.0)
        return float(self.backoff_s * (2 ** attempt))

    def _token(self, challenge: Challenge, scope: str) -> str:
        realm = challenge.params.get("realm")
        if not realm:
            raise GitOpsError(f"{self.registry} sent a Bearer challenge without a realm; cannot answer it.")
        params = {"service": challenge.params.get("service", ""),
                  "scope": challenge.params.get("scope") or scope}
        params = {k: v for k, v in params.items() if v}
        auth = (self.credentials.username, self.credentials.password) if self.credentials else None
        response = self._send("GET", realm, {"Accept": "application/json"}, auth=auth, params=params)
        if response.status_code in (401, 403):
            who = "the configured credentials" if self.credentials else "anonymous access"
            raise GitOpsError(
                f"the token service of {self.registry} refused {who} for {params.get('scope', scope)}; "
                "run docker login (or set REGISTRY_USERNAME/REGISTRY_PASSWORD) and retry."
            )
        if response.status_code != 200:
            raise GitOpsError(f"the token service of {self.registry} answered HTTP {response.status_code}.")
        try:
            data = response.json()
        except ValueError:
            data = None
        token = data.get("token") or data.get("access_token") if isinstance(data, dict) else None
        if not token:
            raise GitOpsError(f"the token service of {self.registry} answered without a token.")
        return str(token)

    def get(self, path: str, repository: str, headers: Mapping[str, str]) -> requests.Response:
        """GET a /v2/ path, answering one Basic or Bearer challenge if the registry asks."""
        url = f"{self.url}/v2/{path}"
        scope = f"repository:{repository}:pull"
        sent = dict(headers)
        if scope in self._tokens:
            sent["Authorization"] = f"Bearer {self._tokens[scope]}"
        response = self._send("GET", url, sent)
        if response.status_code != 401:
            return response
        challenge = parse_challenge(response.headers.get("WWW-Authenticate", ""))
        if challenge.scheme == "bearer":
            self._tokens[scope] = self._token(challenge, scope)
            sent["Authorization"] = f"Bearer {self._tokens[scope]}"
            return self._send("GET", url, sent)
        if challenge.scheme == "basic" and self.credentials:
            return self._send("GET", url, sent, auth=(self.credentials.username, self.credentials.password))
        raise GitOpsError(
            f"{self.registry} requires {challenge.scheme} authentication for {repository}; "
            "run docker login (or set REGISTRY_USERNAME/REGISTRY_PASSWORD) and retry."
        )

    def manifest_digest(self, repository: str, reference: str) -> str:
        """The digest of the manifest (index, list or image manifest) a tag or digest points to."""
        response = self.get(f"{repository}/manifests/{reference}", repository, {"Accept": ACCEPT})
        if response.status_code == 404:
            what = "digest" if reference.startswith("sha256:") else "tag"
            raise GitOpsError(
                f"registry {self.registry} has no {what} {reference} for {repository}; push it first."
            )
        if response.status_code in (401, 403):
            raise GitOpsError(
                f"{self.registry} denied access to {repository} (HTTP {response.status_code}); "
                "check your credentials."
            )
        if response.status_code != 200:
            raise GitOpsError(
                f"registry {self.registry} answered HTTP {response.status_code} for {repository}:{reference}."
            )
        media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        if media_type not in MANIFEST_TYPES:
            raise GitOpsError(
                f"registry {self.registry} sent {media_type or 'no media type'} for "
                f"{repository}:{reference}, "
                "not an image manifest or index."
            )
        computed = digest_of(response.content)
        claimed = response.headers.get("Docker-Content-Digest")
        if claimed and claimed != computed:
            raise GitOpsError(
                f"registry {self.registry} claims {claimed} for {repository}:{reference} but the manifest "
                f"hashes to {computed}; refusing to pin it."
            )
        if reference.startswith("sha256:") and computed != reference:
            raise GitOpsError(
                f"registry {self.registry} returned a manifest hashing to {computed} for {reference}; "
                "refusing to pin it."
            )
        return computed


def client(registry: str, *, session: requests.Session | None = None,
           env: Mapping[str, str] | None = None, sleep: Callable[[float], None] = time.sleep) -> Client:
    return Client(registry, session or requests.Session(), credentials_for(registry, env), sleep=sleep)


def resolve(image: str, tag: str, *, session: requests.Session | None = None,
            env: Mapping[str, str] | None = None, sleep: Callable[[float], None] = time.sleep) -> str:
    """The digest `image:tag` points to right now, e.g. resolve("ghcr.io/org/tasknote", "1.4.2")."""
    name = parse_image_name(image)
    check_tag(tag)
    return client(name.registry, session=session, env=env, sleep=sleep).manifest_digest(name.repository, tag)


def verify(image: str, digest: str, *, session: requests.Session | None = None,
           env: Mapping[str, str] | None = None, sleep: Callable[[float], None] = time.sleep) -> str:
    """Check the registry holds `image@digest` (promotion copies a digest; it must still be there)."""
    name = parse_image_name(image)
    check_digest(digest)
    return client(name.registry, session=session, env=env, sleep=sleep).manifest_digest(
        name.repository, digest)
