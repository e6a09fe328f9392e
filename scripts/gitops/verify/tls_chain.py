"""Does the public host serve a certificate chain a client trusts? One TLS handshake to the
ingress with the public host as SNI, verified against the trust a real client uses: the system
roots (Let's Encrypt on k3s), or the issuer's CA on kind (cert-manager's SelfSigned issuer puts the
certificate itself into the Secret's ca.crt). Hostname checked as browsers do; the result is a
smoke step outcome, so a failure reads as one line in the report."""

from __future__ import annotations

import socket
import ssl
import time
from datetime import UTC, datetime

from gitops.verify.steps import FAILED, PASSED, Outcome


def context_for(ca_pem: str | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cadata=ca_pem) if ca_pem else ssl.create_default_context()
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def check_chain(address: str, port: int, server_name: str, ca_pem: str | None = None,
                timeout_s: float = 10) -> Outcome:
    """Handshake with `address:port` presenting `server_name`; ok when the chain verifies."""
    started = time.monotonic()
    name = f"tls chain {server_name}"
    try:
        with socket.create_connection((address, port), timeout=timeout_s) as raw, \
                context_for(ca_pem).wrap_socket(raw, server_hostname=server_name) as tls:
            cert = tls.getpeercert() or {}
    except ssl.SSLCertVerificationError as exc:
        return Outcome(name, FAILED, time.monotonic() - started,
                    f"{address}:{port} serves a certificate for {server_name} that does not verify "
                    f"({exc.verify_message}); check the Certificate and its Issuer "
                    "(kubectl describe certificate)")
    except (OSError, ssl.SSLError) as exc:
        return Outcome(name, FAILED, time.monotonic() - started,
                    f"no TLS handshake with {address}:{port} ({type(exc).__name__}: {exc}); "
                    "check the ingress controller and its port 443")
    expires = cert.get("notAfter")
    detail = ""
    if isinstance(expires, str):
        when = datetime.fromtimestamp(ssl.cert_time_to_seconds(expires), UTC)
        detail = f"valid until {when:%Y-%m-%d}"
    return Outcome(name, PASSED, time.monotonic() - started, detail)
