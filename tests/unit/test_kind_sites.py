"""Conformance owns its own kind cluster, registry and Git server: no shared name or port with
the developer's (`tasknote`), and a kind config that can run beside it."""

import dataclasses

import pytest
import yaml
from gitops.cluster import kind
from gitops.cluster.kind_sites import CONFORMANCE, DEVELOPER, check_disposable, kind_config, site_for_context
from gitops.cluster.target import KIND_CLUSTER_NAME
from gitops.core.errors import GitOpsError
from support.checkout import ROOT

KIND_CONFIG = ((ROOT / "clusters" / "kind") / "kind-config.yaml").read_text()


def test_the_developer_site_is_what_bootstrap_uses() -> None:
    assert DEVELOPER.cluster == KIND_CLUSTER_NAME
    assert DEVELOPER.registry_container == kind.REGISTRY_CONTAINER
    assert f"localhost:{DEVELOPER.registry_port}" == kind.REGISTRY_HOST


def test_conformance_shares_nothing_with_the_developer() -> None:
    assert check_disposable(CONFORMANCE) is CONFORMANCE
    assert not CONFORMANCE.names() & DEVELOPER.names()
    assert CONFORMANCE.context == "kind-tasknote-conformance" != DEVELOPER.context
    assert CONFORMANCE.push_host == "localhost:5002" and DEVELOPER.push_host == kind.REGISTRY_HOST


@pytest.mark.parametrize("change", [{"cluster": "tasknote"}, {"registry_container": "tasknote-kind-registry"},
                                    {"git_container": "tasknote-kind-git"}, {"registry_port": 5001}])
def test_any_shared_name_or_port_is_refused(change: dict[str, object]) -> None:
    with pytest.raises(GitOpsError, match="must not touch the developer's kind set-up"):
        check_disposable(dataclasses.replace(CONFORMANCE, **change))  # type: ignore[arg-type]


def test_conformance_kind_config_drops_only_the_host_ports() -> None:
    mine = yaml.safe_load(kind_config(KIND_CONFIG, CONFORMANCE))
    original = yaml.safe_load(KIND_CONFIG)
    assert any("extraPortMappings" in n for n in original["nodes"])
    assert not any("extraPortMappings" in n for n in mine["nodes"])
    for node in original["nodes"]:
        node.pop("extraPortMappings", None)
    assert mine == original  # same nodes, images by digest, labels and containerd patch
    assert yaml.safe_load(kind_config(KIND_CONFIG, DEVELOPER)) == yaml.safe_load(KIND_CONFIG)


def test_site_for_context() -> None:
    assert site_for_context("kind-tasknote-conformance") is CONFORMANCE
    assert site_for_context("kind-tasknote") is DEVELOPER and site_for_context("prod-eu") is DEVELOPER
