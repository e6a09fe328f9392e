"""Test tiers: a test's folder gives its marker; a tier whose prerequisite is missing skips
with one line that names what is missing and how to provide it."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
TIERS = ("unit", "manifests", "integration", "e2e")


def tier_of(path: Path) -> str:
    parts = path.relative_to(ROOT).parts
    for tier in TIERS:
        if tier in parts:
            return tier
    return "unit"


@functools.cache
def missing_prerequisite(tier: str) -> str | None:
    """None when the tier can run here, otherwise one sentence for the skip line."""
    from gitops.core import tools
    from gitops.core.errors import GitOpsError
    from support.checkout import this_repo

    if tier == "manifests":
        try:
            tools.require("kubectl", this_repo())
        except GitOpsError as exc:
            return f"manifests tier needs kubectl: {exc}"
    if tier == "integration":
        try:
            tools.docker_engine(this_repo())
        except GitOpsError as exc:
            return f"integration tier needs a Docker engine: {exc}"
    if tier == "e2e":
        from gitops.cluster.access import cluster_unreachable

        reason = cluster_unreachable(this_repo())
        if reason:
            return f"e2e tier needs a Kubernetes cluster: {reason}"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        tier = tier_of(Path(str(item.path)))
        item.add_marker(getattr(pytest.mark, tier))


def pytest_runtest_setup(item: pytest.Item) -> None:
    tier = tier_of(Path(str(item.path)))
    if tier == "unit":
        return
    reason = missing_prerequisite(tier)
    if reason:
        pytest.skip(reason)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """One line per tier: how many ran, passed, failed and skipped, so a silent tier shows."""
    counts: dict[str, dict[str, int]] = {tier: {} for tier in TIERS}
    for outcome in ("passed", "failed", "skipped", "error"):
        for report in terminalreporter.stats.get(outcome, []):
            nodeid = getattr(report, "nodeid", "")
            if not nodeid or (outcome == "passed" and getattr(report, "when", "call") != "call"):
                continue
            tier = tier_of(ROOT / nodeid.split("::")[0])
            counts[tier][outcome] = counts[tier].get(outcome, 0) + 1
    terminalreporter.section("tiers")
    for tier in TIERS:
        done = counts[tier]
        line = ", ".join(f"{n} {what}" for what, n in sorted(done.items())) or "no tests"
        reason = missing_prerequisite(tier) if tier != "unit" else None
        terminalreporter.write_line(f"{tier:12} {line}" + (f"  (skipped: {reason})" if reason else ""))


os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")
