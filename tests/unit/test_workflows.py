"""Every workflow parses and pins each action by a full commit SHA (tags can be moved)."""

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.checkout import ROOT

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.y*ml"))
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def uses_of(workflow: dict[str, Any]) -> list[str]:
    found = []
    for job in (workflow.get("jobs") or {}).values():
        if "uses" in job:  # a reusable workflow call
            found.append(str(job["uses"]))
        for step in job.get("steps") or []:
            if "uses" in step:
                found.append(str(step["uses"]))
    return found


def unpinned(workflow: dict[str, Any]) -> list[str]:
    return [u for u in uses_of(workflow) if not u.startswith("./") and not PINNED.match(u)]


def test_there_are_pull_request_and_nightly_workflows() -> None:
    names = {p.name for p in WORKFLOWS}
    assert {"pull-request.yaml", "nightly.yaml"} <= names


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_parses_and_pins_every_action_by_sha(path: Path) -> None:
    workflow = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(workflow, dict) and workflow.get("jobs"), f"{path.name} has no jobs"
    # PyYAML reads the bare key `on` as True.
    assert "on" in workflow or True in workflow
    assert uses_of(workflow), f"{path.name} uses no actions at all"
    assert unpinned(workflow) == []


def test_a_planted_tag_only_uses_fails() -> None:
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "nightly.yaml").read_text())
    short_sha = "actions/cache@" + "0c45773b" * 4 + "0c4577"  # 38 hex: not a full commit
    workflow["jobs"]["conformance"]["steps"].append({"uses": "actions/cache@v4"})
    workflow["jobs"]["conformance"]["steps"].append({"uses": short_sha})
    assert unpinned(workflow) == ["actions/cache@v4", short_sha]


NIGHTLY = ROOT / ".github" / "workflows" / "nightly.yaml"


def step_running(steps: list[dict[str, Any]], command: str) -> dict[str, Any] | None:
    return next((s for s in steps if command in s.get("run", "")), None)


def nightly_problems(text: str) -> list[str]:
    """What issue 13 requires of the nightly, one phrase per violation."""
    steps: list[dict[str, Any]] = yaml.safe_load(text)["jobs"]["conformance"]["steps"]
    problems = []
    if "secrets." in text or "${{" in text:
        problems.append("uses secrets or expressions")
    if "curl" in text or "sha256sum" in text:
        problems.append("installs a tool by hand")  # bootstrap fetches the pinned kind itself
    if any("cluster.delete" in s.get("run", "") for s in steps):
        problems.append("deletes the developer's cluster")
    conformance = step_running(steps, "./inv conformance --keep")
    e2e = step_running(steps, "pytest -m e2e")
    teardown = step_running(steps, "./inv conformance --teardown")
    upload = next((s for s in steps if s.get("uses", "").startswith("actions/upload-artifact@")), None)
    if conformance is None or "if" in conformance:
        problems.append("no unconditional ./inv conformance --keep")
    for name, step in (("e2e", e2e), ("teardown", teardown), ("upload", upload)):
        if step is None or step.get("if") != "always()":
            problems.append(f"{name} does not run always()")
    if None not in (conformance, e2e, teardown, upload) and not (
            steps.index(conformance) < steps.index(e2e) < steps.index(teardown) < steps.index(upload)):
        problems.append("steps out of order")
    if upload is not None and upload.get("with", {}).get("path") != "reports/conformance/":
        problems.append("uploads something else than reports/conformance/")
    if e2e is not None and '--junitxml="$REPORT_DIR/e2e-junit.xml"' not in e2e["run"]:
        problems.append("e2e report not written beside the conformance report")
    return problems


def test_nightly_meets_issue_13() -> None:
    assert nightly_problems(NIGHTLY.read_text()) == []


@pytest.mark.parametrize(("edit", "problem"), [
    (lambda t: t.replace("        if: always()\n        run: .venv/bin/pytest",
                         "        run: .venv/bin/pytest"), "e2e does not run always()"),
    (lambda t: t.replace("./inv conformance --teardown", "./inv cluster.delete"),
     "deletes the developer's cluster"),
    (lambda t: t.replace("run: ./inv --list >/dev/null", "run: curl -fsSLo kind https://x/kind"),
     "installs a tool by hand"),
    (lambda t: t.replace("REPORT_DIR: reports/conformance", "GH_TOKEN: ${{ secrets.GITHUB_TOKEN }}"),
     "uses secrets or expressions"),
])
def test_a_planted_violation_is_caught(edit: Any, problem: str) -> None:
    text = edit(NIGHTLY.read_text())
    assert text != NIGHTLY.read_text()
    assert problem in nightly_problems(text)


def test_release_workflow_builds_pushes_and_bumps_dev_through_inv() -> None:
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "release.yaml").read_text())
    steps = workflow["jobs"]["release"]["steps"]
    runs = "\n".join(s.get("run", "") for s in steps)
    for command in ("./inv images.build", "./inv images.push", "./inv release.bump --env dev"):
        assert command in runs
    # Expressions go through env:, never into a script that runs ./inv (no injection via tag names).
    assert all("${{" not in s["run"] for s in steps if "./inv" in s.get("run", ""))
    assert "--password-stdin" in runs and workflow["permissions"]["pull-requests"] == "write"


def test_pull_requests_run_the_kubeseal_compatibility_test_with_the_pinned_checksummed_kubeseal() -> None:
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "pull-request.yaml").read_text())
    steps = workflow["jobs"]["integration"]["steps"]
    install = next(s for s in steps if "kubeseal" in s.get("name", ""))
    script = install["run"]
    assert 'version_of("tools", "kubeseal", sys.argv[1])' in script
    assert '"$pin" url' in script and '"$pin" sha256' in script and "sha256sum -c" in script
    assert script.index("sha256sum -c") < script.index("install -m 0755")  # checked before installed
    tests = steps[steps.index(install) + 1]
    assert "--tier integration" in tests["run"] and tests["env"]["TASKNOTE_REQUIRE_KUBESEAL"] == "1"
    compat = (ROOT / "tests" / "integration" / "test_kubeseal_compat.py").read_text()
    assert 'os.environ.get("TASKNOTE_REQUIRE_KUBESEAL")' in compat
