"""A real registry:2 container on a free loopback port, for the release and token-auth tests."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import pytest
import requests
from gitops.core import run, tools

from support.checkout import this_repo
from support.containers import running_container


@contextmanager
def running_registry(docker_args: Sequence[str] = (), command: Sequence[str] = (),
                     ready_status: int = 200) -> Iterator[str]:
    """Start registry:2 (the air-gapped stand-in here), wait until /v2/ answers `ready_status`
    (401 for a registry with token auth), yield host:port, remove the container afterwards."""
    docker = str(tools.docker_engine(this_repo()))
    if run.run([docker, "image", "inspect", "registry:2"], check=False).returncode != 0:
        pytest.fail("registry:2 is missing from the local image store; run ./inv images.airgap")

    def ready(host: str) -> bool:
        return requests.get(f"http://{host}/v2/", timeout=2).status_code == ready_status

    with running_container("registry:2", 5000, docker_args, command, ready=ready) as registry:
        yield registry.host
