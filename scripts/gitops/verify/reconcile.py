"""Wait for Argo CD Applications and their workloads to be Synced and Healthy, with progress,
and stop early, with the reason, when something is stuck in a state waiting cannot heal
(gitops.verify.diagnose).

The assessment is pure (JSON objects in, statuses out) so it is tested against recorded API
objects; only `observe_cluster` talks to a real API server.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from gitops.cluster.port import ClusterPort
from gitops.core.errors import GitOpsError
from gitops.verify.diagnose import Diagnosis, Seen, diagnose, persisting

ARGO_API = "argoproj.io/v1alpha1"

Obj = dict[str, Any]


@dataclass(frozen=True)
class AppStatus:
    name: str
    sync: str
    health: str
    message: str
    children: tuple[str, ...] = ()

    @property
    def ready(self) -> bool:
        return self.sync == "Synced" and self.health == "Healthy"


@dataclass(frozen=True)
class WorkloadStatus:
    kind: str
    namespace: str
    name: str
    desired: int
    ready_replicas: int
    message: str
    ready: bool


@dataclass(frozen=True)
class Snapshot:
    apps: tuple[AppStatus, ...]
    workloads: tuple[WorkloadStatus, ...] = ()
    missing: tuple[str, ...] = field(default=())
    stuck: tuple[Diagnosis, ...] = ()

    @property
    def ready(self) -> bool:
        return (bool(self.apps) and not self.missing and all(a.ready for a in self.apps)
                and all(w.ready for w in self.workloads))

    def blockers(self) -> list[str]:
        """One phrase per thing still not ready, Applications first."""
        found = [f"Application {name} does not exist yet" for name in self.missing]
        found += [f"Application {a.name} is {a.sync}/{a.health}" + (f": {a.message}" if a.message else "")
                  for a in self.apps if not a.ready]
        found += [f"{w.kind} {w.namespace}/{w.name} has {w.ready_replicas}/{w.desired} ready"
                  + (f": {w.message}" if w.message else "") for w in self.workloads if not w.ready]
        return found


def _latest(entries: Iterable[Obj], stamp: str) -> Obj | None:
    ordered = sorted(entries, key=lambda e: str(e.get(stamp) or ""))
    return ordered[-1] if ordered else None


def last_message(status: Obj) -> str:
    """The most telling message: an error condition, else the last operation, else health."""
    condition = _latest(status.get("conditions") or [], "lastTransitionTime")
    if condition and condition.get("message"):
        return f"{condition.get('type', 'Condition')}: {condition['message']}"
    operation = status.get("operationState") or {}
    if operation.get("message") and operation.get("phase") != "Succeeded":
        return f"{operation.get('phase', 'Operation')}: {operation['message']}"
    health = status.get("health") or {}
    if health.get("message"):
        return str(health["message"])
    return str(operation.get("message") or "")


def app_status(app: Obj) -> AppStatus:
    status = app.get("status") or {}
    children = tuple(r["name"] for r in status.get("resources") or []
                     if r.get("kind") == "Application" and r.get("group") == "argoproj.io")
    return AppStatus(
        name=str(app["metadata"]["name"]),
        sync=str((status.get("sync") or {}).get("status") or "Unknown"),
        health=str((status.get("health") or {}).get("status") or "Unknown"),
        message=" ".join(last_message(status).split()),
        children=children,
    )


def deployment_status(deployment: Obj) -> WorkloadStatus:
    """Rolled out when the controller saw this generation and every replica is updated and ready."""
    meta, spec, status = deployment["metadata"], deployment.get("spec") or {}, deployment.get("status") or {}
    desired = int(spec.get("replicas", 1))
    updated = int(status.get("updatedReplicas") or 0)
    ready = int(status.get("readyReplicas") or 0)
    available = int(status.get("availableReplicas") or 0)
    observed = int(status.get("observedGeneration") or 0) >= int(meta.get("generation") or 0)
    message = ""
    for condition in status.get("conditions") or []:
        stuck = condition.get("reason") == "ProgressDeadlineExceeded"
        unavailable = condition.get("type") == "Available" and condition.get("status") != "True"
        if stuck or (unavailable and not message):
            message = str(condition.get("message", ""))
    total = int(status.get("replicas") or 0)
    done = observed and updated == desired and ready == desired and available == desired and total == desired
    return WorkloadStatus("Deployment", str(meta.get("namespace", "")), str(meta["name"]), desired,
                          ready, message, done)


def assess(apps: Iterable[Obj], deployments: Iterable[Obj] = (), pods: Iterable[Obj] = ()) -> Snapshot:
    """Every Application, and every child an app-of-apps says it manages, must be present."""
    apps = list(apps)
    statuses = tuple(sorted((app_status(a) for a in apps), key=lambda s: s.name))
    present = {s.name for s in statuses}
    wanted = {child for s in statuses for child in s.children}
    missing = tuple(sorted(wanted - present))
    return Snapshot(statuses, tuple(deployment_status(d) for d in deployments), missing,
                    diagnose(apps, pods))


def progress_lines(snapshot: Snapshot, elapsed_s: float) -> list[str]:
    lines = [f"[{elapsed_s:5.0f}s] {a.name:<28} {a.sync:<10} {a.health:<12} {a.message}".rstrip()
             for a in snapshot.apps]
    lines += [f"[{elapsed_s:5.0f}s] {name:<28} (not created yet)" for name in snapshot.missing]
    lines += [f"[{elapsed_s:5.0f}s] {w.namespace + '/' + w.name:<28} {w.ready_replicas}/{w.desired} ready "
              f"{w.message}".rstrip() for w in snapshot.workloads if not w.ready]
    return lines


def stuck_error(diagnosis: Diagnosis, what: str, elapsed_s: float) -> GitOpsError:
    return GitOpsError(f"stopped waiting for {what} after {elapsed_s:.0f} s, as waiting will not help: "
                       f"{diagnosis.sentence()}")


def timeout_error(snapshot: Snapshot | None, what: str, deadline_s: float) -> GitOpsError:
    if snapshot is not None and snapshot.stuck:
        return GitOpsError(f"{what} not ready after {deadline_s:g} s: {snapshot.stuck[0].sentence()}")
    if snapshot is None or (not snapshot.apps and not snapshot.workloads):
        return GitOpsError(f"no Argo CD Application appeared within {deadline_s:g} s while waiting for "
                           f"{what}; check that the root application was applied (./inv bootstrap).")
    first = snapshot.blockers()[0]
    return GitOpsError(f"{what} not ready after {deadline_s:g} s: {first} "
                       "(see kubectl -n argocd get applications).")


def wait_until_ready(
    observe: Callable[[], Snapshot],
    *,
    what: str,
    deadline_s: float,
    progress: Callable[[str], None] = print,
    interval_s: float = 5,
    settle_polls: int = 2,
    heartbeat_s: float = 30,
    stuck_grace_s: float = 60,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Snapshot:
    """Poll until ready on `settle_polls` consecutive polls (an app-of-apps is briefly
    Healthy before its children exist), printing the table when it changes and a
    heartbeat otherwise; raise one sentence naming the first blocker at the deadline, or
    earlier, naming the object and cause, when a diagnosis held for `stuck_grace_s`."""
    start = clock()
    progress(f"waiting up to {deadline_s:g} s for {what}")
    shown: list[str] | None = None
    last_shown_at = start
    streak = 0
    snapshot: Snapshot | None = None
    seen: Seen = {}
    while True:
        snapshot = observe()
        now = clock()
        elapsed = now - start
        for diagnosis in snapshot.stuck:
            if diagnosis.key not in seen:
                progress(f"[{elapsed:5.0f}s] stuck? {diagnosis.sentence()}")
        verdict, seen = persisting(snapshot.stuck, seen, now, stuck_grace_s)
        if verdict is not None:
            raise stuck_error(verdict, what, elapsed)
        table = progress_lines(snapshot, 0)
        if table != shown:
            for line in progress_lines(snapshot, elapsed):
                progress(line)
            shown, last_shown_at = table, now
        elif now - last_shown_at >= heartbeat_s:
            blockers = snapshot.blockers()
            progress(f"[{elapsed:5.0f}s] still waiting: {blockers[0] if blockers else 'settling'}")
            last_shown_at = now
        streak = streak + 1 if snapshot.ready else 0
        if streak >= settle_polls:
            progress(f"{what}: {len(snapshot.apps)} Applications Synced and Healthy after {elapsed:.0f} s")
            return snapshot
        if elapsed >= deadline_s:
            raise timeout_error(snapshot, what, deadline_s)
        sleep(interval_s)


def observe_cluster(port: ClusterPort, namespace: str = "argocd") -> Callable[[], Snapshot]:
    """Applications in Argo CD's namespace and the Deployments in their destination namespaces."""

    def observe() -> Snapshot:
        apps = port.list(ARGO_API, "Application", namespace)
        namespaces = sorted({str(((a.get("spec") or {}).get("destination") or {}).get("namespace") or "")
                             for a in apps} - {"", namespace})
        deployments = [d for ns in namespaces for d in port.list("apps/v1", "Deployment", ns)]
        # Pods only for the diagnoses (image pulls, crash loops); SealedSecrets need no read
        # of their own: Argo CD reports them in the Applications' status.resources.
        pods = [p for ns in namespaces for p in port.list("v1", "Pod", ns)]
        return assess(apps, deployments, pods)

    return observe


def rollout_done(obj: Obj | None) -> tuple[bool, str]:
    """(done, what was seen) for a Deployment or StatefulSet, as `kubectl rollout status` judges:
    the controller saw this generation and every replica is updated and ready."""
    if obj is None:
        return False, "not created yet"
    if obj.get("kind") == "Deployment":
        seen = deployment_status(obj)
        return seen.ready, f"{seen.ready_replicas}/{seen.desired} ready {seen.message}".rstrip()
    meta, spec, status = obj["metadata"], obj.get("spec") or {}, obj.get("status") or {}
    desired = int(spec.get("replicas", 1))
    ready = int(status.get("readyReplicas") or 0)
    updated = int(status.get("updatedReplicas") or 0)
    observed = int(status.get("observedGeneration") or 0) >= int(meta.get("generation") or 0)
    return observed and ready == updated == desired, f"{ready}/{desired} ready, {updated} updated"
