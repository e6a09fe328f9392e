"""A container published on a free loopback port, started and removed around a test."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from gitops.core import run, tools

from support.checkout import this_repo
from support.wait import wait_until


@dataclass(frozen=True)
class Running:
    name: str  # the container's name, for docker exec/stop/inspect
    host: str  # 127.0.0.1:<published port>


@contextmanager
def running_container(image: str, port: int, docker_args: Sequence[str] = (), command: Sequence[str] = (),
                      *, ready: Callable[[str], bool], timeout: float = 30) -> Iterator[Running]:
    """`docker run -d` `image` with container port `port` published on a free loopback port, wait
    until ready(host) is true (exceptions count as not yet), yield it; always `rm -f -v` it.
    A container that never gets ready fails the test with the tail of its logs."""
    docker = str(tools.docker_engine(this_repo()))
    name = f"tasknote-test-{uuid.uuid4().hex[:8]}"
    run.run([docker, "run", "-d", "--name", name, "-p", f"127.0.0.1::{port}", *docker_args, image, *command])
    try:
        published = run.run([docker, "port", name, str(port)]).stdout.split(":")[-1].split()[0]
        host = f"127.0.0.1:{published}"
        try:
            wait_until(lambda: ready(host), timeout, f"{image} in {name} to be ready", interval=0.2)
        except AssertionError as exc:
            logs = run.run([docker, "logs", "--tail", "20", name], check=False)
            pytest.fail(f"{exc}; its last log lines:\n{logs.stdout[-1000:]}{logs.stderr[-1000:]}")
        yield Running(name, host)
    finally:
        run.run([docker, "rm", "-f", "-v", name], check=False)
