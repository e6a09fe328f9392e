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


def test_nightly_uploads_the_report_and_pins_kind_from_versions() -> None:
    text = (ROOT / ".github" / "workflows" / "nightly.yaml").read_text()
    workflow = yaml.safe_load(text)
    steps = workflow["jobs"]["conformance"]["steps"]
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["if"] == "always()" and upload["with"]["path"] == "reports/conformance/"
    assert 'version_of("tools", "kind", "sha256")' in text and "sha256sum -c" in text
    assert any("./inv conformance" in s.get("run", "") for s in steps)


def test_release_workflow_builds_pushes_and_bumps_dev_through_inv() -> None:
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "release.yaml").read_text())
    steps = workflow["jobs"]["release"]["steps"]
    runs = "\n".join(s.get("run", "") for s in steps)
    for command in ("./inv images.build", "./inv images.push", "./inv release.bump --env dev"):
        assert command in runs
    # Expressions go through env:, never into a script that runs ./inv (no injection via tag names).
    assert all("${{" not in s["run"] for s in steps if "./inv" in s.get("run", ""))
    assert "--password-stdin" in runs and workflow["permissions"]["pull-requests"] == "write"
