"""A step run as JUnit XML (for CI test views) and as Markdown (for people): the one renderer."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from gitops.core.files import atomic_write
from gitops.verify.steps import FAILED, SKIPPED, Run


@dataclass(frozen=True)
class Written:
    junit: Path
    markdown: Path


def junit_xml(run: Run, suite: str) -> str:
    failures = sum(o.status == FAILED for o in run.outcomes)
    skipped = sum(o.status == SKIPPED for o in run.outcomes)
    root = ET.Element("testsuite", name=suite, tests=str(len(run.outcomes)), failures=str(failures),
                      errors="0", skipped=str(skipped), time=f"{run.seconds:.3f}")
    for outcome in run.outcomes:
        case = ET.SubElement(root, "testcase", classname=suite, name=outcome.step,
                             time=f"{outcome.seconds:.3f}")
        if outcome.status == FAILED:
            ET.SubElement(case, "failure", message=outcome.detail[:500]).text = outcome.detail
        elif outcome.status == SKIPPED:
            ET.SubElement(case, "skipped", message=outcome.detail)
        elif outcome.detail:
            ET.SubElement(case, "system-out").text = outcome.detail
    if run.diagnostics:
        ET.SubElement(root, "system-err").text = run.diagnostics
    return ET.tostring(root, encoding="unicode", xml_declaration=True)


def markdown(run: Run, title: str) -> str:
    verdict = "passed" if run.ok else f"FAILED at {run.first_failure}"
    lines = [f"# {title}: {verdict}", "", f"Total time: {run.seconds:.0f} s", "",
             "| step | result | time | detail |", "| --- | --- | ---: | --- |"]
    for o in run.outcomes:
        detail = " ".join(o.detail.split()).replace("|", "\\|")
        lines.append(f"| {o.step} | {o.status} | {o.seconds:.1f} s | {detail} |")
    if run.diagnostics:
        lines += ["", "## Diagnostics", "", "```", run.diagnostics.rstrip(), "```"]
    return "\n".join(lines) + "\n"


def write_reports(run: Run, out_dir: Path, *, suite: str, title: str) -> Written:
    """junit.xml and report.md in out_dir, each written atomically."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = Written(out_dir / "junit.xml", out_dir / "report.md")
    atomic_write(written.junit, junit_xml(run, suite).encode())
    atomic_write(written.markdown, markdown(run, title).encode())
    return written
