"""TEST-ONLY decryptor, written from the controller's documented format (pkg/crypto/crypto.go
HybridDecrypt and sealedsecret_expansion.go Unseal in bitnami-labs/sealed-secrets). It lives in
tests/ on purpose: the package never decrypts, only the cluster's controller does."""

from __future__ import annotations

import base64
import struct
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM


def hybrid_decrypt(key: rsa.RSAPrivateKey, blob: bytes, label: bytes) -> bytes:
    if len(blob) < 2:
        raise ValueError("SealedSecret data is too short")
    (rsa_len,) = struct.unpack(">H", blob[:2])
    if len(blob) < rsa_len + 2:
        raise ValueError("SealedSecret data is too short")
    session_key = key.decrypt(
        blob[2 : rsa_len + 2],
        padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=label or None),
    )
    return AESGCM(session_key).decrypt(bytes(12), blob[rsa_len + 2 :], None)


def label_of(metadata: dict[str, Any]) -> bytes:
    """The label Unseal derives from the SealedSecret's own metadata (namespace, name, annotations)."""
    annotations = metadata.get("annotations") or {}
    if annotations.get("sealedsecrets.bitnami.com/cluster-wide") == "true":
        return b""
    if annotations.get("sealedsecrets.bitnami.com/namespace-wide") == "true":
        return metadata["namespace"].encode()
    return f"{metadata['namespace']}/{metadata['name']}".encode()


def unseal(key: rsa.RSAPrivateKey, sealed: dict[str, Any]) -> dict[str, bytes]:
    label = label_of(sealed["metadata"])
    data = sealed["spec"]["encryptedData"]
    return {k: hybrid_decrypt(key, base64.b64decode(v), label) for k, v in data.items()}
