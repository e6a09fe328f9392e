"""The Application health check bootstrap applies before the root Application, read from the
self-managed Application in this repository (argocd/platform/common/argocd.yaml)."""

import copy

import pytest
import yaml
from gitops.cluster import argocd_settings
from gitops.core.errors import GitOpsError
from support.checkout import ROOT

# argocd-cm as Argo CD's install.yaml creates it: its labels and only the default
# resource.exclusions (argoproj/argo-cd manifests/base/config/argocd-cm.yaml; first entry kept).
FRESH_ARGOCD_CM = {"apiVersion": "v1", "kind": "ConfigMap",
                   "metadata": {"name": "argocd-cm", "namespace": "argocd",
                                "labels": {"app.kubernetes.io/name": "argocd-cm",
                                           "app.kubernetes.io/part-of": "argocd"}},
                   "data": {"resource.exclusions": "- apiGroups:\n  - ''\n  - discovery.k8s.io\n  kinds:\n"
                                                   "  - Endpoints\n  - EndpointSlice\n"}}


def self_managed() -> dict:
    return next(d for d in yaml.safe_load_all((ROOT / argocd_settings.SELF_MANAGED).read_text())
                if d and d.get("kind") == "Application")


def test_settings_come_from_the_self_managed_application() -> None:
    settings = argocd_settings.settings_from_file(ROOT)
    lua = settings[argocd_settings.APPLICATION_HEALTH_KEY]
    # The documented check: a child's own status.health becomes its health in the parent.
    assert "obj.status.health.status" in lua and 'hs.status = "Progressing"' in lua and "return hs" in lua


def test_a_fresh_install_lacks_it_and_the_applied_object_supplies_exactly_it() -> None:
    settings = argocd_settings.settings_from_file(ROOT)
    assert argocd_settings.missing(FRESH_ARGOCD_CM, settings) == [argocd_settings.APPLICATION_HEALTH_KEY]
    assert argocd_settings.missing(None, settings) == [argocd_settings.APPLICATION_HEALTH_KEY]
    applied = argocd_settings.configmap(settings)
    assert applied["metadata"] == FRESH_ARGOCD_CM["metadata"]
    # Server-side apply of `applied` adds our key beside the install's own data.
    live = {**FRESH_ARGOCD_CM, "data": {**FRESH_ARGOCD_CM["data"], **applied["data"]}}
    assert argocd_settings.missing(live, settings) == []


def test_an_edited_value_is_missing_again() -> None:
    settings = argocd_settings.settings_from_file(ROOT)
    live = {"data": {argocd_settings.APPLICATION_HEALTH_KEY: "hs = {}\nreturn hs\n"}}
    assert argocd_settings.missing(live, settings) == [argocd_settings.APPLICATION_HEALTH_KEY]


def test_a_self_managed_application_without_the_patch_is_one_sentence() -> None:
    app = copy.deepcopy(self_managed())
    app["spec"]["source"]["kustomize"]["patches"] = []
    with pytest.raises(GitOpsError) as info:
        argocd_settings.settings_from_application(app)
    assert str(info.value) == (
        "argocd/platform/common/argocd.yaml patches no "
        "resource.customizations.health.argoproj.io_Application into argocd-cm; restore that patch "
        "(sync waves of child Applications depend on it).")
