"""The one cluster port: every read and write the automation makes against a Kubernetes API.

Transport: the `kubernetes` Python client for every API verb, and `kubectl port-forward` for
the one thing the client cannot do (hold a local listening socket open for a browser or the
smoke suite). Why the client rather than kubectl with `-o json`:
- it answers in the API's own JSON (we never let it build model classes: responses are read
  raw), so recorded API objects are exactly what the code sees, and the test fake
  (tests/support/fakeport.py) stores the same shapes;
- server-side apply is a plain PATCH with `Content-Type: application/apply-patch+yaml` and a
  `fieldManager` query parameter (`force=true` takes over conflicting fields), the API
  documented at https://kubernetes.io/docs/reference/using-api/server-side-apply/ (and what the
  client's own DynamicClient.server_side_apply sends, kubernetes-client/python-base PR 254), so
  kubectl's apply machinery adds nothing, and key material goes in a request body, never in the
  argv of another process;
- one process, one connection pool and one error mapping (404 -> None, other statuses and an
  unreachable server -> one sentence) instead of a child process and stderr parsing per call.
`port_forward_argv` below is the ONLY place in the package that builds kubectl argv.

Kinds are mapped to resource paths with the API's discovery documents (GET /api/v1,
/apis/<group>/<version>: APIResourceList name/kind/namespaced), cached per port.
"""

from __future__ import annotations

import builtins
import json
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Protocol
from urllib.parse import quote

from kubernetes import config as kube_config
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from gitops.cluster import portforward
from gitops.cluster.target import Target
from gitops.core import tools
from gitops.core.errors import GitOpsError
from gitops.core.repo import Repo

Obj = dict[str, Any]
REQUEST_TIMEOUT_S = 30
FIELD_MANAGER = "tasknote-gitops"
APPLY_PATCH = "application/apply-patch+yaml"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"


def group_version_path(api_version: str) -> str:
    """v1 -> /api/v1 (the core group); apps/v1 -> /apis/apps/v1."""
    return f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"


def resource_path(api_version: str, plural: str, *, namespace: str = "", name: str = "") -> str:
    path = group_version_path(api_version)
    if namespace:
        path += f"/namespaces/{quote(namespace)}"
    path += f"/{plural}"
    return path + (f"/{quote(name)}" if name else "")


def identity(obj: Obj) -> str:
    meta = obj.get("metadata") or {}
    where = f"{meta['namespace']}/" if meta.get("namespace") else ""
    return f"{obj.get('kind', '?')} {where}{meta.get('name', '?')}"


def port_forward_argv(kubectl: str, target: Target, namespace: str, service: str,
                      remote_port: int) -> list[str]:
    """`kubectl port-forward` to a Service on a random local port bound to 127.0.0.1 only."""
    argv = [kubectl, "--context", target.context]
    if target.kubeconfig is not None:
        argv += ["--kubeconfig", str(target.kubeconfig)]
    return [*argv, "port-forward", "--address", "127.0.0.1", "-n", namespace, f"svc/{service}",
            f":{remote_port}"]


class ClusterPort(Protocol):
    """What the domain code needs from a cluster. Port is the real one; tests use FakePort."""

    target: Target

    def raw(self, method: str, path: str, *, body: Any = None, query: dict[str, str] | None = None,
            content_type: str = "application/json") -> bytes | None: ...

    def get(self, api_version: str, kind: str, name: str, namespace: str = "") -> Obj | None: ...

    def list(self, api_version: str, kind: str, namespace: str = "",
             label_selector: str = "") -> builtins.list[Obj]: ...

    def apply(self, objects: Sequence[Obj], *, namespace: str = "",
              field_manager: str = FIELD_MANAGER) -> builtins.list[Obj]: ...

    def patch(self, api_version: str, kind: str, name: str, namespace: str, patch: Any, *,
              content_type: str = MERGE_PATCH) -> Obj: ...

    def delete(self, api_version: str, kind: str, name: str, namespace: str = "") -> bool: ...

    def wait(self, what: str, probe: Callable[[], tuple[bool, str]], *, deadline_s: float,
             progress: Callable[[str], None] = print) -> str: ...

    def reachable(self) -> bool: ...

    def port_forward(self, namespace: str, service: str, remote_port: int = 80
                     ) -> AbstractContextManager[str]: ...


def poll(what: str, probe: Callable[[], tuple[bool, str]], *, deadline_s: float,
         progress: Callable[[str], None] = print, interval_s: float = 3, heartbeat_s: float = 30,
         clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> str:
    """Call probe until it says done; say what was last seen every heartbeat; one sentence at the deadline."""
    started = shown = clock()
    while True:
        done, last = probe()
        if done:
            return last
        now = clock()
        if now - started >= deadline_s:
            raise GitOpsError(f"{what} did not happen within {deadline_s:g} s "
                              f"(last seen: {last or 'nothing'}).")
        if now - shown >= heartbeat_s:
            progress(f"   still waiting for {what} after {now - started:.0f} s: {last}")
            shown = now
        sleep(interval_s)


class Verbs:
    """The verbs built on get/raw, shared by the real port and the test fake."""

    target: Target
    clock: Callable[[], float] = staticmethod(time.monotonic)
    sleep: Callable[[float], None] = staticmethod(time.sleep)
    interval_s: float = 3

    def wait(self, what: str, probe: Callable[[], tuple[bool, str]], *, deadline_s: float,
             progress: Callable[[str], None] = print) -> str:
        return poll(what, probe, deadline_s=deadline_s, progress=progress, interval_s=self.interval_s,
                    clock=self.clock, sleep=self.sleep)


class Port(Verbs):
    """One cluster's API through the kubernetes client, JSON dicts in and out."""

    def __init__(self, repo: Repo, target: Target) -> None:
        self.repo, self.target = repo, target
        try:
            self.client = kube_config.new_client_from_config(  # type: ignore[no-untyped-call]
                config_file=str(target.kubeconfig) if target.kubeconfig else None,
                context=target.context or None,
            )
        except (kube_config.ConfigException, OSError) as exc:
            raise GitOpsError(f"kubeconfig context {target.context!r} is not usable ({exc}); "
                              "create the cluster or pass an existing --target context:NAME.") from None
        self._resources: dict[str, dict[str, tuple[str, bool]]] = {}

    # --- transport -------------------------------------------------------------------------

    def raw(self, method: str, path: str, *, body: Any = None, query: dict[str, str] | None = None,
            content_type: str = "application/json", timeout_s: float = REQUEST_TIMEOUT_S) -> bytes | None:
        """One request; the body as sent by the server, None on 404."""
        headers = {"Accept": "application/json, */*", "Content-Type": content_type}
        try:
            _, url, headers, body, post = self.client.param_serialize(
                method=method, resource_path=path, query_params=list((query or {}).items()),
                header_params=headers, body=body, auth_settings=["BearerToken"])
            response = self.client.call_api(method, url, headers, body, post,
                                            _request_timeout=timeout_s)
            data: bytes = response.read()
        except (HTTPError, ApiException, OSError):
            raise GitOpsError(f"the API server of context {self.target.context!r} does not answer; "
                              "start the cluster or fix the kubeconfig.") from None
        if response.status == 404:
            return None
        if response.status >= 400:
            raise GitOpsError(f"the API server of {self.target.context!r} answered {response.status} "
                              f"{response.reason} to {method} {path}: {server_message(data)}; "
                              "check your access to the cluster.")
        return data

    def json(self, method: str, path: str, **kwargs: Any) -> Obj | None:
        data = self.raw(method, path, **kwargs)
        return None if data is None else dict(json.loads(data))

    # --- discovery -------------------------------------------------------------------------

    def resource(self, api_version: str, kind: str) -> tuple[str, bool]:
        """(plural, namespaced) of a kind, from the API's discovery document for its group."""
        if api_version not in self._resources:
            listing = self.json("GET", group_version_path(api_version)) or {}
            self._resources[api_version] = {
                str(r["kind"]): (str(r["name"]), bool(r.get("namespaced")))
                for r in listing.get("resources", []) if "/" not in str(r.get("name", ""))}
        found = self._resources[api_version].get(kind)
        if found is None:
            self._resources.pop(api_version, None)  # a CRD applied a moment ago may appear next time
            raise GitOpsError(f"the cluster serves no kind {kind} in {api_version}; install its "
                              "CustomResourceDefinition first.")
        return found

    def path(self, api_version: str, kind: str, name: str = "", namespace: str = "") -> str:
        plural, namespaced = self.resource(api_version, kind)
        return resource_path(api_version, plural, namespace=namespace if namespaced else "", name=name)

    # --- verbs -----------------------------------------------------------------------------

    def get(self, api_version: str, kind: str, name: str, namespace: str = "") -> Obj | None:
        return self.json("GET", self.path(api_version, kind, name, namespace))

    def list(self, api_version: str, kind: str, namespace: str = "",
             label_selector: str = "") -> builtins.list[Obj]:
        query = {"labelSelector": label_selector} if label_selector else None
        data = self.json("GET", self.path(api_version, kind, "", namespace), query=query) or {}
        items = list(data.get("items", []))
        # A list's items carry no apiVersion/kind (the list has them); add them like kubectl does.
        return [{"apiVersion": api_version, "kind": kind, **item} for item in items]

    def apply(self, objects: Sequence[Obj], *, namespace: str = "",
              field_manager: str = FIELD_MANAGER) -> builtins.list[Obj]:
        """Server-side apply each object (force: we own the fields we set), in the given order."""
        applied = []
        for obj in objects:
            meta = obj.get("metadata") or {}
            plural, namespaced = self.resource(str(obj["apiVersion"]), str(obj["kind"]))
            ns = str(meta.get("namespace") or namespace) if namespaced else ""
            if namespaced and not ns:
                raise GitOpsError(f"{identity(obj)} names no namespace; set metadata.namespace.")
            body = {**obj, "metadata": {**meta, **({"namespace": ns} if ns else {})}}
            path = resource_path(str(obj["apiVersion"]), plural, namespace=ns, name=str(meta["name"]))
            result = self.json("PATCH", path, body=body, content_type=APPLY_PATCH,
                               query={"fieldManager": field_manager, "force": "true"})
            applied.append(result or body)
        return applied

    def patch(self, api_version: str, kind: str, name: str, namespace: str, patch: Any, *,
              content_type: str = MERGE_PATCH) -> Obj:
        result = self.json("PATCH", self.path(api_version, kind, name, namespace), body=patch,
                           content_type=content_type, query={"fieldManager": FIELD_MANAGER})
        if result is None:
            raise GitOpsError(f"{kind} {namespace + '/' if namespace else ''}{name} does not exist; "
                              "nothing was patched.")
        return result

    def delete(self, api_version: str, kind: str, name: str, namespace: str = "") -> bool:
        return self.raw("DELETE", self.path(api_version, kind, name, namespace)) is not None

    def reachable(self) -> bool:
        try:
            return "gitVersion" in (self.json("GET", "/version", timeout_s=5) or {})
        except GitOpsError:
            return False

    @contextmanager
    def port_forward(self, namespace: str, service: str, remote_port: int = 80) -> Iterator[str]:
        """http://127.0.0.1:<random port> forwarded to svc/<service> in namespace."""
        kubectl = str(tools.require("kubectl", self.repo))
        argv = port_forward_argv(kubectl, self.target, namespace, service, remote_port)
        with portforward.forwarded(argv, what=f"svc/{service} in {namespace}") as port:
            yield f"http://127.0.0.1:{port}"


def server_message(data: bytes) -> str:
    """The `message` of a Status answer, else the start of the body."""
    try:
        return str(json.loads(data).get("message") or "")[:300] or "no message"
    except (ValueError, AttributeError):
        return data[:200].decode("utf-8", "replace") or "no message"
