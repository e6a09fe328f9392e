"""Pure parts of the compose stack and image build: compose's ps output, when the stack counts
as up or failed, and argv that never carries a secret."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest
from gitops.images import app
from gitops.stack import compose
from support.checkout import ROOT, this_repo


def row(service: str, state: str, health: str = "", code: int = 0) -> dict[str, object]:
    return {"Service": service, "State": state, "Health": health, "ExitCode": code}


HEALTHY = [row("db", "running", "healthy"), row("cache", "running", "healthy"),
           row("api", "running", "healthy"), row("worker", "running", "healthy"),
           row("migrate", "exited", "", 0)]


def test_ps_is_read_as_json_lines_or_as_one_array() -> None:
    lines = "\n".join(json.dumps(r) for r in HEALTHY)
    assert compose.parse_ps(lines) == compose.parse_ps(json.dumps(HEALTHY))
    assert compose.parse_ps(lines)["migrate"].describe() == "exited 0"
    assert compose.parse_ps("") == {}


def test_all_healthy_with_migrate_exited_0_is_done() -> None:
    assert compose.assess(compose.parse_ps(json.dumps(HEALTHY))) == (True, None)


@pytest.mark.parametrize(("changed", "failure"), [
    (row("migrate", "exited", "", 3), "the migrate service exited with code 3"),
    (row("api", "restarting"), "the api service is restarting"),
    (row("worker", "running", "unhealthy"), "the worker service is running (unhealthy)"),
    (row("db", "exited", "", 1), "the db service is exited 1"),
])
def test_a_service_that_cannot_get_healthy_is_named(changed: dict[str, object], failure: str) -> None:
    rows = [changed if r["Service"] == changed["Service"] else r for r in HEALTHY]
    expected = compose.Failure(str(changed["Service"]), failure)
    assert compose.assess(compose.parse_ps(json.dumps(rows))) == (False, expected)


def test_starting_services_are_not_done_and_not_failed() -> None:
    rows = [row("db", "running", "healthy"), row("cache", "running", "healthy"),
            row("api", "running", "starting"), row("migrate", "running")]
    assert compose.assess(compose.parse_ps(json.dumps(rows))) == (False, None)


def test_the_password_goes_to_the_environment_never_to_argv() -> None:
    s = compose.Stack(this_repo(), project="p1", port=18000, image="tasknote:x")
    generated = secrets.token_urlsafe(16)
    argv = s.argv("up", "-d")
    compose_file = str(ROOT / "apps" / "tasknote" / "compose.yaml")
    assert argv[:6] == ["docker", "compose", "-f", compose_file, "-p", "p1"]
    # No credential in compose's environment: only where the credential files are.
    assert s.env(generated) == {"TASKNOTE_STACK": "p1", "TASKNOTE_SECRETS_DIR": "/dev/shm/tasknote-stack-p1",
                               "TASKNOTE_API_PORT": "18000", "TASKNOTE_IMAGE": "tasknote:x"}
    # The one call whose command carries the password (setting the role's): stdin, never argv.
    psql, env, stdin = compose.role_password_command(s, generated)
    assert generated not in " ".join(psql)
    assert generated in stdin and generated not in str(env)


def test_credential_files_name_every_secret_the_compose_file_mounts() -> None:
    files = compose.credential_files("own", "app", "red")
    assert set(files) == set(compose.SECRET_FILES)
    assert files["owner_database_url"] == "postgresql://tasknote:own@db:5432/tasknote"
    assert files["app_database_url"] == "postgresql://tasknote_app:app@db:5432/tasknote"
    assert files["redis_url"] == "redis://tasknote:red@cache:6379/0"
    assert "user default off" in files["redis_conf"].splitlines()
    assert "user tasknote on >red ~* &* +@all -@dangerous" in files["redis_conf"].splitlines()


TOKEN = secrets.token_hex(8)  # a remote URL with a token in it, made at run time


@pytest.mark.parametrize(("url", "clean"), [
    (f"https://x-access-token:{TOKEN}@github.com/o/r.git", "https://github.com/o/r.git"),
    ("https://github.com/o/r.git\n", "https://github.com/o/r.git"),
    ("git@github.com:o/r.git", "git@github.com:o/r.git"),
])
def test_label_source_never_carries_credentials(url: str, clean: str) -> None:
    assert app.strip_credentials(url) == clean


def test_build_argv_passes_the_ca_as_a_secret_and_labels_as_build_args() -> None:
    spec = app.BuildSpec(refs=("tasknote:t",), version="1.2.3", revision="abc", source="https://s",
                         context=Path("apps/tasknote"), ca_file=Path("/ca.pem"), no_cache=True)
    argv = app.build_argv("docker", spec)
    assert argv[argv.index("--secret") + 1] == "id=ca,src=/ca.pem"
    assert [argv[i + 1] for i, a in enumerate(argv) if a == "--build-arg"] == [
        "VERSION=1.2.3", "REVISION=abc", "SOURCE=https://s"]
    assert "--no-cache" in argv and argv[-3:] == ["--tag", "tasknote:t", str(spec.context)]
    without_ca = app.build_argv("docker", app.BuildSpec(("t",), "1", "r", "s", Path("ctx"), None))
    assert "--secret" not in without_ca


def test_a_port_someone_listens_on_is_not_free() -> None:
    import socket

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert not compose.port_free(port)
    assert compose.port_free(port)
