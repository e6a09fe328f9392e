"""A real registry:2 container on a free loopback port, for the release and token-auth tests."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import pytest
import requests
from gitops import run, tools


@contextmanager
def running_registry(docker_args: Sequence[str] = (), command: Sequence[str] = (),
                     ready_status: int = 200) -> Iterator[str]:
    """Start registry:2 (the air-gapped stand-in here), wait until /v2/ answers `ready_status`
    (401 for a registry with token auth), yield host:port, remove the container afterwards."""
    docker = str(tools.docker_engine())
    if run.run([docker, "image", "inspect", "registry:2"], check=False).returncode != 0:
        pytest.fail("registry:2 is missing from the local image store; run ./inv images.airgap")
    name = f"tasknote-test-registry-{uuid.uuid4().hex[:8]}"
    run.run([docker, "run", "-d", "--name", name, "-p", "127.0.0.1::5000", *docker_args,
             "registry:2", *command])
    try:
        port = run.run([docker, "port", name, "5000"]).stdout.split(":")[-1].split()[0]
        host = f"127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"http://{host}/v2/", timeout=2).status_code == ready_status:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                logs = run.run([docker, "logs", "--tail", "5", name], check=False)
                pytest.fail(f"registry {name} did not answer {ready_status} on /v2/ within 30 s: "
                            f"{logs.stderr[-500:]}")
            time.sleep(0.2)
        yield host
    finally:
        run.run([docker, "rm", "-f", "-v", name], check=False)
