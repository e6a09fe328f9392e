"""versions.yaml against the cluster configs, workflows and validation schemas: a planted
disagreement in a copy of the repository is caught and named."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from gitops.core import config
from gitops.manifests import pins
from support.repocopy import copy_repo

COPIED = ("versions.yaml", "requirements.lock", "clusters", "argocd", "base", "schemas", ".github")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return copy_repo(tmp_path, COPIED)


def found(root: Path) -> list[tuple[str, str, str]]:
    versions = config.load_versions(root / "versions.yaml")
    return [(m.file, m.what, m.found) for m in pins.mismatches(root, versions)]


def edit_versions(root: Path, old: str, new: str) -> None:
    path = root / "versions.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_the_copy_is_clean(repo: Path) -> None:
    assert found(repo) == []


def test_kind_node_image_that_differs_from_versions_yaml_is_caught(repo: Path) -> None:
    path = repo / "clusters" / "kind" / "kind-config.yaml"
    data = yaml.safe_load(path.read_text())
    data["nodes"][0]["image"] = "kindest/node:v1.36.0"
    path.write_text(yaml.safe_dump(data))
    assert found(repo) == [("clusters/kind/kind-config.yaml", "nodes[0].image", "kindest/node:v1.36.0")]


def test_workflow_installing_another_kind_release_is_caught(repo: Path) -> None:
    workflow = repo / ".github" / "workflows" / "planted.yaml"
    workflow.write_text(
        "on: push\njobs:\n  x:\n    runs-on: ubuntu-24.04\n    steps:\n"
        "      - run: curl -fsSLo kind https://github.com/kubernetes-sigs/kind/releases/download/v0.29.0/kind-linux-amd64\n"
        "      - run: kind create cluster --image kindest/node:v1.35.0\n"
    )
    assert found(repo) == [
        (".github/workflows/planted.yaml", "tools.kind.version", "0.29.0"),
        (".github/workflows/planted.yaml", "kind.node_image", "kindest/node:v1.35.0"),
    ]


def test_workflow_with_the_pinned_versions_passes(repo: Path) -> None:
    versions = config.load_versions(repo / "versions.yaml")
    kind, node = versions["tools"]["kind"]["version"], versions["kind"]["node_image"]
    (repo / ".github" / "workflows" / "planted.yaml").write_text(
        f"on: push\njobs:\n  x:\n    steps:\n      - run: curl -fsSLo kind "
        f"https://github.com/kubernetes-sigs/kind/releases/download/v{kind}/kind-linux-amd64\n"
        f"      - run: kind create cluster --image {node}\n"
    )
    assert found(repo) == []


def test_crd_schema_version_that_differs_from_the_controller_is_caught(repo: Path) -> None:
    edit_versions(repo, 'argoproj.io: {version: "3.4.12"', 'argoproj.io: {version: "3.3.0"')
    assert found(repo) == [("versions.yaml", "schemas.crds.argoproj.io.version", "3.3.0")]


def test_kubernetes_schema_minor_that_differs_is_caught(repo: Path) -> None:
    edit_versions(repo, '    version: "1.37.0"\n    variant', '    version: "1.36.0"\n    variant')
    assert found(repo) == [("versions.yaml", "schemas.kubernetes.version minor", "1.36.0")]


def test_missing_crd_schema_file_is_caught(repo: Path) -> None:
    (repo / "schemas" / "crds" / "gateway.networking.k8s.io" / "v1" / "GatewayClass.yaml").unlink()
    assert found(repo) == [("versions.yaml", "schemas.crds.gateway.networking.k8s.io kind GatewayClass",
                            "no schema file")]


def test_k3s_image_tag_that_differs_from_the_binary_is_caught(repo: Path) -> None:
    edit_versions(repo, "image: rancher/k3s:v1.37.1-k3s1@", "image: rancher/k3s:v1.37.0-k3s1@")
    assert found(repo) == [("versions.yaml", "tools.k3s.image tag", "v1.37.0-k3s1")]


def test_argocd_cli_must_be_the_release_the_cluster_runs(repo: Path) -> None:
    edit_versions(repo, 'version: "3.4.12"\n    install:', 'version: "3.4.11"\n    install:')
    assert ("versions.yaml", "tools.argocd.version", "3.4.11") in found(repo)


def test_k3s_image_without_a_tag_is_caught(repo: Path) -> None:
    edit_versions(repo, "image: rancher/k3s:v1.37.1-k3s1@", "image: rancher/k3s@")
    assert found(repo) == [("versions.yaml", "tools.k3s.image tag", "(no tag)")]
