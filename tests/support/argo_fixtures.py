"""Builds tests/fixtures/cluster/applications-*.json: Argo CD Application objects as the API
returns them for the kind cluster, in four moments of a bootstrap (early, progressing,
comparison-error, healthy).

metadata.name/namespace/annotations/finalizers and all of `spec` come from rendering this
repository's argocd/clusters/kind (so project, source and sync policy are the repository's own);
uid is a UUID (uuid5 of the name, stable between runs) and the API server's bookkeeping fields
(resourceVersion, generation, creationTimestamp, managedFields omitted) are filled in as the
API server would. `status` follows Argo CD's ApplicationStatus
(argoproj/argo-cd pkg/apis/application/v1alpha1/types.go: resources, sync{status, comparedTo,
revision}, health{status, lastTransitionTime}, history, conditions, reconciledAt,
operationState{operation, phase, message, startedAt, finishedAt, syncResult}, sourceType,
summary, resourceHealthSource "appTree" — where 3.x keeps resource health, so `resources[]`
carries no health — and controllerNamespace). `resources` of the root and of tasknote-dev are
the objects their sources render; a chart's are the workloads its values name.

    .venv/bin/python tests/support/argo_fixtures.py     # rewrite the fixtures after editing argocd/
"""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path
from typing import Any

Obj = dict[str, Any]
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "cluster"
SCENARIOS = ("early", "progressing", "comparison-error", "healthy")
REVISION = "5f1c2a9d4e7b8c0a1f2e3d4c5b6a79881726354a"
CREATED = "2026-11-24T03:18:02Z"
STARTED, FINISHED, RECONCILED, HEALTHY_AT = ("2026-11-24T03:20:01Z", "2026-11-24T03:20:09Z",
                                              "2026-11-24T03:22:10Z", "2026-11-24T03:21:40Z")
UID_NAMESPACE = uuid.UUID("6f1d2c9e-3b8a-4e57-9d0c-2a4b6c8e0f13")
# What each platform chart or manifest runs, by the names its values give (releaseName,
# fullnameOverride) or Argo CD's install manifest uses.
PLATFORM_WORKLOADS: dict[str, list[tuple[str, str, str]]] = {
    "platform-argocd": [("Deployment", "argocd", "argocd-server"),
                        ("Deployment", "argocd", "argocd-repo-server"),
                        ("StatefulSet", "argocd", "argocd-application-controller")],
    "platform-cert-manager": [("Deployment", "cert-manager", "cert-manager"),
                              ("Deployment", "cert-manager", "cert-manager-cainjector"),
                              ("Deployment", "cert-manager", "cert-manager-webhook")],
    "platform-sealed-secrets": [("Deployment", "kube-system", "sealed-secrets-controller")],
    "platform-ingress-nginx": [("Deployment", "ingress-nginx", "ingress-nginx-controller")],
}


def group_version(doc: Obj) -> tuple[str, str]:
    group, _, version = str(doc["apiVersion"]).rpartition("/")
    return group, version


def resource_entry(doc: Obj, default_namespace: str = "") -> Obj:
    group, version = group_version(doc)
    namespace = "" if doc["kind"] == "Namespace" else doc["metadata"].get("namespace", default_namespace)
    entry = {"group": group, "version": version, "kind": doc["kind"], "namespace": namespace,
             "name": doc["metadata"]["name"], "status": "Synced"}
    return {k: v for k, v in entry.items() if v != ""}


def source_type(app: Obj) -> str:
    source = app["spec"]["source"]
    return "Helm" if source.get("chart") or "helm" in source else "Kustomize"


def resources_of(app: Obj, root_docs: list[Obj], dev_docs: list[Obj]) -> list[Obj]:
    name = app["metadata"]["name"]
    if name == "root-kind":
        return [resource_entry(d) for d in root_docs]
    if name == "tasknote-dev":
        return [resource_entry(d, "tasknote-dev") for d in dev_docs]
    group = {"Deployment": "apps", "StatefulSet": "apps"}
    return [{"group": group[kind], "version": "v1", "kind": kind, "namespace": ns, "name": workload,
             "status": "Synced"} for kind, ns, workload in PLATFORM_WORKLOADS[name]]


def images_of(docs: list[Obj]) -> list[str]:
    found = set()
    for doc in docs:
        top = doc.get("spec") or {}
        job = (top.get("jobTemplate") or {}).get("spec") or {}
        spec = (top.get("template") or {}).get("spec") or (job.get("template") or {}).get("spec") or {}
        for container in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
            found.add(container["image"])
    return sorted(found)


def operation_state(app: Obj, phase: str, message: str) -> Obj:
    source, policy = app["spec"]["source"], app["spec"].get("syncPolicy", {})
    state: Obj = {
        "operation": {"sync": {"revision": REVISION, "syncOptions": list(policy.get("syncOptions") or [])},
                      "initiatedBy": {"automated": True},
                      "retry": {"limit": policy.get("retry", {}).get("limit", 5)}},
        "phase": phase, "message": message, "startedAt": STARTED,
        "syncResult": {"revision": REVISION, "source": copy.deepcopy(source)},
    }
    if phase == "Succeeded":
        state["finishedAt"] = FINISHED
    if not state["operation"]["sync"]["syncOptions"]:
        del state["operation"]["sync"]["syncOptions"]
    return state


def application(app: Obj, index: int, root_docs: list[Obj], dev_docs: list[Obj], *,
                sync: str = "Synced", health: str = "Healthy", phase: str | None = "Succeeded",
                message: str = "",
                conditions: list[Obj] | None = None) -> Obj:
    meta = app["metadata"]
    metadata: Obj = {"name": meta["name"], "namespace": meta["namespace"],
                     "uid": str(uuid.uuid5(UID_NAMESPACE, meta["name"])),
                     "resourceVersion": str(48100 + index * 7), "generation": 3 + index,
                     "creationTimestamp": CREATED}
    for key in ("labels", "annotations", "finalizers"):
        if meta.get(key):
            metadata[key] = copy.deepcopy(meta[key])
    status: Obj = {
        "resources": resources_of(app, root_docs, dev_docs),
        "sync": {"status": sync, "comparedTo": {"source": copy.deepcopy(app["spec"]["source"]),
                                                "destination": copy.deepcopy(app["spec"]["destination"])}},
        "health": {"status": health, "lastTransitionTime": HEALTHY_AT},
        "reconciledAt": RECONCILED,
        "sourceType": source_type(app),
        "summary": {"images": images_of(dev_docs)} if meta["name"] == "tasknote-dev" else {},
        "resourceHealthSource": "appTree",
        "controllerNamespace": "argocd",
    }
    if sync != "Unknown":
        status["sync"]["revision"] = REVISION
    if phase is not None:
        done = "successfully synced (all tasks run)"
        status["operationState"] = operation_state(app, phase, message or done)
        if phase == "Succeeded":
            status["history"] = [{"revision": REVISION, "deployedAt": FINISHED,
                                  "deployStartedAt": STARTED, "id": 0,
                                  "source": copy.deepcopy(app["spec"]["source"]),
                                  "initiatedBy": {"automated": True}}]
    if conditions:
        status["conditions"] = conditions
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": metadata,
            "spec": copy.deepcopy(app["spec"]), "status": status}


def scenario(name: str, root_docs: list[Obj], dev_docs: list[Obj]) -> Obj:
    apps = [d for d in root_docs if d["kind"] == "Application"]
    items = []
    for index, app in enumerate(apps):
        app_name = app["metadata"]["name"]
        kwargs: dict[str, Any] = {}
        if name == "early":
            if app_name == "tasknote-dev":
                continue  # the root lists it, the controller has not created it yet
            if app_name == "platform-ingress-nginx":
                kwargs = {"sync": "OutOfSync", "health": "Missing", "phase": None}
        elif name == "progressing" and app_name == "tasknote-dev":
            kwargs = {"health": "Progressing", "phase": "Running",
                      "message": "waiting for healthy state of apps/Deployment/tasknote-api"}
        elif name == "comparison-error" and app_name == "tasknote-dev":
            kwargs = {"sync": "Unknown", "phase": None, "conditions": [{
                "type": "ComparisonError", "lastTransitionTime": RECONCILED,
                "message": "Failed to load target state: failed to generate manifest for source 1 of 1: "
                           "rpc error: code = Unknown desc = `kustomize build <path to cached source>/"
                           "overlays/dev` failed exit status 1: Error: accumulating resources: accumulation "
                           "err='accumulating resources from '../../base/tasknote': read dir: no such file "
                           "or directory"}]}
        items.append(application(app, index, root_docs, dev_docs, **kwargs))
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "ApplicationList",
            "metadata": {"resourceVersion": "48220"}, "items": items}


def rendered(target: str) -> list[Obj]:
    from gitops.core.repo import Repo
    from gitops.manifests import checks

    (result,) = checks.rendered(Repo.at(FIXTURES.parents[2]), target)
    return list(result.docs)


def build_all() -> dict[str, str]:
    root_docs, dev_docs = rendered("kind"), rendered("dev")
    return {f"applications-{name}.json": json.dumps(scenario(name, root_docs, dev_docs), indent=1) + "\n"
            for name in SCENARIOS}


if __name__ == "__main__":
    for filename, text in build_all().items():
        (FIXTURES / filename).write_text(text)
        print(f"wrote tests/fixtures/cluster/{filename}")
