"""Sealed Secrets compatible encryption and sealing certificates.

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

"""

from __future__ import annotations

import base64
import datetime as dt
import secrets as pyrandom
import struct

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID

from gitops.core.errors import GitOpsError

SCOPES = ("strict", "namespace-wide", "cluster-wide")


ANNOTATION_NAMESPACE_WIDE = "sealedsecrets.bitnami.com/namespace-wide"


ANNOTATION_CLUSTER_WIDE = "sealedsecrets.bitnami.com/cluster-wide"


MIN_KEY_BITS = 2048


SESSION_KEY_BYTES = 32


GCM_NONCE = bytes(12)


KEY_BITS = 4096


CERT_VALIDITY = dt.timedelta(days=10 * 365)


def check_scope(scope: str) -> str:
    if scope not in SCOPES:
        raise GitOpsError(f"unknown scope {scope!r}; use one of {', '.join(SCOPES)}.")
    return scope


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

