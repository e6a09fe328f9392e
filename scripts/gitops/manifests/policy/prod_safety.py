"""Policy checks that protect what staging and prod users depend on: their data must survive an
Argo CD prune or Application deletion, and prod must be served over TLS only.

Each check has the signature of gitops.manifests.policy.rules (object, context) -> (field path, message)
pairs; the rules table (gitops.manifests.policy.rules.RULES) names them TN030 and TN031.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from gitops.manifests.objects import name_of, namespace_of
from gitops.manifests.policy.model import Context, Doc

Found = Iterator[tuple[str, str]]

# Argo CD reads per-object sync options from this annotation, comma-separated, whitespace trimmed
# (argo-cd docs/user-guide/sync-options.md). Delete=false: kept when the Application is deleted
# ("No Resource Deletion"); Prune=false: kept when the object leaves Git ("No Prune Resources").
SYNC_OPTIONS = "argocd.argoproj.io/sync-options"
RETAIN_OPTIONS = ("Delete=false", "Prune=false")
LONG_LIVED_ENVIRONMENTS = ("staging", "prod")
# Gateway API listener protocols that carry TLS (GatewayAPI Listener.protocol: HTTPS and TLS).
TLS_PROTOCOLS = ("HTTPS", "TLS")


def sync_options(doc: Doc) -> set[str]:
    annotations = (doc.get("metadata") or {}).get("annotations") or {}
    return {part.strip() for part in str(annotations.get(SYNC_OPTIONS, "")).split(",") if part.strip()}


def holds_data(doc: Doc) -> bool:
    """A Namespace (deleting it deletes every claim in it), a PersistentVolumeClaim, or a
    StatefulSet with volume claim templates."""
    kind = doc.get("kind")
    if kind in ("Namespace", "PersistentVolumeClaim"):
        return True
    return kind == "StatefulSet" and bool((doc.get("spec") or {}).get("volumeClaimTemplates"))


def data_survives_prune(doc: Doc, ctx: Context) -> Found:
    if ctx.environment not in LONG_LIVED_ENVIRONMENTS or not holds_data(doc):
        return
    missing = [option for option in RETAIN_OPTIONS if option not in sync_options(doc)]
    if missing:
        yield (f"metadata.annotations.{SYNC_OPTIONS}",
               f"{doc.get('kind')} of {ctx.environment} lacks {', '.join(missing)}: deleting or pruning "
               "its Application would delete the data with it")


# ---- TLS in prod -----------------------------------------------------------------------------

def ingress_without_tls(doc: Doc) -> Found:
    spec = doc.get("spec") or {}
    covered = {str(host) for tls in spec.get("tls") or [] if tls.get("secretName")
               for host in tls.get("hosts") or []}
    for i, rule in enumerate(spec.get("rules") or []):
        host = str(rule.get("host") or "")
        if host not in covered:
            yield f"spec.rules[{i}].host", (f"host {host or '(any)'} is served without TLS "
                                            "(no spec.tls entry with a secretName)")


def listeners(gateway: Doc) -> list[dict[str, Any]]:
    return list((gateway.get("spec") or {}).get("listeners") or [])


def gateway_without_tls(doc: Doc) -> Found:
    secured = {str(lis.get("hostname") or "") for lis in listeners(doc)
               if lis.get("protocol") in TLS_PROTOCOLS}
    for i, listener in enumerate(listeners(doc)):
        protocol, name = listener.get("protocol"), listener.get("name", "?")
        where = f"spec.listeners[{i}]"
        if protocol in TLS_PROTOCOLS:
            tls = listener.get("tls") or {}
            if tls.get("mode", "Terminate") == "Terminate" and not tls.get("certificateRefs"):
                yield f"{where}.tls.certificateRefs", f"listener {name!r} terminates TLS with no certificate"
        elif str(listener.get("hostname") or "") not in secured:
            # An HTTP listener is only there to redirect (and answer ACME HTTP-01) next to an
            # HTTPS listener for the same host; alone it serves the app in clear text.
            yield f"{where}.protocol", (f"listener {name!r} serves {protocol} for "
                                        f"{listener.get('hostname') or 'any host'} and the Gateway has "
                                        "no HTTPS listener for it")


def plain_listener_names(ctx: Context, namespace: str, gateway: str) -> set[str] | None:
    """Names of the non-TLS listeners of that Gateway in this target, None when it is not here."""
    found = ctx.in_namespace("Gateway", namespace, gateway)
    if not found:
        return None
    return {str(lis.get("name")) for lis in listeners(found[0]) if lis.get("protocol") not in TLS_PROTOCOLS}


def redirects_to_https(rule: dict[str, Any]) -> bool:
    return any(f.get("type") == "RequestRedirect"
               and (f.get("requestRedirect") or {}).get("scheme") == "https"
               for f in rule.get("filters") or [])


def route_over_plain_http(doc: Doc, ctx: Context) -> Found:
    """An HTTPRoute attached to a plain-HTTP listener may only redirect to HTTPS."""
    for i, parent in enumerate((doc.get("spec") or {}).get("parentRefs") or []):
        if parent.get("kind", "Gateway") != "Gateway":
            continue
        plain = plain_listener_names(ctx, str(parent.get("namespace") or namespace_of(doc)),
                                     str(parent.get("name")))
        if not plain:
            continue
        section = parent.get("sectionName")
        if section is not None and section not in plain:
            continue
        for j, rule in enumerate((doc.get("spec") or {}).get("rules") or []):
            if not redirects_to_https(rule):
                yield (f"spec.rules[{j}]", f"route {name_of(doc)!r} serves content on plain-HTTP listener "
                       f"{section or 'of Gateway ' + str(parent.get('name'))!s} (parentRefs[{i}]) instead of "
                       "redirecting to HTTPS")


def tls_in_prod(doc: Doc, ctx: Context) -> Found:
    if ctx.environment != "prod":
        return
    kind = doc.get("kind")
    if kind == "Ingress":
        yield from ingress_without_tls(doc)
    elif kind == "Gateway":
        yield from gateway_without_tls(doc)
    elif kind == "HTTPRoute":
        yield from route_over_plain_http(doc, ctx)
