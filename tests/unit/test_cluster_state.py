"""Which cluster runs which environment is said twice: clusters/<c>/cluster.yaml for people and
argocd/clusters/<c> for Argo CD. These tests keep the two (and the BRIEF's contract) in step."""

from pathlib import Path
from typing import Any

import pytest
import yaml
from gitops.core import config
from support.checkout import this_repo

REPO = this_repo()

EXPECTED = {"kind": ["dev"], "k3s": ["prod", "staging"]}


def load(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if isinstance(d, dict)]


def deployed_environments(cluster: str) -> list[str]:
    kustomization = load(REPO.argocd / "clusters" / cluster / "kustomization.yaml")[0]
    return sorted(str(r).rstrip("/").rsplit("/", 1)[-1] for r in kustomization["resources"]
                  if str(r).startswith("../../apps/"))


@pytest.mark.parametrize("cluster", config.CLUSTERS)
def test_cluster_file_and_root_app_deploy_the_same_environments(cluster: str) -> None:
    declared = load(REPO.cluster(cluster) / "cluster.yaml")[0]["environments"]
    assert sorted(declared) == deployed_environments(cluster) == EXPECTED[cluster]


def test_every_environment_runs_on_exactly_one_cluster() -> None:
    placed = sorted(env for cluster in config.CLUSTERS for env in deployed_environments(cluster))
    assert placed == sorted(config.ENVIRONMENTS)


@pytest.mark.parametrize("env", config.ENVIRONMENTS)
def test_environment_application_deploys_its_overlay_into_its_namespace(env: str) -> None:
    [app] = load(REPO.argocd / "apps" / env / "application.yaml")
    assert app["metadata"]["name"] == f"tasknote-{env}"
    assert app["spec"]["source"]["path"] == f"overlays/{env}"
    assert app["spec"]["destination"]["namespace"] == f"tasknote-{env}"
    assert "CreateNamespace=false" in app["spec"]["syncPolicy"]["syncOptions"]


@pytest.mark.parametrize("cluster", config.CLUSTERS)
def test_root_application_syncs_its_own_directory(cluster: str) -> None:
    [root] = load(REPO.argocd / "clusters" / cluster / "root.yaml")
    assert root["kind"] == "Application"
    assert root["spec"]["source"]["path"] == f"argocd/clusters/{cluster}"
    resources = load(REPO.argocd / "clusters" / cluster / "kustomization.yaml")[0]["resources"]
    assert "root.yaml" in resources
