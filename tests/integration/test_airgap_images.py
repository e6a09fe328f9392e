"""The air-gapped images in the local store behave like the upstream images they stand in for.

Needs the images built by `./inv images.airgap` (CI builds them before pytest). Containers
are started through gitops.core.run with an `airgap-test-` name and removed afterwards; nothing is
pulled.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import httpx
import psycopg
import pytest
import redis
from gitops.core import run
from gitops.images import airgap
from support.checkout import ROOT, this_repo

IMAGES = [image.ref for image in airgap.images_from(this_repo().versions, ROOT / "airgap")]
DISTROLESS = "gcr.io/distroless/python3-debian13:nonroot"


@pytest.fixture(scope="module", autouse=True)
def images_present() -> None:
    present = airgap.inspect_present(airgap.tools.docker_engine(this_repo()), IMAGES)
    missing = [ref for ref in IMAGES if ref not in present]
    if missing:
        pytest.fail(f"{', '.join(missing)} missing from the local image store; run ./inv images.airgap")


def docker(*args: str, **kwargs: Any) -> run.Result:
    return run.run(["docker", *args], **kwargs)


@contextmanager
def container(image: str, *args: str, env: dict[str, str] | None = None,
              port: int | None = None) -> Iterator[tuple[str, int]]:
    """A detached container with `port` published on a free loopback port; always removed."""
    name = f"airgap-test-{uuid.uuid4().hex[:8]}"
    argv = ["run", "-d", "--name", name]
    for key, value in (env or {}).items():
        argv += ["-e", f"{key}={value}"]
    if port:
        argv += ["-p", f"127.0.0.1::{port}"]
    try:
        docker(*argv, image, *args)
        host_port = 0
        if port:
            host_port = int(docker("port", name, str(port)).stdout.split(":")[-1].split()[0])
        yield name, host_port
    finally:
        docker("rm", "-f", "-v", name, check=False)


def eventually(probe: Callable[[], Any], what: str, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            return probe()
        except Exception as exc:  # the server is not up yet; keep the last reason
            last = exc
            time.sleep(0.3)
    raise AssertionError(f"{what} not ready after {timeout:g} s; last error: {last}")


def stop_seconds(name: str) -> float:
    started = time.monotonic()
    docker("stop", name, timeout=30)
    return time.monotonic() - started


def test_every_image_carries_the_airgap_label_and_inputs_hash() -> None:
    present = airgap.inspect_present(airgap.tools.docker_engine(this_repo()), IMAGES)
    for ref in IMAGES:
        assert present[ref].labels[airgap.LABEL] == "true", ref
        assert len(present[ref].labels[airgap.HASH_LABEL]) == 64, ref


def test_postgres_honours_user_password_db_and_rejects_a_wrong_password() -> None:
    env = {"POSTGRES_USER": "tasknote", "POSTGRES_PASSWORD": "pw-" + uuid.uuid4().hex,
           "POSTGRES_DB": "tasks"}
    with container("postgres:17-trixie", env=env, port=5432) as (name, port):
        dsn = f"host=127.0.0.1 port={port} user=tasknote dbname=tasks connect_timeout=3"

        def login() -> tuple[Any, ...] | None:
            with psycopg.connect(dsn, password=env["POSTGRES_PASSWORD"]) as conn:
                return conn.execute("select current_user, current_database(), "
                                    "(select setting from pg_settings where name = 'password_encryption')"
                                    ).fetchone()

        row = eventually(login, "postgres password login", timeout=60)
        assert row == ("tasknote", "tasks", "scram-sha-256")
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(dsn, password="wrong").close()
        assert "accepting connections" in docker("exec", name, "pg_isready").stdout
        # The server runs as postgres (999) and its environment no longer holds the password.
        assert docker("exec", name, "id", "-u").stdout.strip() == "999"
        environ = docker("exec", name, "cat", "/proc/1/environ").stdout
        assert "POSTGRES_PASSWORD" not in environ
        assert env["POSTGRES_PASSWORD"] not in docker("exec", name, "ps", "-eo", "args").stdout
        assert stop_seconds(name) < 5  # fast shutdown, not docker's 10 s SIGKILL


def test_postgres_refuses_to_initialise_without_a_password() -> None:
    with container("postgres:17-trixie") as (name, _):
        status = eventually(lambda: _exited(name), "postgres exit")
        assert status != "0"
        assert "POSTGRES_PASSWORD is not set" in docker("logs", name).stderr


def _exited(name: str) -> str:
    state = docker("inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", name).stdout.split()
    if state[0] != "exited":
        raise RuntimeError(f"still {state[0]}")
    return state[1]


def test_redis_answers_ping_from_another_host_as_non_root() -> None:
    with container("redis:8-trixie", port=6379) as (name, port):
        client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=3)
        assert eventually(client.ping, "redis PING") is True
        assert client.info("server")["redis_version"].startswith("8.")
        client.close()
        assert docker("exec", name, "redis-cli", "ping").stdout.strip() == "PONG"
        assert docker("exec", name, "id", "-u").stdout.strip() != "0"
        assert stop_seconds(name) < 5


def test_registry_serves_v2_and_accepts_a_push() -> None:
    with container("registry:2", env={"REGISTRY_STORAGE_DELETE_ENABLED": "true"}, port=5000) as (name, port):
        response = eventually(lambda: httpx.get(f"http://127.0.0.1:{port}/v2/", timeout=3), "registry /v2/")
        assert response.status_code == 200
        target = f"localhost:{port}/airgap-test/x:1"
        docker("tag", "debian:trixie-slim", target)
        try:
            docker("push", target, timeout=120)
        finally:
            docker("rmi", target, check=False)
        tags = httpx.get(f"http://127.0.0.1:{port}/v2/airgap-test/x/tags/list", timeout=3).json()
        assert tags == {"name": "airgap-test/x", "tags": ["1"]}
        # REGISTRY_STORAGE_DELETE_ENABLED reached the config: a manifest DELETE is allowed (202).
        head = httpx.head(f"http://127.0.0.1:{port}/v2/airgap-test/x/manifests/1", timeout=3, headers={
            "Accept": "application/vnd.docker.distribution.manifest.v2+json"})
        digest = head.headers["Docker-Content-Digest"]
        deleted = httpx.delete(f"http://127.0.0.1:{port}/v2/airgap-test/x/manifests/{digest}", timeout=3)
        assert deleted.status_code == 202
        assert stop_seconds(name) < 5


def test_distroless_has_no_shell_and_runs_python_as_nonroot() -> None:
    no_shell = docker("run", "--rm", "--entrypoint", "/bin/sh", DISTROLESS, "-c", "true", check=False)
    assert no_shell.returncode != 0 and "no such file or directory" in no_shell.stderr.lower()
    script = ("import os, ssl, sqlite3, zoneinfo, sys; "
              "ssl.create_default_context(); zoneinfo.ZoneInfo('Europe/Berlin'); "
              "print(os.getuid(), os.getgid(), sys.version_info[:2], sys.executable)")
    out = docker("run", "--rm", "--read-only", DISTROLESS, "-c", script).stdout.split(maxsplit=2)
    assert out[:2] == ["65532", "65532"]
    assert out[2].strip() == "(3, 13) /usr/bin/python3"


def test_python_image_has_python_python3_and_pip_on_path() -> None:
    out = docker("run", "--rm", "python:3.13-slim-trixie", "sh", "-c",
                 "python --version && python3 -m venv /tmp/v && pip --version").stdout
    assert "Python 3.13" in out and "pip " in out and "python 3.13" in out


@pytest.mark.parametrize("image, argv", [
    (DISTROLESS, ["-c", "import time; time.sleep(60)"]),
    ("python:3.13-slim-trixie", ["python3", "-c", "import time; time.sleep(60)"]),
])
def test_python_images_stop_at_once_because_tini_forwards_sigterm(image: str, argv: list[str]) -> None:
    with container(image, *argv) as (name, _):
        assert docker("top", name).stdout.count("\n") >= 2  # tini and the interpreter
        assert stop_seconds(name) < 5  # PID 1 without tini would wait for docker's SIGKILL


def test_skip_path_inspects_once_and_builds_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Sequence[str]] = []
    real_run = run.run

    def recording_run(argv: Sequence[str], **kwargs: Any) -> run.Result:
        calls.append(list(argv))
        return real_run(argv, **kwargs)

    def no_stream(argv: Sequence[str], **kwargs: Any) -> None:
        raise AssertionError(f"the skip path started a build: {argv}")

    monkeypatch.setattr(run, "run", recording_run)
    monkeypatch.setattr(run, "stream", no_stream)
    started = time.monotonic()
    results = airgap.ensure(this_repo(), progress=lambda line: None)
    elapsed = time.monotonic() - started

    assert [(r.ref, r.action) for r in results] == [(ref, "skip") for ref in IMAGES]
    inspects = [argv for argv in calls if argv[1:3] == ["image", "inspect"]]
    assert len(inspects) == 1 and inspects[0][-len(IMAGES):] == IMAGES
    assert not [argv for argv in calls if {"import", "build", "debootstrap"} & set(argv)]
    assert elapsed < 5
