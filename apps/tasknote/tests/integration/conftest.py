"""Real PostgreSQL and Redis from the local air-gapped images (testcontainers), and the app run as
real subprocesses (`python -m tasknote.cli ...`) so signals, sockets and exits are the real ones.

Each test gets its own freshly migrated database in the shared server; the password is random per
run. Host ports are fixed per container (picked free at start) so a restarted container comes back
on the same address, like a Service would."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import pytest
from support.ports import free_port
from support.wait import wait_until

PG_IMAGE = "postgres:17-trixie"
REDIS_IMAGE = "redis:8-trixie"


@dataclass
class Postgres:
    container: object
    port: int
    user: str
    password: str

    def url(self, db: str) -> str:
        return f"postgresql://{self.user}:{self.password}@127.0.0.1:{self.port}/{db}"

    def wait_ready(self, timeout: float = 60) -> None:
        def ok() -> bool:
            with psycopg.connect(self.url("postgres"), connect_timeout=2) as conn:
                conn.execute("SELECT 1")
            return True

        wait_until(ok, timeout, "PostgreSQL to accept connections", 0.3)

    def empty_database(self) -> str:
        """Create a new database with no tables (not migrated) and return its URL."""
        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


@dataclass
class Redis:
    container: object
    port: int

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    from testcontainers.core.container import DockerContainer

    port = free_port()
    password = secrets.token_urlsafe(18)
    container = (
        DockerContainer(PG_IMAGE)
        .with_env("POSTGRES_USER", "tasknote")
        .with_env("POSTGRES_PASSWORD", password)
        .with_env("POSTGRES_DB", "postgres")
        .with_command("postgres -c max_connections=300 -c fsync=off")
    )
    # Loopback only, on a port we chose, so a restarted container comes back at the same address.
    container.ports["5432/tcp"] = ("127.0.0.1", port)
    container.start()
    pg = Postgres(container, port, "tasknote", password)
    try:
        pg.wait_ready()
        yield pg
    finally:
        container.stop()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[Redis]:
    from testcontainers.core.container import DockerContainer

    port = free_port()
    container = DockerContainer(REDIS_IMAGE)
    container.ports["6379/tcp"] = ("127.0.0.1", port)
    container.start()
    server = Redis(container, port)
    try:
        import redis

        wait_until(lambda: redis.Redis(port=port, socket_timeout=1).ping(), 30, "Redis to answer PING")
        yield server
    finally:
        container.stop()


@pytest.fixture
def db_url(postgres: Postgres) -> str:
    """A new, migrated database for this test only."""
    url = postgres.empty_database()
    run_cli(["migrate"], {"DATABASE_URL": url}, check=True)
    return url


def app_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REDIS_URL"))}
    env.update({"LOG_LEVEL": "INFO", "PYTHONUNBUFFERED": "1"})
    env.update(extra)
    return env


def run_cli(
    args: list[str], env: dict[str, str], *, check: bool = False, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "tasknote.cli", *args],
        env=app_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"tasknote {' '.join(args)} exited {proc.returncode}: {proc.stderr[-2000:]}")
    return proc


@dataclass
class Process:
    popen: subprocess.Popen[bytes]
    log: Path
    base_url: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    def signal(self, sig: int) -> None:
        self.popen.send_signal(sig)

    def wait(self, timeout: float) -> int:
        return self.popen.wait(timeout)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def spawn(args: list[str], env: dict[str, str], log: Path) -> Process:
    fh = log.open("wb")
    popen = subprocess.Popen(
        [sys.executable, "-m", "tasknote.cli", *args], env=app_env(env), stdout=fh, stderr=subprocess.STDOUT
    )
    fh.close()
    return Process(popen, log)


@pytest.fixture
def start_api(tmp_path: Path) -> Iterator:  # type: ignore[type-arg]
    """start_api(db_url, redis_url="", **env) → a running `tasknote api` subprocess."""
    started: list[Process] = []

    def start(database_url: str, redis_url: str = "", **env: str) -> Process:
        port = free_port()
        full = {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "PORT": str(port),
            "HOST": "127.0.0.1",
            **env,
        }
        proc = spawn(["api"], full, tmp_path / f"api-{port}.log")
        proc.base_url = f"http://127.0.0.1:{port}"
        started.append(proc)

        def healthy() -> bool:
            if proc.popen.poll() is not None:
                raise AssertionError(f"api exited {proc.popen.returncode}: {proc.output()[-2000:]}")
            return httpx.get(proc.base_url + "/healthz", timeout=1).status_code == 200

        wait_until(healthy, 30, "the API to answer /healthz")
        return proc

    yield start
    for proc in started:
        if proc.popen.poll() is None:
            proc.popen.send_signal(signal.SIGKILL)
            proc.popen.wait(10)


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator:  # type: ignore[type-arg]
    started: list[Process] = []

    def start(database_url: str, name: str = "w", **env: str) -> Process:
        full = {"DATABASE_URL": database_url, "WORKER_POLL_SECONDS": "0.1", **env}
        proc = spawn(
            ["worker", "--heartbeat", str(tmp_path / f"{name}.hb")], full, tmp_path / f"worker-{name}.log"
        )
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.popen.poll() is None:
            proc.popen.send_signal(signal.SIGKILL)
            proc.popen.wait(10)


def jpeg_bytes(
    width: int = 300, height: int = 200, orientation: int | None = None, quality: int = 85
) -> bytes:
    """A JPEG with a gradient (so it is not trivially compressible) and, optionally, an EXIF
    orientation tag."""
    import io

    from PIL import Image

    img = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    buf = io.BytesIO()
    if orientation is None:
        img.save(buf, "JPEG", quality=quality)
    else:
        exif = Image.Exif()
        exif[0x0112] = orientation
        img.save(buf, "JPEG", quality=quality, exif=exif.tobytes())
    return buf.getvalue()


def upload(base_url: str, task_id: str, data: bytes, filename: str = "x.bin") -> httpx.Response:
    return httpx.post(f"{base_url}/tasks/{task_id}/images", files={"file": (filename, data)}, timeout=30)


def new_task(base_url: str, title: str = "t", **fields: object) -> dict:  # type: ignore[type-arg]
    resp = httpx.post(f"{base_url}/tasks", json={"title": title, **fields}, timeout=10)
    assert resp.status_code == 201, resp.text
    return resp.json()  # type: ignore[no-any-return]


@pytest.fixture
def tn() -> object:
    """The helpers above, as a fixture: test modules here cannot import conftest by name
    (pytest runs with --import-mode=importlib)."""
    import types

    return types.SimpleNamespace(
        jpeg_bytes=jpeg_bytes,
        upload=upload,
        new_task=new_task,
        wait_until=wait_until,
        run_cli=run_cli,
        free_port=free_port,
        redis_image=REDIS_IMAGE,
    )


@pytest.fixture(scope="module")
def module_api(
    postgres: Postgres, redis_server: Redis, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Process]:
    """One migrated database and one API (with the Redis cache) for a whole test module."""
    url = postgres.empty_database()
    run_cli(["migrate"], {"DATABASE_URL": url}, check=True)
    port = free_port()
    env = {"DATABASE_URL": url, "REDIS_URL": redis_server.url, "PORT": str(port), "HOST": "127.0.0.1",
           "LOG_LEVEL": "WARNING"}
    proc = spawn(["api"], env, tmp_path_factory.mktemp("module-api") / "api.log")
    proc.base_url = f"http://127.0.0.1:{port}"
    proc.extra = {"DATABASE_URL": url}

    def ready() -> bool:
        if proc.popen.poll() is not None:
            raise AssertionError(f"api exited {proc.popen.returncode}: {proc.output()[-2000:]}")
        return httpx.get(proc.base_url + "/ready", timeout=1).status_code == 200

    try:
        wait_until(ready, 30, "the API to be ready")
        yield proc
    finally:
        proc.popen.send_signal(signal.SIGKILL)
        proc.popen.wait(10)
