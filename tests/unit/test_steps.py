"""The one step engine (gitops.verify.steps): check-before-do, outcomes with seconds, progress,
stop-on-failure vs keep-going, the always-run teardown, plan() for --dry-run; and that it is
the only step engine and the port the only kubectl argv builder in the package."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest
from gitops.core.errors import GitOpsError
from gitops.verify.steps import STILL_NOT_DONE, Outcome, Runner, Step, format_plan, plan

PACKAGE = Path(__file__).resolve().parents[2] / "scripts" / "gitops"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


def boom() -> str:
    raise GitOpsError("it broke.")


def test_check_before_do_skips_what_is_done_and_times_the_rest() -> None:
    done = {"a"}
    ran: list[str] = []

    def make(name: str) -> Step:
        return Step(name, lambda: ran.append(name) or done.add(name) or f"{name} made",
                    check=lambda: name in done)

    seen: list[tuple[int, str, str | None]] = []
    runner = Runner(progress=lambda n, s, o: seen.append((n, s.name, o.status if o else None)), clock=Clock())
    result = runner.run([make("a"), make("b")])
    assert ran == ["b"]
    assert [(o.step, o.status, o.detail) for o in result.outcomes] == [
        ("a", "already done", ""), ("b", "passed", "b made")]
    # The injected clock ticks once when a step starts and once when it ends.
    assert result.outcomes[0].seconds == 1.0 == result.outcomes[1].seconds
    assert seen == [(1, "a", "already done"), (2, "b", None), (2, "b", "passed")]
    assert result.ok and result.first_failure == ""


def test_a_step_whose_check_still_fails_after_do_is_a_failure() -> None:
    result = Runner().run([Step("x", lambda: None, check=lambda: False)])
    assert result.outcomes[0].status == "failed"
    assert result.outcomes[0].detail.startswith(STILL_NOT_DONE)


def test_stop_on_failure_skips_the_rest_but_keep_going_runs_them() -> None:
    ran: list[str] = []
    steps = [Step("a", boom), Step("b", lambda: ran.append("b") or None)]
    stopped = Runner().run(steps)
    assert [o.status for o in stopped.outcomes] == ["failed", "skipped"] and ran == []
    assert stopped.outcomes[0].detail == "it broke." and stopped.first_failure == "a" and not stopped.ok
    going = Runner(keep_going=True).run(steps)
    assert [o.status for o in going.outcomes] == ["failed", "passed"] and ran == ["b"]


def test_teardown_always_runs_and_diagnostics_only_after_a_failure() -> None:
    asked: list[str] = []

    def diagnostics() -> str:
        asked.append("diagnostics")
        return "events"

    teardown = Step("teardown", lambda: asked.append("teardown") or "deleted")
    ok = Runner().run([Step("a", lambda: None)], teardown=teardown, diagnostics=diagnostics)
    assert asked == ["teardown"] and ok.diagnostics == "" and ok.outcomes[-1].step == "teardown"
    asked.clear()
    failed = Runner().run([Step("a", boom)], teardown=teardown, diagnostics=diagnostics)
    assert asked == ["diagnostics", "teardown"] and failed.diagnostics == "events"


def test_only_caught_exceptions_are_failures_and_foreign_ones_carry_their_type() -> None:
    def bug() -> str:
        raise KeyError("x")

    assert Runner().run([Step("a", bug)]).outcomes[0].detail == "KeyError: 'x'"
    with pytest.raises(KeyError):
        Runner(catch=(GitOpsError,)).run([Step("a", bug)])


def test_plan_checks_without_doing_and_stops_checking_after_a_closed_gate() -> None:
    did: list[str] = []

    def no_server() -> bool:
        raise GitOpsError("no API server")

    steps = [Step("tools", lambda: did.append("tools") or None, check=lambda: True, gate=True),
             Step("cluster", lambda: None, "cluster reachable", check=no_server, gate=True),
             Step("argocd", lambda: None, check=lambda: pytest.fail("must not be asked"))]
    checks = plan(steps)
    assert did == []
    assert [(c.step, c.done, c.reason) for c in checks] == [
        ("tools", True, ""), ("cluster", False, "no API server"), ("argocd", False, "after cluster")]
    assert format_plan(checks).splitlines()[1] == " 2. cluster  todo  cluster reachable  (no API server)"


def test_outcome_ok() -> None:
    assert Outcome("a", "already done", 0).ok and not Outcome("a", "skipped", 0).ok


def classes_named(names: set[str]) -> list[str]:
    found = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and node.name in names:
                found.append(f"{path.relative_to(PACKAGE)}:{node.name}")
    return found


# Not step engines, only look-alike names: an image build plan entry and a release result.
NOT_ENGINES = {"images/airgap.py:Step", "delivery/release.py:Outcome"}


def test_exactly_one_step_engine_in_the_package() -> None:
    found = set(classes_named({"Runner", "StepResult", "Outcome", "Step"})) - NOT_ENGINES
    assert found == {"verify/steps.py:Step", "verify/steps.py:Outcome", "verify/steps.py:Runner"}


def kubectl_argv_builders() -> list[str]:
    """Modules holding an argv list whose program is kubectl, talking to a cluster: `kubectl
    kustomize` renders files offline (gitops.manifests) and is not cluster access."""
    found = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.List) and node.elts):
                continue
            first: Any = node.elts[0]
            # The program slot: "kubectl", a variable named kubectl, or str(...) of one.
            program = ast.unparse(first) in ("'kubectl'", "kubectl", "str(kubectl)") or (
                isinstance(first, ast.Call) and ast.unparse(first).startswith("str(")
                and "kubectl" in ast.unparse(first))
            offline = any(isinstance(e, ast.Constant) and e.value == "kustomize" for e in node.elts)
            if program and not offline:
                found.add(str(path.relative_to(PACKAGE)))
    return sorted(found)


def test_the_cluster_port_is_the_only_place_that_builds_kubectl_argv() -> None:
    assert kubectl_argv_builders() == ["cluster/port.py"]
