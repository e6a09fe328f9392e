"""The data of typed Secrets (Opaque, docker registry, TLS) and the size the API server accepts.

Each type's data is built as `kubectl create secret <type> --dry-run=client` builds it, so a
sealed Secret decrypts to the same bytes (tests/unit/test_secret_types_kubectl.py runs the
pinned kubectl on the same inputs):

- docker-registry (kubectl pkg/cmd/create/create_secret_docker.go): one key `.dockerconfigjson`
  holding Go's json.Marshal of {"auths": {SERVER: {"username", "password", "email", "auth"}}},
  fields in that order, empty ones omitted, auth = base64("USER:PASSWORD"). Go's encoder
  escapes <, >, & and U+2028/U+2029 (encoding/json, HTML-safe by default), which Python's
  json module does not, so those are added here.
- tls (create_secret_tls.go): `tls.crt` and `tls.key` hold the two files' bytes unchanged,
  after tls.X509KeyPair checked that the key belongs to the first certificate.
- Every Secret: the values together may not exceed core.MaxSecretSize, 1 MiB
  (kubernetes pkg/apis/core/validation ValidateSecret sums len(value) over data); the API
  server would refuse the unsealed Secret, so sealing one is refused here.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from gitops.core.errors import GitOpsError

OPAQUE = "Opaque"
DOCKER_CONFIG_JSON = "kubernetes.io/dockerconfigjson"
TLS = "kubernetes.io/tls"
TYPES = (OPAQUE, DOCKER_CONFIG_JSON, TLS)
DOCKER_CONFIG_KEY = ".dockerconfigjson"
DEFAULT_DOCKER_SERVER = "https://index.docker.io/v1/"  # kubectl's --docker-server default
MAX_SECRET_BYTES = 1024 * 1024  # core.MaxSecretSize

_GO_HTML_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def check_type(secret_type: str) -> str:
    if secret_type not in TYPES:
        raise GitOpsError(f"unknown Secret type {secret_type!r}; use one of {', '.join(TYPES)}.")
    return secret_type


# The command-line options each type reads; any other value option given is a mistake.
OPTIONS_OF_TYPE = {
    OPAQUE: ("--from-literal", "--from-file", "--from-env-file", "--stdin"),
    DOCKER_CONFIG_JSON: ("--docker-server", "--docker-username", "--docker-email"),
    TLS: ("--cert", "--key"),
}


def check_options(secret_type: str, given: Mapping[str, bool]) -> None:
    """Refuse value options that the chosen type would ignore (they would be silently dropped)."""
    stray = [option for option, used in given.items() if used and option not in OPTIONS_OF_TYPE[secret_type]]
    if stray:
        verb = "does" if len(stray) == 1 else "do"
        raise GitOpsError(f"{', '.join(stray)} {verb} not apply to a {secret_type} Secret; it takes "
                          f"{', '.join(OPTIONS_OF_TYPE[secret_type])}.")


def go_json_string(text: str) -> str:
    """A JSON string as Go's encoding/json writes it (HTML-safe escaping)."""
    encoded = json.dumps(text, ensure_ascii=False)
    return "".join(_GO_HTML_ESCAPES.get(ch, ch) for ch in encoded)


def _text(value: bytes, what: str) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        # Go's encoder would swap the bad bytes for U+FFFD and the registry would refuse the login.
        raise GitOpsError(f"the docker {what} is not valid UTF-8; give it as UTF-8 text.") from None


def docker_config_json(server: str, username: bytes, password: bytes, email: str = "") -> dict[str, bytes]:
    """The data of a kubernetes.io/dockerconfigjson Secret, byte for byte as kubectl makes it."""
    if not server:
        raise GitOpsError("--docker-server is empty; give the registry host, e.g. ghcr.io.")
    if not username or not password:
        raise GitOpsError("a docker registry Secret needs a username and a password; give --docker-username "
                          "and the password on stdin or at the prompt.")
    user, secret = _text(username, "username"), _text(password, "password")
    auth = base64.b64encode(username + b":" + password).decode("ascii")
    fields = [("username", user), ("password", secret), ("email", email), ("auth", auth)]
    entry = ",".join(f"{go_json_string(k)}:{go_json_string(v)}" for k, v in fields if v)
    document = f'{{"auths":{{{go_json_string(server)}:{{{entry}}}}}}}'
    return {DOCKER_CONFIG_KEY: document.encode("utf-8")}


def tls_data(cert_pem: bytes, key_pem: bytes, cert_origin: str, key_origin: str) -> dict[str, bytes]:
    """The data of a kubernetes.io/tls Secret: both files unchanged, once they are known to be a pair."""
    try:
        certs = x509.load_pem_x509_certificates(cert_pem)
    except ValueError:
        raise GitOpsError(f"{cert_origin} holds no PEM certificate; give the certificate file.") from None
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError):
        raise GitOpsError(
            f"{key_origin} is not an unencrypted PEM private key; give the key file (decrypt it first if it "
            "has a passphrase)."
        ) from None
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    mine = key.public_key().public_bytes(serialization.Encoding.DER, public)
    theirs = certs[0].public_key().public_bytes(serialization.Encoding.DER, public)
    if mine != theirs:
        raise GitOpsError(f"{key_origin} is not the private key of the first certificate in {cert_origin}; "
                          "give the matching pair.")
    return {"tls.crt": cert_pem, "tls.key": key_pem}


def check_size(name: str, values: Mapping[str, bytes]) -> None:
    total = sum(len(v) for v in values.values())
    if total > MAX_SECRET_BYTES:
        raise GitOpsError(
            f"Secret {name} would hold {total} bytes, over Kubernetes' limit of {MAX_SECRET_BYTES} bytes "
            "(1 MiB) per Secret; split the values over several Secrets or keep large files out of Secrets."
        )
