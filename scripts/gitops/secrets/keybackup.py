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


def fresh_key_secret(bits: int = 4096, days: int = 3650, namespace: str = KEY_NAMESPACE) -> dict[str, Any]:
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
        "metadata": {"name": f"sealed-secrets-key{now:%Y%m%d%H%M%S}".lower(), "namespace": namespace,
                     "labels": {KEY_LABEL: "active"}},
        "data": {"tls.crt": base64.b64encode(cert_pem).decode(),
                 "tls.key": base64.b64encode(key_pem).decode()},
    }


def backup_path(cluster: str) -> Path:
    """Where `./inv secrets.init-key` keeps a cluster's key too, so either can restore it."""
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "tasknote" / "sealed-secrets" / f"{cluster}.yaml"


def backup_key(secret: dict[str, Any], path: Path) -> Path:
    """The key as a v1 List of Secrets (what secrets.restore-key reads), mode 0600, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path.parent, 0o700)
    header = ("# PRIVATE sealing key of a TaskNote cluster: it decrypts every SealedSecret sealed for it.\n"
              "# Keep it out of Git (mode 0600); restore with ./inv bootstrap --key-backup THIS_FILE.\n")
    document = {"apiVersion": "v1", "kind": "List", "items": [secret]}
    return write_private(path, header + yaml.safe_dump(document, sort_keys=False))
