"""What several rules walk: pod specs, containers, labels and selectors."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from gitops.manifests.policy.model import Doc

Found = Iterator[tuple[str, str]]


LONG_RUNNING = ("Deployment", "StatefulSet", "DaemonSet")


WORKLOADS = (*LONG_RUNNING, "ReplicaSet", "Job", "CronJob", "Pod")


def pod_spec(doc: Doc) -> tuple[dict[str, Any], str] | None:
    """The pod spec of a workload and its field path, or None for other kinds."""
    kind, spec = doc.get("kind"), doc.get("spec") or {}
    if kind == "Pod":
        return spec, "spec"
    if kind == "CronJob":
        return ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template", {}).get("spec") or {}, \
            "spec.jobTemplate.spec.template.spec"
    if kind in WORKLOADS:
        return (spec.get("template") or {}).get("spec") or {}, "spec.template.spec"
    return None


def containers(doc: Doc, init: bool = True) -> Iterator[tuple[dict[str, Any], str]]:
    """(container, field path) of every container (init containers too unless init=False)."""
    found = pod_spec(doc)
    if found is None:
        return
    spec, path = found
    fields = ("initContainers", "containers") if init else ("containers",)
    for field in fields:
        for i, container in enumerate(spec.get(field) or []):
            yield container, f"{path}.{field}[{i}]"


def label(container: dict[str, Any]) -> str:
    return f"container {container.get('name', '?')!r}"


def pod_labels(doc: Doc) -> dict[str, str]:
    template = (doc.get("spec") or {}).get("template") or {}
    return dict((template.get("metadata") or {}).get("labels") or {})


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    wanted = selector.get("matchLabels") or {}
    return bool(wanted) and all(labels.get(k) == v for k, v in wanted.items())

