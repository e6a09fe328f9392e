"""Talking to a cluster's sealed-secrets controller: its certificate, re-encryption, key backups.

The controller serves /v1/cert.pem and /v1/rotate on its HTTP port (pkg/controller/server.go
in bitnami-labs/sealed-secrets); kubeseal reaches it through the API server's service proxy,
/api/v1/namespaces/<ns>/services/http:<service>:/proxy/<path>, and so do we, so no port has to
be exposed. The private keys are the Secrets labelled sealedsecrets.bitnami.com/sealed-secrets-key
in the controller's namespace (pkg/controller/keys.go); the documented backup is
`kubectl get secret -n <ns> -l sealedsecrets.bitnami.com/sealed-secrets-key -o yaml`.

All cluster access goes through a ControllerTransport. KubectlTransport is the real one (the
pinned kubectl through gitops.core.run, request bodies on stdin); unit tests hand in recorded
responses because no API server can run here.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import yaml
from cryptography import x509

from gitops.core import config, files, run, tools
from gitops.core.errors import GitOpsError
from gitops.secrets import sealing

CONTROLLER_SERVICE = "sealed-secrets-controller"


class ControllerTransport(Protocol):
    """The three cluster calls the secrets tasks make."""

    def get(self, path: str) -> bytes: ...

    def post(self, path: str, body: bytes) -> bytes: ...

    def key_secrets(self) -> bytes: ...


def proxy_path(namespace: str, service: str, path: str) -> str:
    """The API server's service-proxy path to the controller's HTTP endpoint (as kubeseal uses)."""
    return f"/api/v1/namespaces/{namespace}/services/http:{service}:/proxy{path}"


@dataclass(frozen=True)
class KubectlTransport:
    kubectl: Path
    namespace: str
    service: str = CONTROLLER_SERVICE
    context: str | None = None

    def _base(self) -> list[str]:
        argv = [str(self.kubectl), "--request-timeout=30s"]
        return [*argv, "--context", self.context] if self.context else argv

    def get_argv(self, path: str) -> list[str]:
        return [*self._base(), "get", "--raw", proxy_path(self.namespace, self.service, path)]

    def post_argv(self, path: str) -> list[str]:
        # `kubectl create --raw PATH -f -` POSTs stdin to PATH.
        return [*self._base(), "create", "--raw", proxy_path(self.namespace, self.service, path), "-f", "-"]

    def key_secrets_argv(self) -> list[str]:
        return [*self._base(), "get", "secrets", "--namespace", self.namespace,
                "--selector", sealing.KEY_LABEL, "--output", "yaml"]

    def _call(self, argv: list[str], body: bytes | None = None) -> bytes:
        result = run.run(argv, input_bytes=body, timeout=60, check=False)
        if result.returncode != 0:
            raise GitOpsError(
                f"the sealed-secrets controller ({self.namespace}/{self.service}) did not answer: "
                f"{run.tail(result.stderr, 1) or 'no output'}; check the kube context and that the "
                "controller is running."
            )
        return result.stdout.encode()

    def get(self, path: str) -> bytes:
        return self._call(self.get_argv(path))

    def post(self, path: str, body: bytes) -> bytes:
        return self._call(self.post_argv(path), body)

    def key_secrets(self) -> bytes:
        return self._call(self.key_secrets_argv())


def kubectl_transport(context: str | None = None, namespace: str | None = None,
                      service: str = CONTROLLER_SERVICE) -> KubectlTransport:
    return KubectlTransport(tools.require("kubectl"), namespace or sealing.controller_namespace(),
                            service, context or None)


# --- fetch-cert ---------------------------------------------------------------------------


@dataclass(frozen=True)
class FetchResult:
    path: Path
    changed: bool
    fingerprint: str
    previous: str | None


def cluster_certificate(transport: ControllerTransport) -> x509.Certificate:
    return sealing.load_certificate(transport.get("/v1/cert.pem"), "the certificate the controller served")


def fetch_cert(cluster: str, transport: ControllerTransport, *, replace: bool = False,
               root: Path = config.ROOT) -> FetchResult:
    """Write the controller's certificate into clusters/<cluster>/, refusing a silent swap."""
    target = sealing.cert_path(cluster, root)
    cert = cluster_certificate(transport)
    new_print = sealing.fingerprint(cert)
    previous = None
    if target.exists():
        try:
            old = sealing.load_certificate(target.read_bytes(), str(target.relative_to(root)))
            previous = sealing.fingerprint(old)
        except GitOpsError:
            previous = "unreadable"
        if previous == new_print:
            return FetchResult(target, False, new_print, previous)
        if not replace:
            raise GitOpsError(
                f"the cluster's certificate ({new_print}) does not match {target.relative_to(root)} "
                f"({previous}): either the kube context points at another cluster or the controller "
                "rotated its key; check the context, then pass --replace and run secrets.reencrypt."
            )
    target.parent.mkdir(parents=True, exist_ok=True)
    files.atomic_write(target, sealing.cert_pem(cert))
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


def reencrypt(cluster: str, transport: ControllerTransport, root: Path = config.ROOT) -> ReencryptResult:
    """Re-encrypt every SealedSecret of the cluster's environments with its newest key.

    The committed certificate must be the cluster's current one (fetch-cert --replace after a
    rotation): that proves the context is the right cluster and keeps offline sealing in step.
    Every object is re-encrypted in memory before the first file is written.
    """
    committed_path, committed = sealing.read_cluster_certificate(cluster, root)
    live = cluster_certificate(transport)
    if sealing.fingerprint(live) != sealing.fingerprint(committed):
        raise GitOpsError(
            f"the cluster's certificate does not match {committed_path.relative_to(root)}: run "
            f"./inv secrets.fetch-cert --cluster {cluster} (with --replace after a key rotation) first."
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


def key_items(listing: bytes) -> list[dict[str, Any]]:
    try:
        doc = yaml.safe_load(listing)
    except yaml.YAMLError:
        raise GitOpsError("kubectl's list of key Secrets is not YAML; check the kubectl version.") from None
    items: Sequence[Any] = doc.get("items", []) if isinstance(doc, dict) else []
    keys = [i for i in items if isinstance(i, dict) and "tls.key" in (i.get("data") or {})]
    if not keys:
        raise GitOpsError(
            f"the controller's namespace holds no Secret labelled {sealing.KEY_LABEL}; check "
            "--namespace and that the controller has started once."
        )
    return keys


def backup_keys(out: Path, transport: ControllerTransport, *, force: bool = False,
                root: Path = config.ROOT) -> tuple[Path, int]:
    """Export the controller's private keys to `out` (outside the repo, 0600)."""
    target = sealing.check_backup_path(out, root)
    if target.exists() and not force:
        raise GitOpsError(f"{target} already exists; pass --force to overwrite it or choose another path.")
    items = key_items(transport.key_secrets())
    sealing.write_private(target, sealing.backup_document(items))
    return target, len(items)


def apply_argv(kubectl: Path, context: str | None) -> list[str]:
    base = [str(kubectl), "--request-timeout=30s"] + (["--context", context] if context else [])
    return [*base, "apply", "--server-side", "--field-manager=tasknote-secrets", "-f", "-"]


def apply_keys(manifests: Sequence[dict[str, Any]], context: str | None = None) -> int:
    """Apply restored key Secrets; the private keys go to kubectl on stdin, never on its command line."""
    kubectl = tools.require("kubectl")
    document = json.dumps({"apiVersion": "v1", "kind": "List", "items": list(manifests)})
    result = run.run(apply_argv(kubectl, context), input_text=document, timeout=120, check=False)
    if result.returncode != 0:
        raise GitOpsError(
            f"kubectl could not apply the key Secrets: {run.tail(result.stderr, 1) or 'no output'}; "
            "check the kube context and that the controller's namespace exists."
        )
    return len(manifests)
