"""The one step engine: ordered steps, check-before-do, timed outcomes, progress, teardown.

bootstrap, conformance and the smoke suite are all "run these steps in order and say what
happened", so they share this engine and differ only in their options:

- a step may carry a `check` (is it already done?). The runner asks it first and skips a step
  that is done ("already done"); after `do` it asks again, so a step that ran but did not take
  effect is a failure, not a silent success. `plan()` only asks the checks (--dry-run).
- `keep_going=False` (the default) stops at the first failure and records every later step as
  skipped; `keep_going=True` runs them all.
- a teardown step always runs, after success or failure, and is recorded like any other.
- `catch` says which exceptions are failures of a step; anything else (a bug) propagates.
- progress is a callback receiving (number, step, outcome-or-None-when-starting); the clock is
  injectable so the seconds in outcomes are testable.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from gitops.core.errors import GitOpsError

PASSED = "passed"
ALREADY_DONE = "already done"
FAILED = "failed"
SKIPPED = "skipped"
AFTER_FAILURE = "an earlier step failed"
STILL_NOT_DONE = "ran but its check still fails"


@dataclass(frozen=True)
class Step:
    name: str
    do: Callable[[], str | None]
    title: str = ""
    check: Callable[[], bool] | None = None
    # False: a failure of this step is already the whole story (callers do not add "re-run").
    resumable: bool = True
    # A gate that is not done makes every later check pointless (no tools, no API server).
    gate: bool = False

    @property
    def label(self) -> str:
        return self.title or self.name


@dataclass(frozen=True)
class Outcome:
    step: str
    status: str  # passed | already done | failed | skipped
    seconds: float
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status in (PASSED, ALREADY_DONE)


@dataclass
class Run:
    outcomes: list[Outcome] = field(default_factory=list)
    diagnostics: str = ""

    @property
    def ok(self) -> bool:
        return bool(self.outcomes) and all(o.ok for o in self.outcomes)

    @property
    def failed(self) -> Outcome | None:
        return next((o for o in self.outcomes if o.status == FAILED), None)

    @property
    def first_failure(self) -> str:
        failed = self.failed
        return failed.step if failed else ""

    @property
    def seconds(self) -> float:
        return sum(o.seconds for o in self.outcomes)


Progress = Callable[[int, Step, "Outcome | None"], None]


@dataclass(frozen=True)
class Check:
    step: str
    title: str
    done: bool
    reason: str = ""


def check(step: Step) -> Check:
    """Ask a step's check; a check that cannot run (GitOpsError) is "not done", with why."""
    if step.check is None:
        return Check(step.name, step.label, False)
    try:
        return Check(step.name, step.label, bool(step.check()))
    except GitOpsError as exc:
        return Check(step.name, step.label, False, str(exc))


def plan(steps: Sequence[Step]) -> list[Check]:
    """Every step's state; nothing is changed. After a closed gate the rest is todo unchecked."""
    checks: list[Check] = []
    blocked_by = ""
    for step in steps:
        if blocked_by:
            checks.append(Check(step.name, step.label, False, f"after {blocked_by}"))
            continue
        result = check(step)
        checks.append(result)
        if step.gate and not result.done:
            blocked_by = step.name
    return checks


def format_plan(checks: Sequence[Check]) -> str:
    width = max((len(c.step) for c in checks), default=0)
    lines = []
    for number, c in enumerate(checks, 1):
        state = "done" if c.done else "todo"
        why = f"  ({c.reason})" if c.reason else ""
        lines.append(f"{number:2}. {c.step:<{width}}  {state}  {c.title}{why}")
    return "\n".join(lines)


def describe_error(exc: BaseException, plain: tuple[type[BaseException], ...]) -> str:
    """Our own errors are already one sentence; anything else gets its type name in front."""
    return str(exc) if isinstance(exc, plain) else f"{type(exc).__name__}: {exc}"


def numbered_lines(say: Callable[[str], None]) -> Progress:
    """Progress as `N. title ...`, `N. title: already done`, `N. title: done in 3 s`."""

    def show(number: int, step: Step, outcome: Outcome | None) -> None:
        if outcome is None:
            say(f"{number}. {step.label} ...")
        elif outcome.status == ALREADY_DONE:
            say(f"{number}. {step.label}: already done")
        elif outcome.status == PASSED:
            say(f"{number}. {step.label}: done in {outcome.seconds:.0f} s")
        elif outcome.status == FAILED:
            say(f"{number}. {step.label} FAILED: {outcome.detail}")

    return show


def quiet(number: int, step: Step, outcome: Outcome | None) -> None:
    """A progress callback that shows nothing."""


@dataclass
class Runner:
    """Runs steps in order: the one step engine of the package."""

    progress: Progress = quiet
    clock: Callable[[], float] = time.monotonic
    keep_going: bool = False
    catch: tuple[type[BaseException], ...] = (Exception,)
    plain: tuple[type[BaseException], ...] = (GitOpsError,)

    def run(self, steps: Sequence[Step], *, teardown: Step | None = None,
            diagnostics: Callable[[], str] | None = None) -> Run:
        result = Run()
        stopped = False
        for number, step in enumerate(steps, 1):
            if stopped:
                result.outcomes.append(Outcome(step.name, SKIPPED, 0.0, AFTER_FAILURE))
                continue
            outcome = self.attempt(number, step)
            result.outcomes.append(outcome)
            stopped = outcome.status == FAILED and not self.keep_going
        if result.failed is not None and diagnostics is not None:
            try:
                result.diagnostics = diagnostics()
            except Exception as exc:  # diagnostics must never hide the failure
                result.diagnostics = f"(gathering diagnostics failed: {exc})"
        if teardown is not None:
            result.outcomes.append(self.attempt(len(steps) + 1, teardown))
        return result

    def attempt(self, number: int, step: Step) -> Outcome:
        started = self.clock()
        if step.check is not None and check(step).done:
            outcome = Outcome(step.name, ALREADY_DONE, self.clock() - started)
            self.progress(number, step, outcome)
            return outcome
        self.progress(number, step, None)
        try:
            detail = step.do() or ""
            if step.check is not None:
                after = check(step)
                if not after.done:
                    raise GitOpsError(STILL_NOT_DONE
                                      + (f": {after.reason.rstrip('.')}" if after.reason else ""))
        except self.catch as exc:
            outcome = Outcome(step.name, FAILED, self.clock() - started, describe_error(exc, self.plain))
        else:
            outcome = Outcome(step.name, PASSED, self.clock() - started, detail)
        self.progress(number, step, outcome)
        return outcome
