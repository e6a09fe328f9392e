"""SealedSecret objects and the per-environment SealedSecrets files: seal values into an overlay.

The object is laid out as kubeseal writes it (NewSealedSecret in bitnami-labs/sealed-secrets
pkg/apis/sealedsecrets/v1alpha1/sealedsecret_expansion.go); the encryption is gitops.secrets.crypto.
Plaintext only ever lives in this process's memory: it is never written, logged or put on
another process's command line (kubeseal gets the Secret on stdin).
"""

from __future__ import annotations

import base64
import json
import secrets as pyrandom
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from io import StringIO
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from ruamel.yaml import YAML

from gitops.core import config, run, tools
from gitops.core.errors import GitOpsError
from gitops.core.files import atomic_write
from gitops.core.repo import Repo
from gitops.secrets import secret_types
from gitops.secrets.crypto import (
    ANNOTATION_CLUSTER_WIDE,
    ANNOTATION_NAMESPACE_WIDE,
    check_scope,
    encryption_label,
    load_certificate,
    rsa_key,
    seal_value,
)
from gitops.secrets.inputs import check_key, check_name

CERT_FILE = "sealed-secrets-cert.pem"


SEALED_FILE = "sealed-secrets.yaml"


ENV_CLUSTER = {"dev": "kind", "staging": "k3s", "prod": "k3s"}


DB_SECRET = "tasknote-db"  # noqa: S105  # pragma: allowlist secret (a Secret name)


def cert_path(cluster: str, repo: Repo) -> Path:
    return repo.cluster(cluster) / CERT_FILE


def read_cluster_certificate(cluster: str, repo: Repo) -> tuple[Path, x509.Certificate]:
    root = repo.root
    path = cert_path(cluster, repo)
    try:
        pem = path.read_bytes()
    except FileNotFoundError:
        raise GitOpsError(
            f"{path.relative_to(root)} is missing; run ./inv secrets.fetch-cert --target {cluster} "
            f"(or ./inv secrets.init-key --target {cluster} for a new cluster)."
        ) from None
    return path, load_certificate(pem, str(path.relative_to(root)))


def namespace_for(env: str) -> str:
    return f"tasknote-{config.check_environment(env)}"


def scope_annotations(scope: str) -> dict[str, str]:
    if scope == "namespace-wide":
        return {ANNOTATION_NAMESPACE_WIDE: "true"}
    if scope == "cluster-wide":
        return {ANNOTATION_CLUSTER_WIDE: "true"}
    return {}


def sealed_secret(
    name: str,
    namespace: str,
    values: Mapping[str, bytes],
    cert: x509.Certificate,
    scope: str = "strict",
    secret_type: str = "Opaque",  # noqa: S107 - the Secret type, not a password
) -> dict[str, Any]:
    """A SealedSecret object laid out as kubeseal writes it (NewSealedSecret upstream)."""
    check_name(name)
    check_name(namespace)
    check_scope(scope)
    if not values:
        raise GitOpsError(f"no values to seal for {name}; give --from-literal, --from-env-file or stdin.")
    label = encryption_label(namespace, name, scope)
    public = rsa_key(cert)
    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
    annotations = scope_annotations(scope)
    if annotations:
        metadata["annotations"] = dict(annotations)
    return {
        "apiVersion": "bitnami.com/v1alpha1",
        "kind": "SealedSecret",
        "metadata": metadata,
        "spec": {
            "encryptedData": {k: seal_value(public, values[k], label) for k in sorted(values)},
            "template": {"metadata": json.loads(json.dumps(metadata)), "type": secret_type},
        },
    }


def secret_manifest(name: str, namespace: str, values: Mapping[str, bytes], scope: str,
                    secret_type: str = secret_types.OPAQUE) -> bytes:
    """The plain Secret kubeseal reads on stdin (JSON); only ever held in memory."""
    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
    if scope_annotations(scope):
        metadata["annotations"] = scope_annotations(scope)
    secret = {
        "apiVersion": "v1", "kind": "Secret", "type": secret_type, "metadata": metadata,
        "data": {k: base64.b64encode(v).decode("ascii") for k, v in sorted(values.items())},
    }
    return json.dumps(secret).encode()


def kubeseal_argv(kubeseal: Path, cert_file: Path, scope: str) -> list[str]:
    """kubeseal's command line: the certificate and scope only; the Secret goes on stdin."""
    return [str(kubeseal), "--cert", str(cert_file), "--scope", scope, "--format", "json"]


def seal_with_kubeseal(
    kubeseal: Path, cert_file: Path, name: str, namespace: str, values: Mapping[str, bytes], scope: str,
    secret_type: str = secret_types.OPAQUE,
) -> dict[str, Any]:
    result = run.run(
        kubeseal_argv(kubeseal, cert_file, scope),
        input_bytes=secret_manifest(name, namespace, values, scope, secret_type),
        timeout=60,
    )
    bad = GitOpsError(f"{kubeseal} did not print a SealedSecret; check its version against versions.yaml.")
    try:
        obj = json.loads(result.stdout)
    except json.JSONDecodeError:
        raise bad from None
    if not isinstance(obj, dict) or obj.get("kind") != "SealedSecret":
        raise bad
    obj.get("metadata", {}).pop("creationTimestamp", None)
    obj.get("spec", {}).get("template", {}).get("metadata", {}).pop("creationTimestamp", None)
    return obj


def find_kubeseal(repo: Repo) -> Path | None:
    """The pinned kubeseal when it is installed; None means use the native implementation."""
    if tools.locate("kubeseal") is None:
        return None
    return tools.require("kubeseal", repo)


FILE_HEADER = (
    "# SealedSecrets for this environment, written by ./inv secrets.seal (safe to commit: only the\n"
    "# sealed-secrets controller holding the cluster's private key can decrypt them).\n"
)


def read_sealed_file(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    try:
        docs = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]
    except (yaml.YAMLError, UnicodeDecodeError):
        raise GitOpsError(f"{path} is not valid YAML; fix or restore it from Git before sealing.") from None
    for doc in docs:
        if not isinstance(doc, dict) or doc.get("kind") != "SealedSecret":
            raise GitOpsError(f"{path} holds something other than SealedSecrets; move it to another file.")
    return docs


def dump_sealed_file(objects: Sequence[Mapping[str, Any]]) -> bytes:
    body = "".join(
        "---\n" + yaml.safe_dump(dict(obj), sort_keys=False, width=1 << 16) for obj in objects
    )
    return (FILE_HEADER + body).encode()


def merge_object(existing: Sequence[dict[str, Any]], new: dict[str, Any]) -> list[dict[str, Any]]:
    """Replace the object of the same name and namespace in place, or append it."""
    ident = (new["metadata"]["name"], new["metadata"].get("namespace"))
    merged, replaced = [], False
    for obj in existing:
        if (obj.get("metadata", {}).get("name"), obj.get("metadata", {}).get("namespace")) == ident:
            merged.append(new)
            replaced = True
        else:
            merged.append(obj)
    return merged if replaced else [*merged, new]


def kustomization_with_resource(path: Path, resource: str) -> bytes | None:
    """The overlay's kustomization with `resource` listed, or None when nothing needs to change.

    A round-trip edit (comments and order kept).
    """
    if not path.exists():
        return None
    rt = YAML()
    rt.preserve_quotes = True
    try:
        data = rt.load(path.read_text(encoding="utf-8"))
    except Exception:
        raise GitOpsError(f"{path} is not valid YAML; fix it before sealing.") from None
    if not isinstance(data, dict):
        raise GitOpsError(f"{path} is not a Kustomization mapping; fix it before sealing.")
    resources = data.setdefault("resources", [])
    if resource in resources:
        return None
    resources.append(resource)
    out = StringIO()
    rt.dump(data, out)
    return out.getvalue().encode()


@dataclass(frozen=True)
class SealResult:
    path: Path
    name: str
    namespace: str
    keys: tuple[str, ...]
    engine: str
    replaced: bool
    kustomization_updated: bool


def check_env_cluster(env: str, cluster: str | None) -> str:
    config.check_environment(env)
    expected = ENV_CLUSTER[env]
    if cluster is None or cluster == "":
        return expected
    config.check_cluster(cluster)
    if cluster != expected:
        raise GitOpsError(
            f"overlays/{env} is deployed to the {expected} cluster, not {cluster}; a secret sealed for "
            f"{cluster} could not be decrypted there, so use --target {expected}."
        )
    return cluster


def seal(
    env: str,
    name: str,
    values: Mapping[str, bytes],
    *,
    cluster: str | None = None,
    scope: str = "strict",
    engine: str = "auto",
    repo: Repo,
    secret_type: str = secret_types.OPAQUE,
) -> SealResult:
    """Seal `values` as Secret `name` of the environment's namespace into its overlay.

    Every check and the encryption happen before the first write, so any error leaves the
    tree as it was.
    """
    cluster = check_env_cluster(env, cluster)
    check_name(name)
    check_scope(scope)
    for key in values:
        check_key(key)
    if engine not in ("auto", "native", "kubeseal"):
        raise GitOpsError(f"unknown engine {engine!r}; use auto, native or kubeseal.")
    if not values:
        raise GitOpsError(f"no values to seal for {name}; give --from-literal, --from-env-file or stdin.")
    secret_types.check_type(secret_type)
    secret_types.check_size(name, values)
    cert_file, cert = read_cluster_certificate(cluster, repo)
    root = repo.root
    overlay = repo.overlay(env)
    if not overlay.is_dir():
        raise GitOpsError(f"{overlay.relative_to(root)} does not exist; create the overlay first.")
    target = overlay / SEALED_FILE
    existing = read_sealed_file(target)
    namespace = namespace_for(env)

    kubeseal = None
    if engine == "kubeseal":
        kubeseal = tools.require("kubeseal", repo)
    elif engine == "auto":
        kubeseal = find_kubeseal(repo)
    if kubeseal is not None:
        obj = seal_with_kubeseal(kubeseal, cert_file, name, namespace, values, scope, secret_type)
    else:
        obj = sealed_secret(name, namespace, values, cert, scope, secret_type)

    merged = merge_object(existing, obj)
    replaced = len(merged) == len(existing)
    kustomization = overlay / "kustomization.yaml"
    new_kustomization = kustomization_with_resource(kustomization, SEALED_FILE)

    previous = target.read_bytes() if target.exists() else None
    atomic_write(target, dump_sealed_file(merged))
    if new_kustomization is not None:
        try:
            atomic_write(kustomization, new_kustomization)
        except BaseException:
            # Both files or neither: put the SealedSecrets file back as it was.
            if previous is None:
                target.unlink(missing_ok=True)
            else:
                atomic_write(target, previous)
            raise
    return SealResult(target, name, namespace, tuple(sorted(values)), "kubeseal" if kubeseal else "native",
                      replaced, new_kustomization is not None)


def random_password(length: int = 32) -> str:
    return pyrandom.token_urlsafe(length)


def database_values(env: str) -> dict[str, bytes]:
    """Fresh credentials for the environment's PostgreSQL; they exist only in memory."""
    user = "tasknote"
    database = "tasknote"
    password = random_password()
    url = f"postgresql://{user}:{password}@tasknote-db:5432/{database}"
    values = {
        "POSTGRES_USER": user, "POSTGRES_PASSWORD": password, "POSTGRES_DB": database, "DATABASE_URL": url,
    }
    return {k: v.encode() for k, v in values.items()}


APP_DB_SECRET = "tasknote-db-app"  # noqa: S105  # pragma: allowlist secret (a Secret name)
APP_DB_USER = "tasknote_app"


def app_database_values(env: str) -> dict[str, bytes]:
    """The app's own login (DML only; `tasknote migrate` makes the role from this URL)."""
    url = f"postgresql://{APP_DB_USER}:{random_password()}@tasknote-db:5432/tasknote"
    return {"DATABASE_URL": url.encode()}


# The Secrets whose values the automation makes itself (name -> fresh values for an environment):
# init-key seals them for a new cluster, and the local loop seals them for a kind cluster's key.
GENERATED: dict[str, Callable[[str], dict[str, bytes]]] = {
    DB_SECRET: database_values, APP_DB_SECRET: app_database_values,
}


def environments_of(cluster: str) -> list[str]:
    config.check_cluster(cluster)
    return [env for env, c in ENV_CLUSTER.items() if c == cluster]


def seal_database_secrets(cluster: str, repo: Repo) -> list[SealResult]:
    """Seal fresh database credentials (the owner's and the app's) for every environment of
    the cluster."""
    return [
        seal(env, name, values(env), cluster=cluster, repo=repo)
        for env in environments_of(cluster)
        for name, values in GENERATED.items()
    ]

