"""The e2e tier runs against the current kubeconfig context (the nightly's kind cluster).

On a machine that can pull images but has no cluster, TASKNOTE_E2E_K3S=1 starts the pinned
k3s image (versions.yaml tools.k3s.image, never :latest) with testcontainers and points
KUBECONFIG at it before the root conftest decides whether the tier can run.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gitops.cluster import kubeconfig
from gitops.cluster.port import Port
from gitops.cluster.target import Target, resolve
from gitops.core.repo import Repo
from gitops.lifecycle import bootstrap
from support.checkout import this_repo

REPO = this_repo()
_k3s: dict[str, Any] = {}


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("TASKNOTE_E2E_K3S") != "1" or _k3s:
        return
    from testcontainers.community.k3s import K3SContainer

    image = str(REPO.version_of("tools", "k3s", "image"))
    container = K3SContainer(image=image).start()
    folder = Path(tempfile.mkdtemp(prefix="cluster-e2e-k3s-"))
    config_file = folder / "kubeconfig"
    config_file.write_text(container.config_yaml())
    config_file.chmod(0o600)
    os.environ["KUBECONFIG"] = str(config_file)
    os.environ.setdefault("TASKNOTE_E2E_CLUSTER", "k3s")
    _k3s.update(container=container, folder=folder)


def pytest_unconfigure(config: pytest.Config) -> None:
    container = _k3s.pop("container", None)
    if container is not None:
        container.stop()
        for path in sorted(_k3s.pop("folder").rglob("*"), reverse=True):
            path.unlink()


@pytest.fixture(scope="session")
def repo() -> Repo:
    return REPO


@pytest.fixture(scope="session")
def target() -> Target:
    """The current context, running the tree TASKNOTE_E2E_CLUSTER names (default kind)."""
    from kubernetes import config as kube_config

    _, active = kube_config.list_kube_config_contexts()  # type: ignore[no-untyped-call]
    assert active and active["name"] in kubeconfig.contexts()
    return resolve(os.environ.get("TASKNOTE_E2E_CLUSTER", "kind"), context=str(active["name"]))


@pytest.fixture(scope="session")
def port(target: Target) -> Port:
    return Port(REPO, target)


@pytest.fixture(scope="session")
def bootstrapped(repo: Repo, target: Target) -> Iterator[Target]:
    """Bootstrap once per session (a quick no-op when the nightly's conformance already did)."""
    options = bootstrap.Options(allow_fresh_key=True, wait_deadline_s=1200)
    bootstrap.bootstrap(repo, target, options)
    yield target
