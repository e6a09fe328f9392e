"""Against a real cluster (the nightly conformance run): the controller serves a certificate that
matches the committed one, and it can re-encrypt what we sealed natively. Skipped here with one
line by the root conftest when no cluster is reachable."""

from __future__ import annotations

import json

import pytest
from gitops.cluster.port import Port
from gitops.cluster.target import Target
from gitops.core.repo import Repo
from gitops.secrets import controller, crypto, keys, sealing


@pytest.fixture(scope="module")
def access(repo: Repo, port: Port) -> controller.ControllerAccess:
    return controller.ControllerAccess(port, keys.controller_namespace(repo))


def test_served_certificate_matches_the_committed_one(repo: Repo, target: Target, access) -> None:
    _, committed = sealing.read_cluster_certificate(target.cluster, repo)
    served = controller.cluster_certificate(access)
    assert crypto.fingerprint(served) == crypto.fingerprint(committed), (
        "the cluster's controller does not hold the committed key: restore it with "
        "./inv secrets.restore-key or run ./inv secrets.fetch-cert --replace"
    )


def test_controller_accepts_a_natively_sealed_secret(repo: Repo, target: Target, access) -> None:
    _, cert = sealing.read_cluster_certificate(target.cluster, repo)
    env = sealing.environments_of(target.cluster)[0]
    sealed = sealing.sealed_secret("e2e-probe", sealing.namespace_for(env), {"PROBE": b"ok"}, cert)
    # /v1/rotate decrypts before re-encrypting, so an answer proves the controller read our format.
    answer = json.loads(access.post("/v1/rotate", json.dumps(sealed).encode()))
    assert set(answer["spec"]["encryptedData"]) == {"PROBE"}
