"""The conformance lab's hand operations on one environment's API Deployment, over the cluster port.

drift (scale by hand, watch Argo CD undo it), pause/resume auto-sync, scale, set image, rollout
status, rollout undo and diagnostics. What kubectl would do client-side is done here with plain
API verbs, following kubectl's own implementation so the cluster sees the same requests:
- `kubectl scale` -> a merge patch of spec.replicas;
- `kubectl set image` -> a strategic merge patch of the container by name;
- `kubectl rollout status` -> poll until observedGeneration and updated/ready replicas match
  (gitops.verify.reconcile.rollout_done);
- `kubectl rollout undo` -> kubernetes/kubectl pkg/polymorphichelpers/rollback.go
  (DeploymentRollbacker): the ReplicaSet with the previous `deployment.kubernetes.io/revision`,
  its pod template without the pod-template-hash label, written with a JSON patch replacing
  /spec/template.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from gitops.cluster.port import JSON_PATCH, STRATEGIC_MERGE_PATCH, ClusterPort
from gitops.core.errors import GitOpsError
from gitops.verify.reconcile import ARGO_API, app_status, rollout_done

REVISION = "deployment.kubernetes.io/revision"
Obj = dict[str, Any]


def revision(replica_set: Obj) -> int:
    return int((replica_set["metadata"].get("annotations") or {}).get(REVISION, 0))


def previous_template(deployment: Obj, replica_sets: list[Obj]) -> Obj:
    """The pod template of the revision before the current one, as kubectl rollout undo picks it."""
    uid = deployment["metadata"].get("uid")
    owned = [rs for rs in replica_sets
             if any(ref.get("uid") == uid and ref.get("controller")
                    for ref in rs["metadata"].get("ownerReferences") or [])]
    by_revision = sorted(owned, key=revision)
    if len(by_revision) < 2:
        raise GitOpsError(f"deployment {deployment['metadata']['name']} has no previous revision to "
                          "roll back to.")
    template: Obj = copy.deepcopy(by_revision[-2]["spec"]["template"])
    (template.get("metadata") or {}).get("labels", {}).pop("pod-template-hash", None)
    return template


class Lab:
    def __init__(self, port: ClusterPort, env: str = "dev", deployment: str = "tasknote-api",
                 progress: Callable[[str], None] = print) -> None:
        self.port, self.namespace, self.deployment = port, f"tasknote-{env}", deployment
        self.progress = progress

    def current(self) -> Obj:
        obj = self.port.get("apps/v1", "Deployment", self.deployment, self.namespace)
        if obj is None:
            raise GitOpsError(f"deployment {self.namespace}/{self.deployment} does not exist; "
                              "check the overlay and the Application.")
        return obj

    def replicas(self) -> int:
        return int(self.current()["spec"].get("replicas", 1))

    def applications(self) -> list[Obj]:
        return self.port.list(ARGO_API, "Application", "argocd")

    def applications_in_charge(self) -> list[Obj]:
        """The Application deploying to our namespace and every app-of-apps that manages it:
        pausing only the child would be undone at once by its parent's self-heal."""
        apps = self.applications()
        chain = [a for a in apps
                 if ((a.get("spec") or {}).get("destination") or {}).get("namespace") == self.namespace]
        if not chain:
            raise GitOpsError(f"no Argo CD Application deploys to {self.namespace}; check argocd/.")
        names = {str(chain[0]["metadata"]["name"])}
        grew = True
        while grew:
            parents = [a for a in apps if a not in chain and names & set(app_status(a).children)]
            chain += parents
            names |= {str(a["metadata"]["name"]) for a in parents}
            grew = bool(parents)
        return chain

    def _scale_by_hand(self, replicas: int) -> None:
        self.port.patch("apps/v1", "Deployment", self.deployment, self.namespace,
                        {"spec": {"replicas": replicas}})

    def drift(self, deadline_s: float = 300) -> str:
        want = self.replicas()
        self._scale_by_hand(want + 2)
        self.port.wait(f"Argo CD restoring {self.deployment} to {want} replicas",
                       lambda: (self.replicas() == want, f"{self.replicas()} replicas"),
                       deadline_s=deadline_s, progress=self.progress)
        return f"replicas {want} -> {want + 2} by hand -> {want} again by Argo CD"

    def pause_auto_sync(self) -> dict[str, Any]:
        """Self-heal would undo the lab's hand edits at once, so the lab runs with it paused;
        returns each Application's automated policy as Git had it, for resume_auto_sync."""
        saved: dict[str, Any] = {}
        for app in self.applications_in_charge():
            name = str(app["metadata"]["name"])
            saved[name] = ((app.get("spec") or {}).get("syncPolicy") or {}).get("automated")
        # Parents first, so none of them re-applies a child's policy between the patches.
        for name in reversed(list(saved)):
            self._patch_automated(name, None)
        return saved

    def resume_auto_sync(self, saved: dict[str, Any]) -> None:
        for name, automated in saved.items():
            self._patch_automated(name, automated)

    def _patch_automated(self, app: str, automated: Any) -> None:
        self.port.patch(ARGO_API, "Application", app, "argocd",
                        {"spec": {"syncPolicy": {"automated": automated}}})

    def rollout_status(self, timeout_s: int = 300) -> str:
        self.port.wait(f"deployment {self.namespace}/{self.deployment} to roll out",
                       lambda: rollout_done(self.current()), deadline_s=timeout_s, progress=self.progress)
        return "rolled out"

    def scale(self, replicas: int) -> str:
        self._scale_by_hand(replicas)
        self.rollout_status()
        return f"{replicas} replicas ready"

    def image(self) -> tuple[str, str]:
        container = self.current()["spec"]["template"]["spec"]["containers"][0]
        return str(container["name"]), str(container["image"])

    def set_image(self, image: str) -> str:
        name, before = self.image()
        patch = {"spec": {"template": {"spec": {"containers": [{"name": name, "image": image}]}}}}
        self.port.patch("apps/v1", "Deployment", self.deployment, self.namespace, patch,
                        content_type=STRATEGIC_MERGE_PATCH)
        return f"{before} -> {image}"

    def undo(self, expected_image: str) -> str:
        replica_sets = self.port.list("apps/v1", "ReplicaSet", self.namespace)
        template = previous_template(self.current(), replica_sets)
        self.port.patch("apps/v1", "Deployment", self.deployment, self.namespace,
                        [{"op": "replace", "path": "/spec/template", "value": template}],
                        content_type=JSON_PATCH)
        self.rollout_status()
        _, now = self.image()
        if now != expected_image:
            raise GitOpsError(f"rollout undo left image {now}, not {expected_image}.")
        return f"back on {now}"

    def diagnostics(self) -> str:
        parts = []
        for app in self.applications():
            seen = app_status(app)
            parts.append(f"Application {seen.name}: {seen.sync}/{seen.health} {seen.message}")
        for ns in ("argocd", self.namespace):
            events = sorted(self.port.list("v1", "Event", ns),
                            key=lambda e: str(e.get("lastTimestamp") or e.get("eventTime") or ""))
            lines = [f"{e.get('type', '')} {e.get('reason', '')} "
                     f"{(e.get('involvedObject') or {}).get('kind', '')}/"
                     f"{(e.get('involvedObject') or {}).get('name', '')}: {e.get('message', '')}"
                     for e in events[-40:]]
            parts.append(f"--- events in {ns}\n" + "\n".join(lines))
        for pod in self.port.list("v1", "Pod", self.namespace):
            name = pod["metadata"]["name"]
            for container in (pod.get("spec") or {}).get("containers") or []:
                path = f"/api/v1/namespaces/{self.namespace}/pods/{name}/log"
                log = self.port.raw("GET", path, query={"container": container["name"], "tailLines": "40"})
                text = (log or b"").decode("utf-8", "replace")
                parts.append(f"--- logs of {self.namespace}/{name} {container['name']}\n{text.rstrip()}")
        return "\n".join(parts)
