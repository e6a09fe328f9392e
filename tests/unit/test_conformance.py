"""The conformance pipeline's bookkeeping: order, skip after failure, diagnostics, teardown,
JUnit XML and the Markdown report (the steps themselves run against kind in the nightly);
and the lab's cluster operations over the port's test fake (tests/support/fakeport.py) seeded
with recorded Application and Deployment objects (tests/fixtures/cluster)."""

import dataclasses
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from gitops.cluster.kind_sites import CONFORMANCE
from gitops.cluster.target import resolve
from gitops.core.errors import GitOpsError
from gitops.lifecycle import conformance
from gitops.lifecycle.lab import REVISION, Lab
from gitops.verify import reports
from gitops.verify.steps import Step
from support.checkout import ROOT, this_repo
from support.fakeport import FakePort


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1.5
        return self.now


def failing(message: str) -> Any:
    def step() -> str:
        raise GitOpsError(message)

    return step


def test_all_passing() -> None:
    ran: list[str] = []
    steps = [Step(name, lambda name=name: ran.append(name) or f"{name} ok") for name in ("a", "b", "c")]
    report = conformance.run_pipeline(steps, teardown=Step("teardown", lambda: "deleted"),
                                      progress=lambda _: None, clock=Clock())
    assert ran == ["a", "b", "c"] and report.ok and report.first_failure == ""
    assert [s.status for s in report.outcomes] == ["passed"] * 4
    assert report.outcomes[0].seconds == 1.5


def test_failure_skips_the_rest_gathers_diagnostics_and_still_tears_down() -> None:
    ran: list[str] = []
    steps = [
        Step("bootstrap", lambda: ran.append("bootstrap") or None),
        Step("smoke", failing("smoke suite failed: upload timed out.")),
        Step("drift", lambda: ran.append("drift") or None),
    ]
    teardown = Step("teardown", lambda: ran.append("teardown") or "deleted")
    report = conformance.run_pipeline(steps, teardown=teardown,
                                      diagnostics=lambda: "Application tasknote-dev: Synced/Degraded",
                                      progress=lambda _: None, clock=Clock())
    assert ran == ["bootstrap", "teardown"]
    assert [(s.step, s.status) for s in report.outcomes] == [
        ("bootstrap", "passed"), ("smoke", "failed"), ("drift", "skipped"), ("teardown", "passed")]
    assert report.first_failure == "smoke" and not report.ok
    assert report.diagnostics == "Application tasknote-dev: Synced/Degraded"


def test_unexpected_exceptions_are_failures_too_and_broken_diagnostics_do_not_hide_them() -> None:
    def broken_diagnostics() -> str:
        raise RuntimeError("API gone")

    report = conformance.run_pipeline([Step("x", lambda: str(1 / 0))], diagnostics=broken_diagnostics,
                                      progress=lambda _: None)
    assert report.outcomes[0].detail == "ZeroDivisionError: division by zero"
    assert report.diagnostics == "(gathering diagnostics failed: API gone)"


def test_junit_and_markdown_reports(tmp_path: Path) -> None:
    steps = [Step("manifests.check", lambda: "every overlay renders"),
             Step("smoke", failing("smoke suite failed: ready | timed out.")),
             Step("drift", lambda: None)]
    report = conformance.run_pipeline(steps, diagnostics=lambda: "events: BackOff pulling image",
                                      progress=lambda _: None, clock=Clock())
    written = reports.write_reports(report, tmp_path / "out", suite=conformance.SUITE,
                                    title=conformance.TITLE)
    suite = ET.parse(written.junit).getroot()  # noqa: S314 - our own file
    assert suite.tag == "testsuite"
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("3", "1", "1")
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert cases["smoke"].find("failure").get("message") == "smoke suite failed: ready | timed out."  # type: ignore[union-attr]
    assert cases["drift"].find("skipped") is not None
    assert cases["manifests.check"].get("time") == "1.500"
    assert suite.find("system-err").text == "events: BackOff pulling image"  # type: ignore[union-attr]
    text = written.markdown.read_text()
    assert text.startswith("# TaskNote nightly conformance: FAILED at smoke\n")
    assert "| manifests.check | passed | 1.5 s | every overlay renders |" in text
    assert "| smoke | failed | 1.5 s | smoke suite failed: ready \\| timed out. |" in text
    assert "## Diagnostics" in text and "BackOff pulling image" in text
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["junit.xml", "report.md"]


# --- the lab over recorded Applications and Deployments ------------------------------------


def lab_port() -> FakePort:
    port = FakePort()
    port.seed_fixture("applications-healthy.json", "argoproj.io/v1alpha1", "Application")
    port.seed_fixture("deployment-ready.json", "apps/v1", "Deployment")
    return port


def test_lab_pauses_the_env_app_and_its_app_of_apps_then_restores_git_policy() -> None:
    port = lab_port()
    lab = Lab(port, progress=lambda _: None)
    saved = lab.pause_auto_sync()
    assert list(saved) == ["tasknote-dev", "root-kind"]
    assert saved["tasknote-dev"] == {"prune": True, "selfHeal": True}
    patches = [c for c in port.calls if c[0] == "patch"]
    assert [c[3] for c in patches] == ["root-kind", "tasknote-dev"]
    assert all(c[4] == '{"spec": {"syncPolicy": {"automated": null}}}' for c in patches)
    app = port.get("argoproj.io/v1alpha1", "Application", "tasknote-dev", "argocd")
    assert app is not None and "automated" not in app["spec"]["syncPolicy"]
    lab.resume_auto_sync(saved)
    app = port.get("argoproj.io/v1alpha1", "Application", "tasknote-dev", "argocd")
    assert app is not None and app["spec"]["syncPolicy"]["automated"] == {"prune": True, "selfHeal": True}


def test_drift_waits_for_argo_cd_to_restore_the_replicas_and_times_out_if_it_never_does() -> None:
    port = lab_port()
    lab = Lab(port, progress=lambda _: None)
    want = lab.replicas()
    polls: list[int] = []

    def argo_cd_self_heals(key: Any, obj: Any) -> None:
        polls.append(obj["spec"]["replicas"])

    port.on_patch = argo_cd_self_heals
    original_sleep = port.sleep

    def heal_later(seconds: float) -> None:
        original_sleep(seconds)
        if port.now >= 9:
            port.objects[("apps/v1", "Deployment", "tasknote-dev", "tasknote-api")]["spec"]["replicas"] = want

    port.sleep = heal_later  # type: ignore[method-assign]
    assert lab.drift() == f"replicas {want} -> {want + 2} by hand -> {want} again by Argo CD"
    assert polls == [want + 2] and port.now >= 9
    port.sleep = original_sleep  # type: ignore[method-assign]
    with pytest.raises(GitOpsError, match=r"Argo CD restoring tasknote-api to .* within 300 s"):
        lab.drift()


def test_set_image_and_undo_go_back_to_the_previous_replica_set_template() -> None:
    port = lab_port()
    lab = Lab(port, progress=lambda _: None)
    deployment = port.get("apps/v1", "Deployment", "tasknote-api", "tasknote-dev")
    assert deployment is not None
    _, before = lab.image()
    assert lab.set_image("localhost:5001/tasknote@sha256:" + "b" * 64).endswith("b" * 64)
    assert lab.image()[1] == "localhost:5001/tasknote@sha256:" + "b" * 64

    # The Deployment controller's ReplicaSets (apps/v1 shape): revision 1 holds the old template.
    def replica_set(revision: int, template: dict[str, Any]) -> dict[str, Any]:
        labels = {**template["metadata"].get("labels", {}), "pod-template-hash": f"hash{revision}"}
        return {"apiVersion": "apps/v1", "kind": "ReplicaSet",
                "metadata": {"name": f"tasknote-api-hash{revision}", "namespace": "tasknote-dev",
                             "annotations": {REVISION: str(revision)},
                             "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment",
                                                  "name": "tasknote-api",
                                                  "uid": deployment["metadata"]["uid"],
                                                  "controller": True}]},
                "spec": {"template": {**template, "metadata": {**template["metadata"], "labels": labels}}}}

    current = port.get("apps/v1", "Deployment", "tasknote-api", "tasknote-dev")
    assert current is not None
    port.seed(replica_set(1, deployment["spec"]["template"]), replica_set(2, current["spec"]["template"]))
    assert lab.undo(before) == f"back on {before}"
    restored = port.get("apps/v1", "Deployment", "tasknote-api", "tasknote-dev")
    assert restored is not None
    assert "pod-template-hash" not in restored["spec"]["template"]["metadata"]["labels"]


# --- its own kind set-up, never the developer's ---------------------------------------------


def test_conformance_runs_on_its_own_context_and_steps_match_the_readme() -> None:
    target = conformance.site_target(CONFORMANCE)
    assert (target.cluster, target.context, target.managed) == ("kind", "kind-tasknote-conformance", True)
    steps, _ = conformance.default_steps(this_repo(), target, new_image="tasknote:next",
                                         progress=lambda _: None, port=FakePort())
    names = [step.name for step in steps]
    assert names == ["manifests.check", "ephemeral cluster", "bootstrap", "smoke", "drift",
                     "lab: pause auto-sync", "lab: scale to 6", "lab: set image digest",
                     "lab: rollout status", "lab: rollout undo", "lab: resume auto-sync"]
    readme = (ROOT / "README.md").read_text()
    for name in names[1:]:
        assert f"{name} —" in readme, f"README does not describe step {name!r}"


def test_teardown_deletes_only_the_conformance_names() -> None:
    deleted: list[str] = []

    def gone(name: str) -> bool:
        deleted.append(name)
        return name != "tasknote-conformance-git"  # that one did not exist

    said = conformance.teardown(this_repo(), CONFORMANCE, delete_cluster=gone, delete_container=gone)
    assert deleted == ["tasknote-conformance", "tasknote-conformance-registry", "tasknote-conformance-git"]
    assert said == "deleted cluster tasknote-conformance, container tasknote-conformance-registry"


def test_a_site_naming_the_developers_cluster_is_refused_before_anything_runs() -> None:
    deleted: list[str] = []
    mine = dataclasses.replace(CONFORMANCE, cluster="tasknote")
    with pytest.raises(GitOpsError, match="must not touch the developer's kind set-up"):
        conformance.teardown(this_repo(), mine, delete_cluster=deleted.append,  # type: ignore[arg-type]
                             delete_container=deleted.append)  # type: ignore[arg-type]
    with pytest.raises(GitOpsError, match="must not touch"):
        conformance.run_default(this_repo(), resolve("kind"), Path("/nonexistent"), site=mine,
                                progress=lambda _: None)
    assert deleted == []
