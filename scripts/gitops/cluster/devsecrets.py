"""The dev SealedSecrets as this kind cluster's key needs them, for the published commit only.

The SealedSecrets committed under overlays/dev were sealed to clusters/kind/sealed-secrets-cert.pem,
whose private key a fresh cluster does not have. Publishing (gitops.cluster.publish) therefore
puts, in the commit it serves to the cluster, SealedSecrets this cluster can decrypt:

1. the committed ones as they are, when the committed certificate already is this cluster's;
2. else the ones the previous published commit carried, when that commit was sealed to this
   cluster's key (same name, namespace and keys): the credentials PostgreSQL was initialised
   with stay the same, and an unchanged checkout publishes an unchanged tree;
3. else, for the Secrets the automation generates (sealing.GENERATED: the database owner's and
   the app's credentials), fresh values sealed to this cluster's certificate: nobody needs the
   old ones, this cluster has no data yet.

Any other Secret sealed for another key holds values only its author knows: that is one
sentence naming it and how to seal it for this cluster. Plaintext exists only in memory.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from gitops.core.errors import GitOpsError
from gitops.secrets import sealing
from gitops.secrets.crypto import load_certificate

Obj = dict[str, Any]
SEALED_PATH = "overlays/dev/sealed-secrets.yaml"
CERT_PATH = "clusters/kind/sealed-secrets-cert.pem"


def public_key_der(cert: x509.Certificate) -> bytes:
    return cert.public_key().public_bytes(serialization.Encoding.DER,
                                          serialization.PublicFormat.SubjectPublicKeyInfo)


def same_key(pem: bytes | None, cert: x509.Certificate) -> bool:
    """Whether a PEM certificate (None: absent or unreadable) carries the same key as `cert`."""
    if not pem:
        return False
    try:
        other = x509.load_pem_x509_certificate(pem)
    except ValueError:
        return False
    return public_key_der(other) == public_key_der(cert)


def parse_sealed(text: str, where: str) -> list[Obj]:
    try:
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError:
        raise GitOpsError(f"{where} is not valid YAML; fix it (or restore it from Git) and publish again.") \
            from None
    for doc in docs:
        if not isinstance(doc, dict) or doc.get("kind") != "SealedSecret":
            raise GitOpsError(f"{where} holds something other than SealedSecrets; move it to another file.")
    return docs


def ident(obj: Obj) -> tuple[str, str, frozenset[str]]:
    meta = obj.get("metadata") or {}
    keys = frozenset((obj.get("spec") or {}).get("encryptedData") or {})
    return str(meta.get("name")), str(meta.get("namespace")), keys


def active_certificate(key_secrets: Iterable[Mapping[str, Any]]) -> x509.Certificate:
    """The certificate of the newest active sealing key (what the controller seals with).

    `key_secrets` are the kubernetes.io/tls Secrets labelled
    sealedsecrets.bitnami.com/sealed-secrets-key=active (pkg/controller/keys.go in
    bitnami-labs/sealed-secrets); only their public tls.crt is read.
    """
    secrets = sorted(key_secrets, key=lambda s: str((s.get("metadata") or {}).get("creationTimestamp", "")))
    if not secrets:
        raise GitOpsError("the cluster has no active Sealed Secrets key yet; run ./inv bootstrap, which "
                          "restores or creates it before anything is published.")
    crt = (secrets[-1].get("data") or {}).get("tls.crt", "")
    try:
        pem = base64.b64decode(crt)
    except ValueError:
        pem = b""
    name = (secrets[-1].get("metadata") or {}).get("name", "?")
    return load_certificate(pem, f"the cluster's sealing key Secret {name}")


def sealed_for_cluster(
    source_text: str,
    source_cert_pem: bytes | None,
    cert: x509.Certificate,
    previous_text: str | None = None,
    previous_cert_pem: bytes | None = None,
    *,
    env: str = "dev",
    generated: Mapping[str, Callable[[str], dict[str, bytes]]] = sealing.GENERATED,
) -> str:
    """The text of overlays/<env>/sealed-secrets.yaml for a commit served to the cluster of `cert`."""
    if same_key(source_cert_pem, cert):
        return source_text
    wanted = parse_sealed(source_text, SEALED_PATH)
    reusable: dict[tuple[str, str, frozenset[str]], Obj] = {}
    if previous_text is not None and same_key(previous_cert_pem, cert):
        reusable = {ident(obj): obj for obj in parse_sealed(previous_text, f"the published {SEALED_PATH}")}
    namespace = sealing.namespace_for(env)
    out: list[Obj] = []
    for obj in wanted:
        key = ident(obj)
        name, obj_namespace, _ = key
        if key in reusable:
            out.append(reusable[key])
        elif name in generated and obj_namespace == namespace:
            out.append(sealing.sealed_secret(name, namespace, generated[name](env), cert))
        else:
            raise GitOpsError(
                f"{SEALED_PATH} holds SealedSecret {obj_namespace}/{name}, sealed for another key and with "
                "values only its author knows; seal it for this cluster (./inv secrets.fetch-cert --target "
                f"kind --replace, then ./inv secrets.seal --env {env} --name {name}) and publish again.")
    return sealing.dump_sealed_file(out).decode("utf-8")
