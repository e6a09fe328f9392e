"""The values of the Secret a `secrets.seal` command line describes: its type's own options read
(env files and literals, a registry login, a certificate and key), any other value option refused."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from gitops.core.errors import GitOpsError
from gitops.secrets import inputs, secret_types

# kubectl's subcommand names (create secret generic|docker-registry|tls) and the type names.
TYPE_ALIASES = {
    "opaque": secret_types.OPAQUE, "generic": secret_types.OPAQUE,
    "docker-registry": secret_types.DOCKER_CONFIG_JSON, "dockerconfigjson": secret_types.DOCKER_CONFIG_JSON,
    "tls": secret_types.TLS,
}


def secret_type_of(spelling: str) -> str:
    return secret_types.check_type(TYPE_ALIASES.get(spelling.lower(), spelling))


@dataclass(frozen=True)
class Request:
    """What the command line gave, before anything is read."""

    secret_type: str = secret_types.OPAQUE
    sources: inputs.Sources = field(default_factory=inputs.Sources)
    docker_server: str = ""
    docker_username: str = ""
    docker_email: str = ""
    cert: str = ""
    key: str = ""

    def given(self) -> dict[str, bool]:
        return {
            "--from-literal": bool(self.sources.literals), "--from-file": bool(self.sources.files),
            "--from-env-file": bool(self.sources.env_files), "--stdin": self.sources.stdin_env,
            "--docker-server": bool(self.docker_server), "--docker-username": bool(self.docker_username),
            "--docker-email": bool(self.docker_email), "--cert": bool(self.cert), "--key": bool(self.key),
        }


def check(request: Request) -> Request:
    """Refuse options the type would ignore, before anything is read or prompted for."""
    secret_types.check_options(request.secret_type, request.given())
    return request


def docker_password(terminal: inputs.Terminal) -> bytes:
    if terminal.stdin_is_tty:
        return terminal.prompt("the registry password")
    return inputs.one_stdin_value(terminal.read_stdin, "registry password")


def read_pem(path: str, option: str) -> bytes:
    if not path:
        raise GitOpsError(f"a TLS Secret needs {option}; give the PEM file.")
    try:
        return Path(path).expanduser().read_bytes()
    except OSError as exc:
        raise GitOpsError(f"cannot read {path} ({exc.strerror}); give a readable {option} file.") from None


def read_values(request: Request, terminal: inputs.Terminal) -> dict[str, bytes]:
    """The Secret's data, built as `kubectl create secret <type>` would build it."""
    if request.secret_type == secret_types.DOCKER_CONFIG_JSON:
        server = request.docker_server or secret_types.DEFAULT_DOCKER_SERVER
        return secret_types.docker_config_json(server, os.fsencode(request.docker_username),
                                               docker_password(terminal), request.docker_email)
    if request.secret_type == secret_types.TLS:
        return secret_types.tls_data(read_pem(request.cert, "--cert"), read_pem(request.key, "--key"),
                                     request.cert, request.key)
    return inputs.collect(request.sources, terminal)
