"""The controller's sealing keys as Secrets: new keys, their backups outside the repository, restores.

A key is a kubernetes.io/tls Secret labelled sealedsecrets.bitnami.com/sealed-secrets-key=active
(pkg/controller/keys.go, writeKey, in bitnami-labs/sealed-secrets). Making the key here rather than
letting the controller make it lets bootstrap back it up (mode 0600, outside the repository) before
anything is sealed to it, and hand it to the next bootstrap.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from gitops.core.config import check_cluster
from gitops.core.errors import GitOpsError
from gitops.core.files import atomic_write, write_private
from gitops.core.repo import Repo
from gitops.secrets.crypto import KEY_BITS, cert_pem, fingerprint, generate_key_pair
from gitops.secrets.sealing import cert_path

KEY_LABEL = "sealedsecrets.bitnami.com/sealed-secrets-key"


KEY_PREFIX = "sealed-secrets-key"


def _controller_setting(repo: Repo, key: str, default: str) -> str:
    """versions.yaml platform.sealed_secrets.<key>: where argocd/platform/common/sealed-secrets.yaml
    installs the controller (tests/unit/test_sealing_controller_proxy.py keeps the two equal)."""
    section = (repo.versions.get("platform") or {}).get("sealed_secrets") or {}
    value = section.get(key) if isinstance(section, dict) else None
    return str(value or default)


def controller_namespace(repo: Repo) -> str:
    return _controller_setting(repo, "namespace", "kube-system")


def controller_service(repo: Repo) -> str:
    return _controller_setting(repo, "service", "sealed-secrets-controller")


def key_secret(key: rsa.RSAPrivateKey, cert: x509.Certificate, name: str, namespace: str) -> dict[str, Any]:
    """The kubernetes.io/tls Secret the controller writes for a key (writeKey upstream)."""
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace, "labels": {KEY_LABEL: "active"}},
        "type": "kubernetes.io/tls",
        "data": {
            "tls.crt": base64.b64encode(cert_pem(cert)).decode("ascii"),
            "tls.key": base64.b64encode(key_pem).decode("ascii"),
        },
    }


BACKUP_WARNING = (
    "This file holds the sealed-secrets controller's PRIVATE keys: anyone with it can decrypt "
    "every SealedSecret in the repository. Keep it out of Git, mode 0600, in a password manager "
    "or offline store."
)


def backup_document(secrets: Sequence[Mapping[str, Any]]) -> bytes:
    header = "".join(f"# {line}\n" for line in BACKUP_WARNING.split(". "))
    body = yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": list(secrets)}, sort_keys=False)
    return (header + body).encode()


def _backup_error(path: Path, problem: str) -> GitOpsError:
    return GitOpsError(f"key backup {path} {problem}; give a file that secrets.backup-key or init-key wrote.")


def inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True


def check_backup_path(path: Path, repo: Repo) -> Path:
    root = repo.root
    target = path.expanduser()
    if inside(target, root):
        raise GitOpsError(
            f"{path} is inside the repository, where a private key could be committed; choose a path "
            f"outside {root} (e.g. ~/.config/tasknote/sealed-secrets/)."
        )
    if target.is_dir():
        raise GitOpsError(f"{path} is a directory; give a file path for the key backup.")
    return target


def default_backup_path(cluster: str) -> Path:
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "tasknote" / "sealed-secrets" / f"{check_cluster(cluster)}.yaml"


_SERVER_FIELDS = ("uid", "resourceVersion", "creationTimestamp", "managedFields", "selfLink",
                  "generation", "ownerReferences")


def restore_key(backup_path: Path, namespace: str) -> list[dict[str, Any]]:
    """The key Secrets from a backup, ready to apply before the controller starts.

    Accepts what backup-key and init-key write (a v1 List) as well as a plain Secret or a
    multi-document file (what `kubectl get secret -l ... -o yaml` gives). Server-set fields are
    dropped so the manifests apply to a fresh cluster.
    """
    path = backup_path.expanduser()
    try:
        mode = path.stat().st_mode & 0o777
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise _backup_error(path, "does not exist") from None
    except UnicodeDecodeError:
        raise _backup_error(path, "is not UTF-8 YAML") from None
    if mode & 0o077:
        raise GitOpsError(f"key backup {path} is readable by other users (mode {mode:o}); chmod 600 it.")
    try:
        docs = [d for d in yaml.safe_load_all(text) if d]
    except yaml.YAMLError:
        raise _backup_error(path, "is not valid YAML") from None
    items: list[Any] = []
    for doc in docs:
        items.extend(doc.get("items", []) if isinstance(doc, dict) and doc.get("kind") == "List" else [doc])
    ns = namespace
    restored = []
    for item in items:
        if not (isinstance(item, dict) and item.get("kind") == "Secret"):
            raise _backup_error(path, "holds something other than Secrets")
        data = item.get("data") or {}
        if not {"tls.crt", "tls.key"} <= set(data):
            raise GitOpsError(f"key backup {path} has a Secret without tls.crt and tls.key; it is not a "
                              "sealed-secrets key backup.")
        meta = {k: v for k, v in (item.get("metadata") or {}).items() if k not in _SERVER_FIELDS}
        meta["namespace"] = ns
        meta.setdefault("labels", {})[KEY_LABEL] = "active"
        if "name" not in meta:
            meta["name"] = meta.pop("generateName", KEY_PREFIX) + "restored"
        meta.pop("generateName", None)
        pair = {"tls.crt": data["tls.crt"], "tls.key": data["tls.key"]}
        restored.append({"apiVersion": "v1", "kind": "Secret", "metadata": meta,
                         "type": "kubernetes.io/tls", "data": pair})
    if not restored:
        raise _backup_error(path, "holds no key Secrets")
    return restored


@dataclass(frozen=True)
class InitResult:
    cert_file: Path
    backup: Path
    fingerprint: str


def init_key(cluster: str, backup: Path, repo: Repo, *, replace: bool = False,
             key_size: int = KEY_BITS) -> InitResult:
    """A new controller key for a cluster: backup (outside the repo, 0600) and public cert.

    The backup is written first so a certificate is never committed without its key kept.
    """
    root = repo.root
    target = cert_path(cluster, repo)
    backup = check_backup_path(backup, repo)
    if target.exists() and not replace:
        raise GitOpsError(
            f"{target.relative_to(root)} already exists and its SealedSecrets need its private key; "
            "pass --replace only for a new cluster whose secrets you will seal again."
        )
    if backup.exists():
        # Never overwrite a key backup: it may be the only copy of a key the repo still needs.
        raise GitOpsError(f"{backup} already exists; keep it safe, it may be a key's only copy.")
    key, cert = generate_key_pair(key_size=key_size)
    name = key_name(cert)
    write_private(backup, backup_document([key_secret(key, cert, name, controller_namespace(repo))]))
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(target, cert_pem(cert))
    return InitResult(target, backup, fingerprint(cert))



def key_name(cert: x509.Certificate) -> str:
    """The controller's own naming: sealed-secrets-key<generation time>."""
    return f"{KEY_PREFIX}{cert.not_valid_before_utc:%Y%m%d%H%M%S}"


def fresh_key_secret(namespace: str, bits: int = KEY_BITS) -> dict[str, Any]:
    """A new active sealing key as the controller's Secret, for a cluster bootstrap creates."""
    key, cert = generate_key_pair(key_size=bits)
    return key_secret(key, cert, key_name(cert), namespace)


def backup_key(secret: Mapping[str, Any], path: Path) -> Path:
    """The key as a v1 List of Secrets (what restore_key reads), mode 0600, atomically."""
    write_private(path, backup_document([secret]))
    return path
