"""Against a real cluster (the nightly conformance run): the controller serves a certificate that
matches the committed one, and it can re-encrypt what we sealed natively. Skipped here with one
line by the root conftest when no cluster is reachable."""

from __future__ import annotations

import json
import os

import pytest
from gitops.core import config
from gitops.secrets import controller, sealing

CLUSTER = os.environ.get("TASKNOTE_CLUSTER", "kind")


@pytest.fixture(scope="module")
def transport() -> controller.KubectlTransport:
    return controller.kubectl_transport(os.environ.get("TASKNOTE_KUBE_CONTEXT") or None)


def test_served_certificate_matches_the_committed_one(transport) -> None:
    _, committed = sealing.read_cluster_certificate(CLUSTER)
    served = controller.cluster_certificate(transport)
    assert sealing.fingerprint(served) == sealing.fingerprint(committed), (
        "the cluster's controller does not hold the committed key: restore it with "
        "./inv secrets.restore-key or run ./inv secrets.fetch-cert --replace"
    )


def test_controller_accepts_a_natively_sealed_secret(transport) -> None:
    _, cert = sealing.read_cluster_certificate(CLUSTER)
    env = sealing.environments_of(CLUSTER)[0]
    sealed = sealing.sealed_secret("e2e-probe", sealing.namespace_for(env), {"PROBE": b"ok"}, cert)
    # /v1/rotate decrypts before re-encrypting, so an answer proves the controller read our format.
    answer = json.loads(controller.post("/v1/rotate", json.dumps(sealed).encode()))
    assert set(answer["spec"]["encryptedData"]) == {"PROBE"}
    assert config.check_cluster(CLUSTER)
