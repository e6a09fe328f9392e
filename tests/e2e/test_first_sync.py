"""On a real cluster after bootstrap: the Application health check is in argocd-cm (it was put
there before the root Application, gitops.cluster.argocd_settings) and the reconcile wait's
diagnoses find nothing stuck on a healthy cluster."""

from __future__ import annotations

from gitops.cluster import argocd_settings
from gitops.cluster.port import Port
from gitops.cluster.target import Target
from gitops.core.repo import Repo
from gitops.verify.reconcile import observe_cluster


def test_argocd_cm_carries_the_application_health_check_from_git(repo: Repo, bootstrapped: Target,
                                                                  port: Port) -> None:
    live = port.get("v1", "ConfigMap", argocd_settings.CONFIGMAP, "argocd")
    assert argocd_settings.missing(live, argocd_settings.settings_from_file(repo.root)) == []


def test_a_reconciled_cluster_has_nothing_stuck(bootstrapped: Target, port: Port) -> None:
    snapshot = observe_cluster(port)()
    assert snapshot.ready and snapshot.stuck == (), [d.sentence() for d in snapshot.stuck]
