"""The one test fake of gitops.cluster.port.ClusterPort: an in-memory API server's object store.

No Kubernetes API server can run here, so the unit tests of bootstrap, conformance, the smoke
targets and the sealed-secrets controller access talk to this instead. It is a boundary fake,
not a cluster: it stores and returns objects, applies JSON merge patches (RFC 7386) and the
one strategic-merge case we send (containers merged by name), filters lists by label, and
answers raw paths from handlers a test mounts. Where the objects come from:
- tests/fixtures/cluster/*.json: Application and Deployment objects in the API's JSON shape
  (see that folder's README for their provenance), loaded with `seed_fixture`;
- this repository's own manifests (argocd/, overlays/), loaded with `seed` after rendering;
- tests/fixtures/secrets/kubectl-get-key-secrets.yaml for sealing-key Secrets.
Nothing here decides whether a rollout is healthy: tests set the status fields themselves.
"""

from __future__ import annotations

import builtins
import copy
import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from gitops.cluster.port import FIELD_MANAGER, JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH, Verbs
from gitops.cluster.target import Target
from gitops.core.errors import GitOpsError

Obj = dict[str, Any]
Key = tuple[str, str, str, str]  # apiVersion, kind, namespace, name
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch: null deletes, objects merge, everything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def strategic_containers(target: Obj, patch: Obj) -> Obj:
    """Strategic merge for the one list we patch: spec.template.spec.containers, keyed by name."""
    patched_containers = patch["spec"]["template"]["spec"].pop("containers", [])
    result: Obj = merge_patch(target, patch)
    containers = result["spec"]["template"]["spec"]["containers"]
    for change in patched_containers:
        for container in containers:
            if container["name"] == change["name"]:
                container.update(change)
    return result


def json_patch(target: Obj, operations: list[Obj]) -> Obj:
    """RFC 6902, the one operation we send: replace at a /-separated path."""
    result = copy.deepcopy(target)
    for op in operations:
        assert op["op"] == "replace", op
        *parents, last = op["path"].strip("/").split("/")
        node = result
        for part in parents:
            node = node[part]
        node[last] = copy.deepcopy(op["value"])
    return result


def selected(obj: Obj, selector: str) -> bool:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    for term in filter(None, selector.split(",")):
        key, _, value = term.partition("=")
        if key not in labels or (value and labels[key] != value):
            return False
    return True


class FakePort(Verbs):
    def __init__(self, target: Target | None = None) -> None:
        self.target = target or Target("kind", "kind-tasknote")
        self.objects: dict[Key, Obj] = {}
        self.calls: list[tuple[str, ...]] = []
        self.routes: dict[tuple[str, str], Callable[[Any], bytes]] = {}
        self.applied: list[Obj] = []
        self.up = True
        self.forward_url = ""
        self.now = 0.0
        self.on_apply: Callable[[Obj], None] = lambda obj: None
        self.on_patch: Callable[[Key, Obj], None] = lambda key, obj: None
        self.clock = lambda: self.now  # type: ignore[method-assign, assignment]
        self.sleep = self._advance  # type: ignore[method-assign, assignment]

    def _advance(self, seconds: float) -> None:
        self.now += seconds

    # --- seeding ---------------------------------------------------------------------------

    def seed(self, *objects: Obj) -> None:
        for obj in objects:
            meta = obj["metadata"]
            key = (obj["apiVersion"], obj["kind"], meta.get("namespace", ""), meta["name"])
            self.objects[key] = copy.deepcopy(obj)

    def seed_fixture(self, name: str, api_version: str = "", kind: str = "") -> list[Obj]:
        """Load tests/fixtures/cluster/<name>: one object or a List's items."""
        data = json.loads((FIXTURES / "cluster" / name).read_text())
        items = data.get("items", [data])
        for item in items:
            item.setdefault("apiVersion", api_version)
            item.setdefault("kind", kind)
        self.seed(*items)
        return list(items)

    # --- the port --------------------------------------------------------------------------

    def raw(self, method: str, path: str, *, body: Any = None, query: dict[str, str] | None = None,
            content_type: str = "application/json") -> bytes | None:
        self.calls.append(("raw", method, path))
        self._answer()
        handler = self.routes.get((method, path))
        return None if handler is None else handler(body)

    def get(self, api_version: str, kind: str, name: str, namespace: str = "") -> Obj | None:
        self.calls.append(("get", kind, namespace, name))
        self._answer()
        found = self.objects.get((api_version, kind, namespace, name))
        return copy.deepcopy(found) if found is not None else None

    def list(self, api_version: str, kind: str, namespace: str = "",
             label_selector: str = "") -> builtins.list[Obj]:
        self.calls.append(("list", kind, namespace, label_selector))
        self._answer()
        return [copy.deepcopy(o) for (v, k, ns, _), o in self.objects.items()
                if (v, k) == (api_version, kind) and (not namespace or ns == namespace)
                and selected(o, label_selector)]

    def apply(self, objects: Sequence[Obj], *, namespace: str = "",
              field_manager: str = FIELD_MANAGER) -> builtins.list[Obj]:
        self._answer()
        applied = []
        for obj in objects:
            meta = obj.get("metadata") or {}
            ns = str(meta.get("namespace") or (namespace if obj["kind"] not in CLUSTER_SCOPED else ""))
            self.calls.append(("apply", obj["kind"], ns, meta["name"]))
            key = (obj["apiVersion"], obj["kind"], ns, meta["name"])
            body = {**copy.deepcopy(obj),
                    "metadata": {**copy.deepcopy(meta), **({"namespace": ns} if ns else {})}}
            self.objects[key] = merge_patch(self.objects.get(key, {}), body)
            self.applied.append(copy.deepcopy(obj))
            self.on_apply(self.objects[key])
            applied.append(copy.deepcopy(self.objects[key]))
        return applied

    def patch(self, api_version: str, kind: str, name: str, namespace: str, patch: Any, *,
              content_type: str = MERGE_PATCH) -> Obj:
        self.calls.append(("patch", kind, namespace, name, json.dumps(patch, sort_keys=True)))
        self._answer()
        key = (api_version, kind, namespace, name)
        if key not in self.objects:
            raise GitOpsError(f"{kind} {namespace}/{name} does not exist; nothing was patched.")
        change = copy.deepcopy(patch)
        if content_type == JSON_PATCH:
            self.objects[key] = json_patch(self.objects[key], change)
        elif content_type == STRATEGIC_MERGE_PATCH:
            self.objects[key] = strategic_containers(self.objects[key], change)
        else:
            self.objects[key] = merge_patch(self.objects[key], change)
        self.on_patch(key, self.objects[key])
        return copy.deepcopy(self.objects[key])

    def delete(self, api_version: str, kind: str, name: str, namespace: str = "") -> bool:
        self.calls.append(("delete", kind, namespace, name))
        self._answer()
        return self.objects.pop((api_version, kind, namespace, name), None) is not None

    def reachable(self) -> bool:
        return self.up

    @contextmanager
    def port_forward(self, namespace: str, service: str, remote_port: int = 80) -> Iterator[str]:
        self.calls.append(("port-forward", namespace, service, str(remote_port)))
        yield self.forward_url

    def _answer(self) -> None:
        if not self.up:
            raise GitOpsError(f"the API server of context {self.target.context!r} does not answer; "
                              "start the cluster or fix the kubeconfig.")


# Kinds the fake treats as cluster-scoped (the real port asks the API's discovery instead).
CLUSTER_SCOPED = {"Namespace", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding"}
