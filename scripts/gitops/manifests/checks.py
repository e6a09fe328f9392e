"""render + validate + policy over every overlay and cluster root: the `manifests.*` domain.

Returns data (a Report); the tasks print it. The Repo can be another checkout (a test's copy
of the repository): `--root` or the TASKNOTE_ROOT environment variable, see Repo.chosen.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from gitops.core.errors import GitOpsError
from gitops.core.repo import Repo
from gitops.manifests import clusterfacts, pins, policy, render, validate

FORMATS = ("text", "json")


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise GitOpsError(f"unknown format {fmt!r}; use text or json.")
    return fmt


@dataclass
class Report:
    targets: list[str]
    problems: list[validate.Problem] = field(default_factory=list)
    findings: list[policy.Finding] = field(default_factory=list)
    mismatches: list[pins.Mismatch] = field(default_factory=list)
    cached: int = 0

    @property
    def failures(self) -> list[policy.Finding]:
        return policy.failing(self.findings)

    @property
    def ok(self) -> bool:
        return not self.problems and not self.failures and not self.mismatches

    def as_json(self) -> str:
        return json.dumps({
            "ok": self.ok, "targets": self.targets,
            "schema_problems": [p.as_dict() for p in self.problems],
            "policy_findings": [f.as_dict() for f in self.findings],
            "pin_mismatches": [str(m) for m in self.mismatches],
        }, indent=2)

    def lines(self) -> list[str]:
        out = [f"schema {p}" for p in self.problems] + [str(f) for f in self.findings]
        out += [f"pin {m}" for m in self.mismatches]
        if not self.targets:
            return [*out, f"{len(self.mismatches)} pin mismatches against versions.yaml"]
        out.append(
            f"{len(self.targets)} targets ({self.cached} from cache): {len(self.problems)} schema problems, "
            f"{len(self.failures)} policy errors, {len(self.findings) - len(self.failures)} warnings, "
            f"{len(self.mismatches)} pin mismatches"
        )
        return out

    def summary_error(self) -> str:
        first = next(str(x) for x in (*self.problems, *self.failures, *self.mismatches))
        return (f"manifests check failed with {len(self.problems)} schema problems, {len(self.failures)} "
                f"policy errors and {len(self.mismatches)} pin mismatches; first: {first}")


def rendered(repo: Repo, target: str = "", use_cache: bool = True) -> list[render.Rendered]:
    return render.render(repo, render.select(render.targets(repo.root), target), use_cache=use_cache)


def run(repo: Repo, target: str = "", *, schemas: bool = True, rules: bool = True,
        use_cache: bool = True) -> Report:
    """Render the targets (all by default), then validate and/or apply the policy rules.

    The kubectl processes render in the background while this thread loads the schemas (and the
    clusters' facts): the two take similar time, so a check costs little more than the render
    itself (bench/manifests_check.py measures it)."""
    chosen = render.select(render.targets(repo.root), target)
    with ThreadPoolExecutor(max_workers=1) as background:
        rendering = background.submit(render.render, repo, chosen, use_cache=use_cache)
        validators = None
        if schemas:
            validators = validate.validators_for(repo)
            validators.warm()
        facts = clusterfacts.load(repo.root) if rules else {}
        results = rendering.result()
    report = Report([r.target.name for r in results], cached=sum(r.cached for r in results))
    if validators is not None:
        report.problems = [p for r in results
                           for p in validate.validate_docs(r.docs, r.target.name, validators)]
    if rules:
        report.findings = policy.check(results, facts=facts)
    return report


def pin_report(repo: Repo) -> Report:
    """Only the pins: no render, so it runs without kubectl."""
    return Report([], mismatches=pins.mismatches(repo.root, repo.versions))
