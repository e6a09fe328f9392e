"""Talking to a cluster's sealed-secrets controller: its certificate, re-encryption, key backups.

The controller serves /v1/cert.pem and /v1/rotate on its HTTP port (pkg/controller/server.go
in bitnami-labs/sealed-secrets). kubeseal reaches it through the API server's service proxy and
so do we, so no port has to be exposed: first read the controller's Service and take the name of
its first port, then `/api/v1/namespaces/<ns>/services/http:<service>:<port name>/proxy/...`
(pkg/kubeseal/kubeseal.go getServicePortName and openCertCluster; the fix of sealed-secrets PR
#648). The name matters: the API server's proxy picks the endpoint port whose name equals it
(kubernetes pkg/registry/core/service/storage, ResourceLocation), so an empty name against a
Service whose port is named answers 503 "no endpoints available" (sealed-secrets issues #397 and
#694 show that answer and the working `http:sealed-secrets-controller:http` path). The private
keys are the Secrets labelled sealedsecrets.bitnami.com/sealed-secrets-key in the controller's
namespace (pkg/controller/keys.go); the documented backup is
`kubectl get secret -n <ns> -l sealedsecrets.bitnami.com/sealed-secrets-key -o yaml`.

All cluster access goes through the cluster port (gitops.cluster.port): ControllerAccess turns
the three calls the secrets tasks make into port requests (request bodies, never argv); unit
tests hand in the port's test fake with recorded controller answers, and
tests/unit/test_sealing_controller_proxy.py runs the real port against a loopback stand-in of
the API server that enforces the port-name match, because no API server can run here.
"""

from __future__ import annotations

import builtins
import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from cryptography import x509

from gitops.core import files
from gitops.core.errors import GitOpsError
from gitops.core.repo import Repo
from gitops.secrets import crypto, keys, sealing

CONTROLLER_SERVICE = "sealed-secrets-controller"


class ControllerTransport(Protocol):
    """The three cluster calls the secrets tasks make."""

    def get(self, path: str) -> bytes: ...

    def post(self, path: str, body: bytes) -> bytes: ...

    def key_secrets(self) -> list[dict[str, Any]]: ...


class ApiPort(Protocol):
    """The part of gitops.cluster.port.ClusterPort used here (typed structurally: secrets sits
    below cluster in the layers, so it names what it needs instead of importing the port)."""

    @property
    def target(self) -> Any: ...

    def raw(self, method: str, path: str, *, body: Any = None, query: dict[str, str] | None = None,
            content_type: str = "application/json") -> bytes | None: ...

    def get(self, api_version: str, kind: str, name: str, namespace: str = "") -> dict[str, Any] | None: ...

    def list(self, api_version: str, kind: str, namespace: str = "",
             label_selector: str = "") -> builtins.list[dict[str, Any]]: ...

    def apply(self, objects: Sequence[dict[str, Any]], *, namespace: str = "",
              field_manager: str = ...) -> builtins.list[dict[str, Any]]: ...


def service_path(namespace: str, service: str) -> str:
    return f"/api/v1/namespaces/{namespace}/services/{service}"


def proxy_path(namespace: str, service: str, port_name: str, path: str) -> str:
    """The API server's service-proxy path to the controller's HTTP endpoint, as kubeseal builds it
    (net.JoinSchemeNamePort("http", service, port name))."""
    return f"{service_path(namespace, f'http:{service}:{port_name}')}/proxy{path}"


def service_port_name(service: dict[str, Any], where: str) -> str:
    """The name of the Service's first port, the one kubeseal proxies to (Spec.Ports[0].Name)."""
    ports = (service.get("spec") or {}).get("ports") or []
    if not ports or not isinstance(ports[0], dict):
        raise GitOpsError(f"the Service {where} has no ports; check it is the sealed-secrets controller's.")
    return str(ports[0].get("name") or "")


@dataclass(frozen=True)
class ControllerAccess:
    """The controller of one cluster, reached through its cluster port."""

    port: ApiPort
    namespace: str
    service: str = CONTROLLER_SERVICE

    @property
    def where(self) -> str:
        return f"{self.namespace}/{self.service}"

    @functools.cached_property
    def port_name(self) -> str:
        """Read once per access from the Service itself, like kubeseal before each call."""
        service = self.port.get("v1", "Service", self.service, self.namespace)
        if service is None:
            raise GitOpsError(
                f"{self.port.target.describe()} has no Service {self.where}; check platform.sealed_secrets "
                "namespace and service in versions.yaml (or --namespace/--service) and that the "
                "controller is installed."
            )
        return service_port_name(service, self.where)

    def _proxy(self, path: str) -> str:
        return proxy_path(self.namespace, self.service, self.port_name, path)

    def _answer(self, data: bytes | None) -> bytes:
        if data is None:
            raise GitOpsError(
                f"the sealed-secrets controller ({self.where}) did not answer on "
                f"{self.port.target.describe()}; check that the controller is running."
            )
        return data

    def get(self, path: str) -> bytes:
        return self._answer(self.port.raw("GET", self._proxy(path)))

    def post(self, path: str, body: bytes) -> bytes:
        # The controller reads a JSON object; the port sends it as the request body.
        return self._answer(self.port.raw("POST", self._proxy(path), body=json.loads(body)))

    def key_secrets(self) -> list[dict[str, Any]]:
        return self.port.list("v1", "Secret", self.namespace, keys.KEY_LABEL)


# --- fetch-cert ---------------------------------------------------------------------------


@dataclass(frozen=True)
class FetchResult:
    path: Path
    changed: bool
    fingerprint: str
    previous: str | None


def cluster_certificate(transport: ControllerTransport) -> x509.Certificate:
    return crypto.load_certificate(transport.get("/v1/cert.pem"), "the certificate the controller served")


def fetch_cert(repo: Repo, cluster: str, transport: ControllerTransport, *,
               replace: bool = False) -> FetchResult:
    """Write the controller's certificate into clusters/<cluster>/, refusing a silent swap."""
    root = repo.root
    target = sealing.cert_path(cluster, repo)
    cert = cluster_certificate(transport)
    new_print = crypto.fingerprint(cert)
    previous = None
    if target.exists():
        try:
            old = crypto.load_certificate(target.read_bytes(), str(target.relative_to(root)))
            previous = crypto.fingerprint(old)
        except GitOpsError:
            previous = "unreadable"
        if previous == new_print:
            return FetchResult(target, False, new_print, previous)
        if not replace:
            raise GitOpsError(
                f"the cluster's certificate ({new_print}) does not match {target.relative_to(root)} "
                f"({previous}): either the kube context points at another cluster or the controller "
                "rotated its key; check the --target, then pass --replace and run secrets.reencrypt."
            )
    target.parent.mkdir(parents=True, exist_ok=True)
    files.atomic_write(target, crypto.cert_pem(cert))
    return FetchResult(target, True, new_print, previous)


# --- reencrypt ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ReencryptResult:
    files: tuple[Path, ...]
    objects: int


def _rotated(response: bytes, original: dict[str, Any]) -> dict[str, Any]:
    """The controller's re-encrypted object, checked against what we sent."""
    meta = original["metadata"]
    where = f"{meta.get('namespace')}/{meta.get('name')}"
    bad = GitOpsError(f"the /v1/rotate answer for {where} is not a SealedSecret; check its version.")
    try:
        obj = json.loads(response)
    except json.JSONDecodeError:
        raise bad from None
    if not isinstance(obj, dict):
        raise bad
    new_meta = obj.get("metadata") or {}
    new_data = (obj.get("spec") or {}).get("encryptedData") or {}
    if (new_meta.get("name"), new_meta.get("namespace")) != (meta.get("name"), meta.get("namespace")) or set(
        new_data
    ) != set(original["spec"]["encryptedData"]):
        raise GitOpsError(f"the controller re-encrypted {where} into another object; nothing was written.")
    # The controller marshals its Go struct without TypeMeta and with null timestamps.
    obj["apiVersion"] = original.get("apiVersion", "bitnami.com/v1alpha1")
    obj["kind"] = "SealedSecret"
    obj.pop("status", None)
    new_meta.pop("creationTimestamp", None)
    template_meta = (obj["spec"].get("template") or {}).get("metadata") or {}
    template_meta.pop("creationTimestamp", None)
    ordered = {k: obj[k] for k in ("apiVersion", "kind", "metadata", "spec") if k in obj}
    return ordered


def reencrypt(repo: Repo, cluster: str, transport: ControllerTransport) -> ReencryptResult:
    """Re-encrypt every SealedSecret of the cluster's environments with its newest key.

    The committed certificate must be the cluster's current one (fetch-cert --replace after a
    rotation): that proves the context is the right cluster and keeps offline sealing in step.
    Every object is re-encrypted in memory before the first file is written.
    """
    root = repo.root
    committed_path, committed = sealing.read_cluster_certificate(cluster, repo)
    live = cluster_certificate(transport)
    if crypto.fingerprint(live) != crypto.fingerprint(committed):
        raise GitOpsError(
            f"the cluster's certificate does not match {committed_path.relative_to(root)}: run "
            f"./inv secrets.fetch-cert --target {cluster} (with --replace after a key rotation) first."
        )
    planned: list[tuple[Path, bytes]] = []
    count = 0
    for env in sealing.environments_of(cluster):
        path = root / "overlays" / env / sealing.SEALED_FILE
        objects = sealing.read_sealed_file(path)
        if not objects:
            continue
        rotated = [_rotated(transport.post("/v1/rotate", json.dumps(obj).encode()), obj) for obj in objects]
        count += len(rotated)
        planned.append((path, sealing.dump_sealed_file(rotated)))
    for path, data in planned:
        files.atomic_write(path, data)
    return ReencryptResult(tuple(p for p, _ in planned), count)


# --- backup-key ---------------------------------------------------------------------------


def key_items(listing: Sequence[Any]) -> list[dict[str, Any]]:
    found = [i for i in listing if isinstance(i, dict) and "tls.key" in (i.get("data") or {})]
    if not found:
        raise GitOpsError(
            f"the controller's namespace holds no Secret labelled {keys.KEY_LABEL}; check "
            "--namespace and that the controller has started once."
        )
    return found


def backup_keys(repo: Repo, out: Path, transport: ControllerTransport, *,
                force: bool = False) -> tuple[Path, int]:
    """Export the controller's private keys to `out` (outside the repo, 0600)."""
    target = keys.check_backup_path(out, repo)
    if target.exists() and not force:
        raise GitOpsError(f"{target} already exists; pass --force to overwrite it or choose another path.")
    items = key_items(transport.key_secrets())
    files.write_private(target, keys.backup_document(items))
    return target, len(items)


def apply_keys(port: ApiPort, manifests: Sequence[dict[str, Any]]) -> int:
    """Apply restored key Secrets; the private keys travel in the request body, never in argv."""
    port.apply(manifests, field_manager="tasknote-secrets")
    return len(manifests)
