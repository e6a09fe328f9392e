"""The policy engine: run every rule over every rendered object and collect findings.

Rules live in gitops.manifests.policy.rules (one table; the checks by theme beside it). A finding
is suppressed only by an annotation on the object itself, `policy.tasknote.dev/skip-<RULE>:
"<reason>"`, and only when the reason is not empty: an exception is visible in Git next to the
object, with its why.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from gitops.manifests.clusterfacts import ClusterFacts, running
from gitops.manifests.policy.model import SKIP_ANNOTATION, Context, Doc, Finding, Rule, suppressed
from gitops.manifests.policy.rules import RULES

if TYPE_CHECKING:  # a type only: render's imports are not needed to check parsed objects
    from gitops.manifests.render import Rendered

__all__ = ["RULES", "SKIP_ANNOTATION", "Finding", "Rule", "check", "check_docs", "failing"]


def check_docs(docs: Sequence[Doc], target: str, environment: str | None,
               rules: Sequence[Rule] | None = None, clusters: Sequence[ClusterFacts] = ()) -> list[Finding]:
    """Findings of rules (default: all) over one target's objects."""
    ctx = Context(target, environment, docs, tuple(clusters))
    findings = []
    for doc in docs:
        meta = doc.get("metadata") or {}
        for rule in rules if rules is not None else RULES:
            if suppressed(doc, rule.id):
                continue
            for path, message in rule.check(doc, ctx):
                findings.append(Finding(
                    rule.id, rule.severity, target, str(doc.get("kind", "")),
                    str(meta.get("namespace") or ""), str(meta.get("name") or ""), path, message, rule.fix,
                ))
    return findings


def check(rendered: Sequence[Rendered], rules: Sequence[Rule] | None = None,
          facts: Mapping[str, ClusterFacts] | None = None) -> list[Finding]:
    """Findings over every rendered target; `facts` (clusterfacts.load) tells the rules which
    clusters each target lands on."""
    return [f for r in rendered
            for f in check_docs(r.docs, r.target.name, r.target.environment, rules,
                                running(dict(facts or {}), r.target.environment, r.target.cluster))]


def failing(findings: Iterable[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity == "error"]

