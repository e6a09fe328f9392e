"""Recognise, in objects the reconcile wait already reads, the states that waiting cannot heal.

Pure: Application, Pod and SealedSecret objects (JSON as the API returns them) in, one
Diagnosis per stuck object out, each able to say in one sentence which Application, which
object and what is wrong. What counts as "never heals", and from which upstream behaviour:

- A container waiting in ImagePullBackOff/ErrImagePull on an image pinned by digest: a
  digest names one manifest forever, so retrying cannot find it if the registry does not
  serve it (reasons: kubernetes pkg/kubelet/images/types.go ErrImagePullBackOff,
  ErrImagePull). A tag could still be pushed later, so only digests count.
- A container in CrashLoopBackOff that has restarted at least CRASH_RESTARTS times
  (reason: kubernetes pkg/kubelet/container/sync_result.go ErrCrashLoopBackOff). A first
  crash or two can be a dependency still starting; by the third back-off (10 s, 20 s, 40 s:
  over a minute) the container itself is the problem.
- A SealedSecret whose Synced condition is False for its current generation: the controller
  could not decrypt it, and it retries only when the SealedSecret or the keys change
  (bitnami-labs/sealed-secrets pkg/apis/sealedsecrets/v1alpha1/types.go SealedSecretSynced;
  pkg/controller/controller.go updateSealedSecretsStatusConditions sets the message to the
  unseal error). Argo CD reports the same as health Degraded of the SealedSecret in the
  Application's status.resources (argo-cd resource_customizations/bitnami.com/SealedSecret/
  health.lua), so it is recognised from the Application alone as well.
- A sync operation that finished Failed/Error on the revision Argo CD still wants: automated
  sync does not try the same revision again ("Skipping auto-sync: failed previous sync
  attempt", argo-cd controller/appcontroller.go autoSync/alreadyAttemptedSync). While
  retries remain the phase stays Running, so a finished Failed phase means they are spent.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

Obj = dict[str, Any]

PULL_FAILURES = ("ImagePullBackOff", "ErrImagePull")
CRASH_LOOP = "CrashLoopBackOff"
CRASH_RESTARTS = 3
FAILED_PHASES = ("Failed", "Error")


@dataclass(frozen=True)
class Diagnosis:
    """One object in a state that will not change by waiting, and what to do about it."""

    application: str
    kind: str
    namespace: str
    name: str
    cause: str
    fix: str

    @property
    def key(self) -> tuple[str, str, str, str]:
        """Identity across polls: the same object stuck for the same kind of reason."""
        return (self.kind, self.namespace, self.name, self.cause.split(":", 1)[0])

    def sentence(self) -> str:
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        owner = f"Application {self.application}" if self.application else "no Application"
        return f"{owner}: {self.kind} {where} {self.cause.rstrip('.')}; {self.fix.rstrip('.')}."


def _one_line(text: Any) -> str:
    return " ".join(str(text or "").split())


def _meta(obj: Obj) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


def owners_by_namespace(apps: Iterable[Obj]) -> dict[str, str]:
    """destination namespace -> the Application deploying there (first by name when several)."""
    owners: dict[str, str] = {}
    for app in sorted(apps, key=lambda a: str(a["metadata"]["name"])):
        namespace = str(((app.get("spec") or {}).get("destination") or {}).get("namespace") or "")
        if namespace:
            owners.setdefault(namespace, str(app["metadata"]["name"]))
    return owners


def container_statuses(pod: Obj) -> list[Obj]:
    status = pod.get("status") or {}
    return list(status.get("initContainerStatuses") or []) + list(status.get("containerStatuses") or [])


def pod_diagnoses(pod: Obj, application: str = "") -> list[Diagnosis]:
    namespace, name = _meta(pod)
    found = []
    for container in container_statuses(pod):
        waiting = (container.get("state") or {}).get("waiting") or {}
        reason = str(waiting.get("reason") or "")
        image = str(container.get("image") or "")
        label = f"container {container.get('name', '?')}"
        if reason in PULL_FAILURES and "@sha256:" in image:
            found.append(Diagnosis(
                application, "Pod", namespace, name,
                f"cannot pull {image} ({reason}: {_one_line(waiting.get('message')) or 'no message'}) "
                f"for {label}",
                "the registry does not serve that digest: push the image and pin the digest the "
                "registry returned (on kind: ./inv dev.sync)"))
        restarts = int(container.get("restartCount") or 0)
        if reason == CRASH_LOOP and restarts >= CRASH_RESTARTS:
            last = ((container.get("lastState") or {}).get("terminated") or {})
            exit_code = last.get("exitCode")
            ended = f", last exit code {exit_code}" if exit_code is not None else ""
            found.append(Diagnosis(
                application, "Pod", namespace, name,
                f"is in CrashLoopBackOff: {label} restarted {restarts} times{ended}",
                f"read why with kubectl -n {namespace} logs {name} -c {container.get('name', '?')} "
                "--previous"))
    return found


def _sealed_secret(application: str, namespace: str, name: str, message: str) -> Diagnosis:
    return Diagnosis(application, "SealedSecret", namespace, name,
                     f"cannot be decrypted by this cluster's controller: {message or 'Synced is False'}",
                     "re-seal it with this cluster's certificate (./inv secrets.seal), or restore the key "
                     "it was sealed with (./inv bootstrap --key-backup PATH)")


def sealed_secret_diagnoses(sealed: Obj, application: str = "") -> list[Diagnosis]:
    namespace, name = _meta(sealed)
    status = sealed.get("status") or {}
    generation = int((sealed.get("metadata") or {}).get("generation") or 0)
    observed = int(status.get("observedGeneration") or 0)
    if generation and observed < generation:
        return []  # the controller has not looked at this version yet: its condition is stale
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Synced" and condition.get("status") == "False":
            return [_sealed_secret(application, namespace, name, _one_line(condition.get("message")))]
    return []


def application_diagnoses(app: Obj) -> list[Diagnosis]:
    """What the Application object itself shows: a spent sync, and children Argo CD calls Degraded
    for a reason that does not heal (a SealedSecret it cannot decrypt)."""
    name = str(app["metadata"]["name"])
    status = app.get("status") or {}
    found = []
    for resource in status.get("resources") or []:
        health = resource.get("health") or {}
        if (resource.get("kind") == "SealedSecret" and resource.get("group") == "bitnami.com"
                and health.get("status") == "Degraded"):
            found.append(_sealed_secret(name, str(resource.get("namespace") or ""),
                                        str(resource.get("name") or ""), _one_line(health.get("message"))))
    operation = status.get("operationState") or {}
    result = operation.get("syncResult") or {}
    wanted = str((status.get("sync") or {}).get("revision") or "")
    if (operation.get("phase") in FAILED_PHASES and wanted and result.get("revision") == wanted
            and (status.get("sync") or {}).get("status") != "Synced"):
        namespace = str(((app.get("spec") or {}).get("destination") or {}).get("namespace") or "")
        found.append(Diagnosis(
            name, "Application", "", name,
            f"failed to sync revision {wanted[:12]} and Argo CD will not retry the same revision: "
            f"{_one_line(operation.get('message')) or operation.get('phase')}",
            f"fix the manifests for {namespace or 'its namespace'} and publish a new commit (on kind: "
            "./inv dev.sync), or sync it again by hand once the cause is gone"))
    return found


def diagnose(apps: Iterable[Obj], pods: Iterable[Obj] = (), sealed_secrets: Iterable[Obj] = ()
             ) -> tuple[Diagnosis, ...]:
    """Every stuck object once (a SealedSecret seen both in its Application and as itself
    counts once), in a stable order: Applications first, then by namespace and name."""
    apps = list(apps)
    owners = owners_by_namespace(apps)
    found: list[Diagnosis] = []
    for app in apps:
        found += application_diagnoses(app)
    for sealed in sealed_secrets:
        found += sealed_secret_diagnoses(sealed, owners.get(_meta(sealed)[0], ""))
    for pod in pods:
        found += pod_diagnoses(pod, owners.get(_meta(pod)[0], ""))
    unique: dict[tuple[str, str, str, str], Diagnosis] = {}
    for item in found:
        unique.setdefault(item.key, item)
    order = {"Application": 0, "SealedSecret": 1, "Pod": 2}
    return tuple(sorted(unique.values(), key=lambda d: (order.get(d.kind, 9), d.namespace, d.name, d.cause)))


Seen = dict[tuple[str, str, str, str], float]


def persisting(found: Iterable[Diagnosis], seen: Seen, now: float, grace_s: float
               ) -> tuple[Diagnosis | None, Seen]:
    """The first diagnosis present on every poll for at least `grace_s`, and the updated
    first-seen times. A diagnosis that disappears starts over: a registry that was down for
    one poll is not a verdict."""
    current = {d.key: d for d in found}
    updated = {key: seen.get(key, now) for key in current}
    due = [d for key, d in current.items() if now - updated[key] >= grace_s]
    return (due[0] if due else None), updated
