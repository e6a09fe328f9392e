"""What a policy rule is and what it reports: the rule, its context, a finding, a suppression."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gitops.manifests import objects

if TYPE_CHECKING:  # a type only: the rules read facts the checks layer loads
    from gitops.manifests.clusterfacts import ClusterFacts

SKIP_ANNOTATION = "policy.tasknote.dev/skip-"


Doc = dict[str, Any]


@dataclass(frozen=True)
class Context:
    """What a rule may look at besides the object: its target and the target's other objects."""

    target: str
    environment: str | None
    docs: Sequence[Doc]
    clusters: Sequence[ClusterFacts] = ()  # the clusters the target's objects land on

    def of_kind(self, *kinds: str) -> list[Doc]:
        return [d for d in self.docs if d.get("kind") in kinds]

    def in_namespace(self, kind: str, namespace: str, name: str | None = None) -> list[Doc]:
        """Objects of `kind` in `namespace` (and named `name` when given): what a rule pairs an
        object with, e.g. the HPA of a Deployment or the ServiceAccount of a pod."""
        return [d for d in self.of_kind(kind) if objects.namespace_of(d) == namespace
                and (name is None or objects.name_of(d) == name)]


Check = Callable[[Doc, Context], Iterable[tuple[str, str]]]


@dataclass(frozen=True)
class Rule:
    id: str
    name: str
    severity: str  # "error" fails the check; "warning" is printed only
    rationale: str  # the seed's reason, one sentence
    fix: str
    check: Check


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: str
    target: str
    kind: str
    namespace: str
    name: str
    path: str
    message: str
    fix: str

    @property
    def ref(self) -> str:
        return objects.ref(self.kind, self.namespace, self.name)

    def __str__(self) -> str:
        where = f" {self.path}" if self.path else ""
        head = f"{self.rule} {self.severity} {self.target} {self.ref}{where}"
        return f"{head}: {self.message} (fix: {self.fix})"

    def as_dict(self) -> dict[str, str]:
        return {
            "rule": self.rule, "severity": self.severity, "target": self.target, "kind": self.kind,
            "namespace": self.namespace, "name": self.name, "path": self.path,
            "message": self.message, "fix": self.fix,
        }


def suppressed(doc: Doc, rule_id: str) -> bool:
    annotations = (doc.get("metadata") or {}).get("annotations") or {}
    reason = annotations.get(SKIP_ANNOTATION + rule_id)
    return isinstance(reason, str) and bool(reason.strip())

