"""On a real cluster: bootstrap reconciles, re-running is a no-op, the smoke suite passes,
Argo CD undoes drift, and the seed's lab steps (scale, new digest, rollout, undo) work."""

from __future__ import annotations

import os

import pytest
from gitops.cluster.kind_sites import site_for_context
from gitops.cluster.port import Port
from gitops.cluster.target import Target
from gitops.core.repo import Repo
from gitops.lifecycle import bootstrap, conformance
from gitops.lifecycle.lab import Lab
from gitops.verify.reconcile import observe_cluster
from gitops.verify.smoke_targets import describe_report, run_smoke


def test_bootstrap_reconciles_every_application(bootstrapped: Target, port: Port) -> None:
    snapshot = observe_cluster(port)()
    assert snapshot.ready, snapshot.blockers()
    assert any(app.name.startswith("tasknote") or "dev" in app.name for app in snapshot.apps)


def test_second_bootstrap_is_a_no_op(repo: Repo, bootstrapped: Target) -> None:
    lines: list[str] = []
    options = bootstrap.Options(allow_fresh_key=True, progress=lines.append)
    summary = bootstrap.bootstrap(repo, bootstrapped, options)
    assert summary.startswith("bootstrap: every step was already done")
    assert all(line.endswith("already done") for line in lines if line[:1].isdigit())


def test_smoke_suite_passes_through_a_port_forward(repo: Repo, bootstrapped: Target, port: Port) -> None:
    report = run_smoke(repo, bootstrapped, "dev", port=port)
    assert report.ok, describe_report(report)


def test_argo_cd_undoes_a_hand_edit(bootstrapped: Target, port: Port) -> None:
    detail = Lab(port).drift()
    assert "again by Argo CD" in detail


def test_scale_rollout_and_rollback(repo: Repo, bootstrapped: Target, port: Port) -> None:
    new_image = os.environ.get("TASKNOTE_CONFORMANCE_IMAGE", "")
    if not new_image:
        pytest.skip("set TASKNOTE_CONFORMANCE_IMAGE to a second image of the app to roll out")
    lab = Lab(port)
    policies = lab.pause_auto_sync()
    try:
        assert lab.scale(6) == "6 replicas ready"
        assert lab.replicas() == 6
        _, before = lab.image()
        by_digest = conformance.by_digest(repo, new_image, site_for_context(bootstrapped.context))
        lab.set_image(by_digest)
        lab.rollout_status()
        assert lab.image()[1] == by_digest
        lab.undo(before)
        assert lab.image()[1] == before
    finally:
        lab.resume_auto_sync(policies)
    bootstrap.wait_until_synced(port)
