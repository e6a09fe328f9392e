"""Sealed Secrets compatible encryption, certificate handling and SealedSecret files.

The format follows the Bitnami sealed-secrets controller's own source, so what we seal the
controller unseals and what kubeseal seals we can read the same way:

- pkg/crypto/crypto.go (HybridEncrypt): a random 32-byte AES-256-GCM session key, wrapped
  with RSA-OAEP (SHA-256) under a label; output = uint16 big-endian length of the RSA
  ciphertext || RSA ciphertext || AES-GCM ciphertext+tag, with an all-zero 12-byte nonce
  because each session key encrypts exactly one value.
- pkg/apis/sealedsecrets/v1alpha1/sealedsecret_expansion.go (EncryptionLabel,
  NewSealedSecret, UpdateScopeAnnotations): the OAEP label is "namespace/name" (strict),
  "namespace" (namespace-wide) or "" (cluster-wide); each value of the Secret is sealed on
  its own into spec.encryptedData as standard base64; the Secret's metadata is copied into
  spec.template.metadata; the scope is carried by the annotations
  sealedsecrets.bitnami.com/namespace-wide / cluster-wide = "true". Unseal derives the label
  from the SealedSecret's own metadata, so the annotations go on both.
- pkg/crypto/keys.go and pkg/controller/keys.go: the controller's key pair is RSA (4096 by
  default, cmd/controller flag --key-size), a self-signed CA certificate valid for ten years
  (--key-ttl), stored as a kubernetes.io/tls Secret labelled
  sealedsecrets.bitnami.com/sealed-secrets-key=active with a PKCS#1 "RSA PRIVATE KEY".
- docs/bring-your-own-certificates.md: CN=sealed-secret, O=sealed-secret for own keys.

Plaintext only ever lives in this process's memory: it is never written, logged or put on
another process's command line (kubeseal gets the Secret on stdin).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import re
import secrets as pyrandom
import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID

from gitops.core import config, run, tools
from gitops.core.errors import GitOpsError
from gitops.core.files import atomic_write

SCOPES = ("strict", "namespace-wide", "cluster-wide")
ANNOTATION_NAMESPACE_WIDE = "sealedsecrets.bitnami.com/namespace-wide"
ANNOTATION_CLUSTER_WIDE = "sealedsecrets.bitnami.com/cluster-wide"
KEY_LABEL = "sealedsecrets.bitnami.com/sealed-secrets-key"
KEY_PREFIX = "sealed-secrets-key"
KEY_BITS = 4096
CERT_VALIDITY = dt.timedelta(days=10 * 365)
MIN_KEY_BITS = 2048
SESSION_KEY_BYTES = 32
GCM_NONCE = bytes(12)

CERT_FILE = "sealed-secrets-cert.pem"
SEALED_FILE = "sealed-secrets.yaml"
# Which cluster runs which environment: dev on the laptop's kind, staging and prod on k3s.
ENV_CLUSTER = {"dev": "kind", "staging": "k3s", "prod": "k3s"}
DB_SECRET = "tasknote-db"  # noqa: S105  # pragma: allowlist secret (a Secret name)

_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")


# --- the hybrid scheme -------------------------------------------------------------------


def encryption_label(namespace: str, name: str, scope: str) -> bytes:
    """The RSA-OAEP label that pins a sealed value to its scope (EncryptionLabel upstream)."""
    check_scope(scope)
    if scope == "cluster-wide":
        return b""
    if scope == "namespace-wide":
        return namespace.encode()
    return f"{namespace}/{name}".encode()


def hybrid_encrypt(public_key: rsa.RSAPublicKey, plaintext: bytes, label: bytes) -> bytes:
    """One value sealed in the controller's byte layout (HybridEncrypt upstream)."""
    session_key = pyrandom.token_bytes(SESSION_KEY_BYTES)
    wrapped = public_key.encrypt(
        session_key,
        padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=label or None),
    )
    # The zero nonce is safe only because this session key is used for this one value.
    return struct.pack(">H", len(wrapped)) + wrapped + AESGCM(session_key).encrypt(GCM_NONCE, plaintext, None)


def seal_value(public_key: rsa.RSAPublicKey, plaintext: bytes, label: bytes) -> str:
    return base64.b64encode(hybrid_encrypt(public_key, plaintext, label)).decode("ascii")


# --- certificates --------------------------------------------------------------------------


def load_certificate(pem: bytes, origin: str, *, now: dt.datetime | None = None) -> x509.Certificate:
    """Parse and check a sealing certificate; any problem is one sentence naming `origin`."""
    fix = "fetch the controller's certificate again with ./inv secrets.fetch-cert"
    try:
        cert = x509.load_pem_x509_certificate(pem)
    except (ValueError, TypeError):
        raise GitOpsError(f"{origin} is not a PEM certificate; {fix}.") from None
    try:
        key = cert.public_key()
    except (ValueError, UnsupportedAlgorithm):
        raise GitOpsError(f"{origin} carries a public key we cannot read; {fix}.") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise GitOpsError(
            f"{origin} holds a {type(key).__name__.lstrip('_')} key, not RSA, so the sealed-secrets "
            f"controller cannot have issued it; {fix}."
        )
    if key.key_size < MIN_KEY_BITS:
        raise GitOpsError(f"{origin} holds a {key.key_size}-bit RSA key, below {MIN_KEY_BITS} bits; {fix}.")
    moment = now or dt.datetime.now(dt.UTC)
    if cert.not_valid_after_utc <= moment:
        raise GitOpsError(
            f"{origin} expired on {cert.not_valid_after_utc:%Y-%m-%d}; rotate the controller's key "
            f"and {fix} --replace."
        )
    if cert.not_valid_before_utc > moment + dt.timedelta(minutes=5):
        raise GitOpsError(
            f"{origin} is not valid before {cert.not_valid_before_utc:%Y-%m-%d %H:%M} UTC; check this "
            f"machine's clock or {fix}."
        )
    return cert


def cert_path(cluster: str, root: Path = config.ROOT) -> Path:
    return root / "clusters" / config.check_cluster(cluster) / CERT_FILE


def read_cluster_certificate(cluster: str, root: Path = config.ROOT) -> tuple[Path, x509.Certificate]:
    path = cert_path(cluster, root)
    try:
        pem = path.read_bytes()
    except FileNotFoundError:
        raise GitOpsError(
            f"{path.relative_to(root)} is missing; run ./inv secrets.fetch-cert --cluster {cluster} "
            f"(or ./inv secrets.init-key --cluster {cluster} for a new cluster)."
        ) from None
    return path, load_certificate(pem, str(path.relative_to(root)))


def fingerprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex(":")[:47]


def rsa_key(cert: x509.Certificate) -> rsa.RSAPublicKey:
    key = cert.public_key()
    assert isinstance(key, rsa.RSAPublicKey)  # load_certificate refused anything else
    return key


def generate_key_pair(
    now: dt.datetime | None = None, key_size: int = KEY_BITS, validity: dt.timedelta = CERT_VALIDITY
) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    """A key pair and self-signed certificate shaped like the controller's own."""
    start = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
    subject = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, "sealed-secret"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "sealed-secret"),
    ])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(int.from_bytes(pyrandom.token_bytes(16), "big") or 1)
        .not_valid_before(start)
        .not_valid_after(start + validity)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        # Upstream sets only EncipherOnly, which RFC 5280 (and cryptography) allow only with
        # keyAgreement; keyEncipherment is what RSA-OAEP wrapping of a session key is.
        .add_extension(
            x509.KeyUsage(
                digital_signature=False, content_commitment=False, key_encipherment=True,
                data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=False,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return key, cert


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


# --- key backups (the controller's own Secret form) ---------------------------------------


def controller_namespace() -> str:
    section = config.versions().get("sealed-secrets", {})
    value = section.get("namespace") if isinstance(section, dict) else None
    return str(value or "kube-system")


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


def check_backup_path(path: Path, root: Path = config.ROOT) -> Path:
    target = path.expanduser()
    if inside(target, root):
        raise GitOpsError(
            f"{path} is inside the repository, where a private key could be committed; choose a path "
            f"outside {root} (e.g. ~/.config/tasknote/sealed-secrets/)."
        )
    if target.is_dir():
        raise GitOpsError(f"{path} is a directory; give a file path for the key backup.")
    return target


def write_private(path: Path, data: bytes) -> None:
    """Write a private file atomically, mode 0600 from its first byte."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    atomic_write(path, data, mode=0o600)


def default_backup_path(cluster: str) -> Path:
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "tasknote" / "sealed-secrets" / f"{config.check_cluster(cluster)}.yaml"


_SERVER_FIELDS = ("uid", "resourceVersion", "creationTimestamp", "managedFields", "selfLink",
                  "generation", "ownerReferences")


def restore_key(backup_path: Path, namespace: str | None = None) -> list[dict[str, Any]]:
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
    ns = namespace or controller_namespace()
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


# --- plaintext input ---------------------------------------------------------------------


def check_name(name: str) -> str:
    if len(name) > 253 or not _DNS1123_SUBDOMAIN.match(name):
        raise GitOpsError(
            f"{name!r} is not a valid Kubernetes name; use lower-case letters, digits, '-' and '.', "
            "starting and ending with a letter or digit."
        )
    return name


def check_key(key: str) -> str:
    if len(key) > 253 or key in (".", "..") or not _SECRET_KEY.match(key):
        raise GitOpsError(
            f"{key!r} is not a valid Secret key; use letters, digits, '-', '_' and '.' only."
        )
    return key


def check_scope(scope: str) -> str:
    if scope not in SCOPES:
        raise GitOpsError(f"unknown scope {scope!r}; use one of {', '.join(SCOPES)}.")
    return scope


def _add(values: dict[str, bytes], key: str, value: str, origin: str) -> None:
    check_key(key)
    if key in values:
        raise GitOpsError(f"key {key!r} is given twice ({origin}); give each key once.")
    values[key] = value.encode("utf-8")


def parse_literals(literals: Iterable[str], values: dict[str, bytes] | None = None) -> dict[str, bytes]:
    out = values if values is not None else {}
    for literal in literals:
        key, sep, value = literal.partition("=")
        if not sep:
            # The literal may be a value: never echo it.
            raise GitOpsError("a --from-literal argument has no '='; write it as KEY=VALUE.")
        _add(out, key, value, "--from-literal")
    return out


def parse_env_file(content: bytes, origin: str, values: dict[str, bytes] | None = None) -> dict[str, bytes]:
    """KEY=VALUE lines like `kubectl create secret --from-env-file`: '#' comments and blank lines
    are skipped and values are taken verbatim; a duplicate key is an error, not a silent override."""
    out = values if values is not None else {}
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise GitOpsError(
            f"{origin} is not UTF-8 (bad byte at offset {exc.start}); re-save it as UTF-8."
        ) from None
    for number, raw in enumerate(text.removeprefix("\ufeff").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise GitOpsError(f"{origin} line {number} has no '='; write it as KEY=VALUE.")
        _add(out, key.strip(), value, f"{origin} line {number}")
    return out


# --- SealedSecret objects ------------------------------------------------------------------


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


def secret_manifest(name: str, namespace: str, values: Mapping[str, bytes], scope: str) -> bytes:
    """The plain Secret kubeseal reads on stdin (JSON); only ever held in memory."""
    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
    if scope_annotations(scope):
        metadata["annotations"] = scope_annotations(scope)
    secret = {
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque", "metadata": metadata,
        "data": {k: base64.b64encode(v).decode("ascii") for k, v in sorted(values.items())},
    }
    return json.dumps(secret).encode()


def kubeseal_argv(kubeseal: Path, cert_file: Path, scope: str) -> list[str]:
    """kubeseal's command line: the certificate and scope only; the Secret goes on stdin."""
    return [str(kubeseal), "--cert", str(cert_file), "--scope", scope, "--format", "json"]


def seal_with_kubeseal(
    kubeseal: Path, cert_file: Path, name: str, namespace: str, values: Mapping[str, bytes], scope: str
) -> dict[str, Any]:
    result = run.run(
        kubeseal_argv(kubeseal, cert_file, scope),
        input_bytes=secret_manifest(name, namespace, values, scope),
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


def find_kubeseal() -> Path | None:
    """The pinned kubeseal when it is installed; None means use the native implementation."""
    if tools.locate("kubeseal") is None:
        return None
    return tools.require("kubeseal")


# --- files ---------------------------------------------------------------------------------


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

    A round-trip edit (comments and order kept); the release helper's gitops.manifests.overlays will own
    this once merged.
    """
    if not path.exists():
        return None
    from io import StringIO

    from ruamel.yaml import YAML

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
            f"{cluster} could not be decrypted there, so use --cluster {expected}."
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
    root: Path = config.ROOT,
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
    cert_file, cert = read_cluster_certificate(cluster, root)
    overlay = root / "overlays" / env
    if not overlay.is_dir():
        raise GitOpsError(f"{overlay.relative_to(root)} does not exist; create the overlay first.")
    target = overlay / SEALED_FILE
    existing = read_sealed_file(target)
    namespace = namespace_for(env)

    kubeseal = None
    if engine == "kubeseal":
        kubeseal = tools.require("kubeseal")
    elif engine == "auto":
        kubeseal = find_kubeseal()
    if kubeseal is not None:
        obj = seal_with_kubeseal(kubeseal, cert_file, name, namespace, values, scope)
    else:
        obj = sealed_secret(name, namespace, values, cert, scope)

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


# --- new cluster keys and the application's database secret --------------------------------


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


def environments_of(cluster: str) -> list[str]:
    config.check_cluster(cluster)
    return [env for env, c in ENV_CLUSTER.items() if c == cluster]


def seal_database_secrets(cluster: str, root: Path = config.ROOT) -> list[SealResult]:
    """Seal fresh database credentials for every environment of the cluster."""
    return [
        seal(env, DB_SECRET, database_values(env), cluster=cluster, root=root)
        for env in environments_of(cluster)
    ]


@dataclass(frozen=True)
class InitResult:
    cert_file: Path
    backup: Path
    fingerprint: str


def init_key(cluster: str, backup: Path, *, replace: bool = False, root: Path = config.ROOT,
             key_size: int = KEY_BITS) -> InitResult:
    """A new controller key for a cluster: backup (outside the repo, 0600) and public cert.

    The backup is written first so a certificate is never committed without its key kept.
    """
    target = cert_path(cluster, root)
    backup = check_backup_path(backup, root)
    if target.exists() and not replace:
        raise GitOpsError(
            f"{target.relative_to(root)} already exists and its SealedSecrets need its private key; "
            "pass --replace only for a new cluster whose secrets you will seal again."
        )
    if backup.exists():
        # Never overwrite a key backup: it may be the only copy of a key the repo still needs.
        raise GitOpsError(f"{backup} already exists; keep it safe, it may be a key's only copy.")
    key, cert = generate_key_pair(key_size=key_size)
    name = f"{KEY_PREFIX}{cert.not_valid_before_utc:%Y%m%d%H%M%S}"
    write_private(backup, backup_document([key_secret(key, cert, name, controller_namespace())]))
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(target, cert_pem(cert))
    return InitResult(target, backup, fingerprint(cert))
