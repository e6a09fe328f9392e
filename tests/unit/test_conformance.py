"""The conformance pipeline's bookkeeping: order, skip after failure, diagnostics, teardown,
JUnit XML and the Markdown report (the steps themselves run against kind in the nightly)."""

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from gitops.cluster.target import resolve
from gitops.core.errors import GitOpsError
from gitops.lifecycle import conformance


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1.5
        return self.now


def failing(message: str) -> conformance.StepFn:
    def step() -> str:
        raise GitOpsError(message)

    return step


def test_all_passing() -> None:
    ran: list[str] = []
    steps = [(name, lambda name=name: ran.append(name) or f"{name} ok") for name in ("a", "b", "c")]
    report = conformance.run_pipeline(steps, teardown=("teardown", lambda: "deleted"),
                                      progress=lambda _: None, clock=Clock())
    assert ran == ["a", "b", "c"] and report.ok and report.first_failure == ""
    assert [s.status for s in report.steps] == ["passed"] * 4
    assert report.steps[0].seconds == 1.5


def test_failure_skips_the_rest_gathers_diagnostics_and_still_tears_down() -> None:
    ran: list[str] = []
    steps = [
        ("bootstrap", lambda: ran.append("bootstrap") or None),
        ("smoke", failing("smoke suite failed: upload timed out.")),
        ("drift", lambda: ran.append("drift") or None),
    ]
    teardown = ("teardown", lambda: ran.append("teardown") or "deleted")
    report = conformance.run_pipeline(steps, teardown=teardown,
                                      diagnostics=lambda: "Application tasknote-dev: Synced/Degraded",
                                      progress=lambda _: None, clock=Clock())
    assert ran == ["bootstrap", "teardown"]
    assert [(s.name, s.status) for s in report.steps] == [
        ("bootstrap", "passed"), ("smoke", "failed"), ("drift", "skipped"), ("teardown", "passed")]
    assert report.first_failure == "smoke" and not report.ok
    assert report.diagnostics == "Application tasknote-dev: Synced/Degraded"


def test_unexpected_exceptions_are_failures_too_and_broken_diagnostics_do_not_hide_them() -> None:
    def broken_diagnostics() -> str:
        raise RuntimeError("API gone")

    report = conformance.run_pipeline([("x", lambda: str(1 / 0))], diagnostics=broken_diagnostics,
                                      progress=lambda _: None)
    assert report.steps[0].detail == "ZeroDivisionError: division by zero"
    assert report.diagnostics == "(gathering diagnostics failed: API gone)"


def test_junit_and_markdown_reports(tmp_path: Path) -> None:
    steps = [("manifests.check", lambda: "every overlay renders"),
             ("smoke", failing("smoke suite failed: ready | timed out.")),
             ("drift", lambda: None)]
    report = conformance.run_pipeline(steps, diagnostics=lambda: "events: BackOff pulling image",
                                      progress=lambda _: None, clock=Clock())
    conformance.write_reports(report, tmp_path / "out")
    assert report.junit_path is not None and report.markdown_path is not None
    suite = ET.parse(report.junit_path).getroot()  # noqa: S314 - our own file
    assert suite.tag == "testsuite"
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("3", "1", "1")
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert cases["smoke"].find("failure").get("message") == "smoke suite failed: ready | timed out."  # type: ignore[union-attr]
    assert cases["drift"].find("skipped") is not None
    assert cases["manifests.check"].get("time") == "1.500"
    assert suite.find("system-err").text == "events: BackOff pulling image"  # type: ignore[union-attr]
    text = report.markdown_path.read_text()
    assert text.startswith("# TaskNote nightly conformance: FAILED at smoke\n")
    assert "| manifests.check | passed | 1.5 s | every overlay renders |" in text
    assert "| smoke | failed | 1.5 s | smoke suite failed: ready \\| timed out. |" in text
    assert "## Diagnostics" in text and "BackOff pulling image" in text
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["junit.xml", "report.md"]


# --- the lab's pause/resume of auto-sync, over recorded Applications ------------------------

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "cluster"


class RecordedApi:
    """Stands in for the Kubernetes API server (not runnable here) with recorded objects."""

    def applications(self, namespace: str = "argocd") -> list[dict[str, Any]]:
        return list(json.loads((FIXTURES / "applications-healthy.json").read_text())["items"])


class RecordingLab(conformance.Lab):
    def __init__(self) -> None:
        super().__init__(resolve("kind"), api=RecordedApi())
        self.patches: list[tuple[str, dict[str, Any]]] = []

    def kubectl(self, *args: str, timeout: float = 300, check: bool = True) -> Any:
        assert args[:3] == ("patch", "-n", "argocd")
        self.patches.append((args[3], json.loads(args[args.index("-p") + 1])))


def test_lab_pauses_the_env_app_and_its_app_of_apps_then_restores_git_policy() -> None:
    lab = RecordingLab()
    saved = lab.pause_auto_sync()
    assert list(saved) == ["tasknote-dev", "root-kind"]
    assert saved["tasknote-dev"] == {"prune": True, "selfHeal": True}
    assert [name for name, _ in lab.patches] == ["application/root-kind", "application/tasknote-dev"]
    assert all(patch == {"spec": {"syncPolicy": {"automated": None}}} for _, patch in lab.patches)
    lab.patches.clear()
    lab.resume_auto_sync(saved)
    assert lab.patches[0] == ("application/tasknote-dev",
                              {"spec": {"syncPolicy": {"automated": {"prune": True, "selfHeal": True}}}})
