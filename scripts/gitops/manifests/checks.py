"""render + validate + policy over every overlay and cluster root: the `manifests.*` domain.

Returns data (a Report); the tasks print it. The root can be another checkout (a test's copy
of the repository): `--root` or the TASKNOTE_ROOT environment variable.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gitops.core import config
from gitops.core.errors import GitOpsError
from gitops.manifests import clusterfacts, policy, render

if TYPE_CHECKING:  # imported inside run(), while kubectl renders: jsonschema is the slow import
    from gitops.manifests import validate

ROOT_ENV = "TASKNOTE_ROOT"
FORMATS = ("text", "json")


def resolve_root(root: str = "") -> Path:
    """--root, else $TASKNOTE_ROOT, else this checkout; it must hold a versions.yaml."""
    chosen = Path(root or os.environ.get(ROOT_ENV) or config.ROOT).resolve()
    if not (chosen / "versions.yaml").is_file():
        raise GitOpsError(
            f"{chosen} has no versions.yaml; point --root (or {ROOT_ENV}) at a TaskNote checkout."
        )
    return chosen


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise GitOpsError(f"unknown format {fmt!r}; use text or json.")
    return fmt


@dataclass
class Report:
    targets: list[str]
    problems: list[validate.Problem] = field(default_factory=list)
    findings: list[policy.Finding] = field(default_factory=list)
    cached: int = 0

    @property
    def failures(self) -> list[policy.Finding]:
        return policy.failing(self.findings)

    @property
    def ok(self) -> bool:
        return not self.problems and not self.failures

    def as_json(self) -> str:
        return json.dumps({
            "ok": self.ok, "targets": self.targets,
            "schema_problems": [p.as_dict() for p in self.problems],
            "policy_findings": [f.as_dict() for f in self.findings],
        }, indent=2)

    def lines(self) -> list[str]:
        out = [f"schema {p}" for p in self.problems] + [str(f) for f in self.findings]
        out.append(
            f"{len(self.targets)} targets ({self.cached} from cache): {len(self.problems)} schema problems, "
            f"{len(self.failures)} policy errors, {len(self.findings) - len(self.failures)} warnings"
        )
        return out

    def summary_error(self) -> str:
        first = (f"{self.problems[0]}" if self.problems else str(self.failures[0]))
        return (f"manifests check failed with {len(self.problems)} schema problems and "
                f"{len(self.failures)} policy errors; first: {first}")


def versions_of(root: Path) -> dict[str, Any]:
    """root's versions.yaml; this checkout's is the one config parsed already (render's kubectl
    check read it), so a check of this checkout parses it once."""
    if root.resolve() == config.ROOT.resolve():
        return config.versions()
    return config.load_versions(root / "versions.yaml")


def rendered(root: Path, target: str = "", use_cache: bool = True) -> list[render.Rendered]:
    return render.render(render.select(render.targets(root), target), root=root, use_cache=use_cache)


def run(root: Path, target: str = "", *, schemas: bool = True, rules: bool = True,
        use_cache: bool = True) -> Report:
    """Render the targets (all by default), then validate and/or apply the policy rules.

    The kubectl processes render in the background while this thread imports the validator and
    loads the schemas (and the clusters' facts): the two take similar time, so a check costs
    little more than the render itself (bench/manifests_check.py measures it)."""
    chosen = render.select(render.targets(root), target)
    with ThreadPoolExecutor(max_workers=1) as background:
        rendering = background.submit(render.render, chosen, root=root, use_cache=use_cache)
        validators = None
        if schemas:
            from gitops.manifests import validate

            validators = validate.validators_for(root, versions_of(root))
            validators.warm()
        facts = clusterfacts.load(root) if rules else {}
        results = rendering.result()
    report = Report([r.target.name for r in results], cached=sum(r.cached for r in results))
    if validators is not None:
        report.problems = [p for r in results
                           for p in validate.validate_docs(r.docs, r.target.name, validators)]
    if rules:
        report.findings = policy.check(results, facts=facts)
    return report
