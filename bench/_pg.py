"""A throw-away PostgreSQL (and Redis) container for the bench scripts, from the local
air-gapped images. The password is random and reaches docker through its environment
(`-e NAME` without a value), never argv."""

from __future__ import annotations

import secrets
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg
from gitops.core import run


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def container_ip(name: str) -> str:
    fmt = "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}"
    ip = run.run(["docker", "inspect", "-f", fmt, name]).stdout.strip()
    if not ip:
        raise SystemExit(f"container {name} has no IP address; run the bench on docker's default bridge.")
    return ip


@dataclass(frozen=True)
class Database:
    url: str
    host: str
    port: int
    user: str
    password: str
    name: str


@contextmanager
def postgres(extra_args: tuple[str, ...] = ()) -> Iterator[Database]:
    name = f"tasknote-bench-pg-{uuid.uuid4().hex[:8]}"
    password = secrets.token_urlsafe(18)
    env = {"POSTGRES_PASSWORD": password, "POSTGRES_USER": "bench", "POSTGRES_DB": "bench"}
    run.run(["docker", "run", "-d", "--rm", "--name", name, "-e", "POSTGRES_PASSWORD", "-e", "POSTGRES_USER",
             "-e", "POSTGRES_DB", "postgres:17-trixie",
             "postgres", "-c", "max_connections=400", "-c", "shared_buffers=256MB", *extra_args], env=env)
    # Clients talk to the container's own address, so no port is published: Docker's userland
    # proxy on a published port would add a hop (and CPU) that no real deployment has.
    host = container_ip(name)
    db = Database(f"postgresql://bench:{password}@{host}:5432/bench", host, 5432, "bench", password, "bench")
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with psycopg.connect(db.url, connect_timeout=2) as conn:
                    conn.execute("SELECT 1")
                break
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        yield db
    finally:
        run.run(["docker", "rm", "-f", name], check=False)


@contextmanager
def redis() -> Iterator[str]:
    name = f"tasknote-bench-redis-{uuid.uuid4().hex[:8]}"
    run.run(["docker", "run", "-d", "--rm", "--name", name, "redis:8-trixie"])
    try:
        time.sleep(1)
        yield f"redis://{container_ip(name)}:6379/0"
    finally:
        run.run(["docker", "rm", "-f", name], check=False)

