"""On a real kind cluster bootstrapped through the local Git source: TaskNote dev is Synced,
Healthy and passes smoke, and dev.sync after a one-line app change rolls out the new digest."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from gitops.cluster import gitserver
from gitops.cluster.port import Port
from gitops.cluster.target import Target
from gitops.core import run
from gitops.core.repo import Repo
from gitops.lifecycle import devsync, localsource
from gitops.verify.smoke_targets import describe_report, run_smoke
from support.gitrepo import git


@pytest.fixture
def kind_target(bootstrapped: Target) -> Target:
    if bootstrapped.cluster != "kind" or os.environ.get("TASKNOTE_E2E_CLUSTER", "kind") != "kind":
        pytest.skip("the local Git source is the kind cluster's; this run targets another cluster")
    return bootstrapped


def api_image(port: Port) -> str:
    deployment = port.get("apps/v1", "Deployment", "tasknote-api", "tasknote-dev")
    assert deployment is not None
    return str(deployment["spec"]["template"]["spec"]["containers"][0]["image"])


def test_bootstrap_reads_the_local_source_and_smoke_passes(repo: Repo, kind_target: Target,
                                                          port: Port) -> None:
    app = port.get("argoproj.io/v1alpha1", "Application", "tasknote-dev", "argocd")
    assert app is not None and devsync.reads(app, gitserver.repo_url())
    report = run_smoke(repo, kind_target, "dev", port=port)
    assert report.ok, describe_report(report)


def test_dev_sync_rolls_out_a_one_line_app_change(repo: Repo, kind_target: Target, port: Port,
                                                  tmp_path: Path) -> None:
    clone = tmp_path / "checkout"
    run.run(["git", "clone", "--quiet", str(repo.root), str(clone)], timeout=120)
    module = clone / "apps" / "tasknote" / "src" / "tasknote" / "__init__.py"
    module.write_text(module.read_text() + "# e2e: a one-line change\n")
    git(clone, "commit", "--quiet", "-am", "e2e: one-line app change")

    checkout, server = Repo.at(clone), gitserver.default()
    report = devsync.sync(port, url=server.url, deadline_s=600,
                          publish=lambda: localsource.publish_checkout(checkout, port, server=server))
    assert report.published and report.image_built
    digest = report.image.rsplit("@", 1)[-1]
    assert digest.startswith("sha256:") and api_image(port).endswith(f"@{digest}")
    smoke = run_smoke(repo, kind_target, "dev", port=port)
    assert smoke.ok, describe_report(smoke)
