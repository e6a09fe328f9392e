"""A fresh Sealed Secrets key for a throw-away kind cluster, and its backup outside the repo.

The controller would make one itself, but then nobody could back it up before it is used;
making it here lets bootstrap keep a copy (mode 0600) and hand it to the next bootstrap.
"""

from __future__ import annotations

import base64
import datetime
import os
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from gitops.cluster.kubeconfig import write_private

KEY_NAMESPACE = "kube-system"
KEY_LABEL = "sealedsecrets.bitnami.com/sealed-secrets-key"


def fresh_key_secret(bits: int = 4096, days: int = 3650) -> dict[str, Any]:
    """A kubernetes.io/tls Secret labelled as the active sealing key, as the controller makes it."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "sealed-secret"),
                      x509.NameAttribute(NameOID.COMMON_NAME, "sealed-secret")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=days))
            .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption())
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "kubernetes.io/tls",
        "metadata": {"name": f"sealed-secrets-key{now:%Y%m%d%H%M%S}".lower(), "namespace": KEY_NAMESPACE,
                     "labels": {KEY_LABEL: "active"}},
        "data": {"tls.crt": base64.b64encode(cert_pem).decode(),
                 "tls.key": base64.b64encode(key_pem).decode()},
    }


def backup_key(secret: dict[str, Any], directory: Path, context: str) -> Path:
    """Write the key Secret to directory (0700) as one 0600 file, atomically."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(directory, 0o700)
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    path = directory / f"{context}-{stamp}.yaml"
    return write_private(path, yaml.safe_dump(secret, sort_keys=False))
