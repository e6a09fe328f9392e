"""Rules on where things live and how they are reached: namespaces, secrets and config,
exposure, the database, availability.
"""

from __future__ import annotations

import re

from gitops.core import imageref
from gitops.manifests.objects import name_of, namespace_of
from gitops.manifests.policy.model import Context, Doc
from gitops.manifests.policy.walkers import (
    Found,
    containers,
    label,
    pod_labels,
    pod_spec,
    selects,
)

CLUSTER_SCOPED = frozenset({
    "Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "PersistentVolume",
    "StorageClass", "PriorityClass", "IngressClass", "GatewayClass", "RuntimeClass", "CSIDriver",
    "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration", "APIService", "Node",
    "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding", "VolumeSnapshotClass",
})


DATABASE_IMAGES = re.compile(r"^(postgres|postgresql|mysql|mariadb|mongo|mongodb|cockroach)$")


CREDENTIAL_NAME = re.compile(r"(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIAL)", re.I)


URL_WITH_PASSWORD = re.compile(r"^[a-z][a-z0-9+.-]*://[^/@\s]*:[^/@\s]+@", re.I)


SECRET_ONLY_ENV = frozenset({"DATABASE_URL"})  # the contract: delivered by Secret tasknote-db


CONFIGMAP_KEYS = frozenset({"LOG_LEVEL", "FEATURE_BETA"})  # the contract: the generated ConfigMap


def plain_secret(doc: Doc, ctx: Context) -> Found:
    if doc.get("kind") == "Secret" and (doc.get("data") or doc.get("stringData")):
        yield "data", "a plain Secret with values is in Git (base64 is not encryption)"


def file_reference(name: str, value: str) -> bool:
    """NAME_FILE=/absolute/path names a file holding the credential (a mounted Secret), the
    convention of the postgres image's entrypoint and of tasknote's settings: not a credential."""
    return name.endswith("_FILE") and value.startswith("/") and not URL_WITH_PASSWORD.match(value)


def credential_literals(doc: Doc, ctx: Context) -> Found:
    for container, path in containers(doc):
        for i, env in enumerate(container.get("env") or []):
            name, where = str(env.get("name", "")), f"{path}.env[{i}]"
            source = env.get("valueFrom") or {}
            if name in SECRET_ONLY_ENV and "secretKeyRef" not in source:
                yield where, f"{label(container)} {name} does not come from a Secret (secretKeyRef)"
            elif "value" in env and not file_reference(name, str(env["value"])) and (
                    CREDENTIAL_NAME.search(name) or URL_WITH_PASSWORD.match(str(env["value"]))):
                yield where, f"{label(container)} sets credential-looking {name} as a literal value"
    if doc.get("kind") == "ConfigMap":
        for key, value in sorted((doc.get("data") or {}).items()):
            if CREDENTIAL_NAME.search(key) or key in SECRET_ONLY_ENV or URL_WITH_PASSWORD.match(str(value)):
                yield f"data.{key}", f"ConfigMap key {key} looks like a credential"


def config_literals(doc: Doc, ctx: Context) -> Found:
    for container, path in containers(doc):
        for i, env in enumerate(container.get("env") or []):
            if env.get("name") in CONFIGMAP_KEYS and "value" in env:
                yield f"{path}.env[{i}]", f"{label(container)} hard-codes {env['name']} as an env literal"


def namespaced(doc: Doc, ctx: Context) -> Found:
    kind, namespace = str(doc.get("kind", "")), namespace_of(doc)
    if kind in CLUSTER_SCOPED or kind.endswith("List"):
        return
    if not namespace:
        yield "metadata.namespace", (f"{kind} has no namespace after render "
                                     "(it would land in the kubectl context's)")
    elif namespace == "default":
        yield "metadata.namespace", f"{kind} is in the default namespace"


def namespace_psa(doc: Doc, ctx: Context) -> Found:
    if doc.get("kind") == "Namespace":
        labels = (doc.get("metadata") or {}).get("labels") or {}
        level = labels.get("pod-security.kubernetes.io/enforce")
        if level != "restricted":
            yield "metadata.labels", f"pod-security.kubernetes.io/enforce is {level!r}, not 'restricted'"


def routed_services(ctx: Context) -> set[tuple[str, str]]:
    """(namespace, service) pairs an Ingress or HTTPRoute of the target sends traffic to."""
    found: set[tuple[str, str]] = set()
    for ing in ctx.of_kind("Ingress"):
        spec = ing.get("spec") or {}
        backends = [spec.get("defaultBackend") or {}]
        for rule in spec.get("rules") or []:
            backends += [p.get("backend") or {} for p in ((rule.get("http") or {}).get("paths") or [])]
        for backend in backends:
            if (backend.get("service") or {}).get("name"):
                found.add((namespace_of(ing), backend["service"]["name"]))
    for route in ctx.of_kind("HTTPRoute"):
        for rule in (route.get("spec") or {}).get("rules") or []:
            for ref in rule.get("backendRefs") or []:
                found.add((str(ref.get("namespace") or namespace_of(route)), str(ref.get("name"))))
    return found


def loadbalancer_only(doc: Doc, ctx: Context) -> Found:
    if doc.get("kind") != "Service" or (doc.get("spec") or {}).get("type") != "LoadBalancer":
        return
    if (namespace_of(doc), name_of(doc)) not in routed_services(ctx):
        yield "spec.type", "a LoadBalancer Service is the only way in (no Ingress or HTTPRoute routes to it)"


def database_statefulset(doc: Doc, ctx: Context) -> Found:
    kind = doc.get("kind")
    for container, path in containers(doc, init=False):
        if not DATABASE_IMAGES.match(imageref.parse(str(container.get("image", ""))).name):
            continue
        if kind != "StatefulSet":
            yield f"{path}.image", f"{label(container)} runs a database in a {kind}, not a StatefulSet"
        elif not (doc.get("spec") or {}).get("volumeClaimTemplates"):
            yield "spec.volumeClaimTemplates", f"{label(container)} runs a database without a volume claim"


def hpa_for(doc: Doc, ctx: Context) -> list[Doc]:
    return [h for h in ctx.in_namespace("HorizontalPodAutoscaler", namespace_of(doc))
            if ((h.get("spec") or {}).get("scaleTargetRef") or {}).get("name") == name_of(doc)
            and ((h.get("spec") or {}).get("scaleTargetRef") or {}).get("kind") == doc.get("kind")]


def pdb_for_replicas(doc: Doc, ctx: Context) -> Found:
    if doc.get("kind") not in ("Deployment", "StatefulSet"):
        return
    replicas = int((doc.get("spec") or {}).get("replicas", 1))
    replicas = max([replicas] + [int((h.get("spec") or {}).get("minReplicas", 1)) for h in hpa_for(doc, ctx)])
    if replicas < 2:
        return
    labels = pod_labels(doc)
    budgets = [p for p in ctx.in_namespace("PodDisruptionBudget", namespace_of(doc))
               if selects((p.get("spec") or {}).get("selector") or {}, labels)]
    if not budgets:
        yield "spec.replicas", f"{replicas} replicas and no PodDisruptionBudget selects their pods"


def hpa_cpu_request(doc: Doc, ctx: Context) -> Found:
    if doc.get("kind") != "HorizontalPodAutoscaler":
        return
    spec = doc.get("spec") or {}
    uses_cpu = any((m.get("resource") or {}).get("name") == "cpu" for m in spec.get("metrics") or [])
    if not uses_cpu:
        return
    ref = spec.get("scaleTargetRef") or {}
    name = ref.get("name")
    targets = ctx.in_namespace(str(ref.get("kind")), namespace_of(doc), name) if isinstance(name, str) else []
    if not targets:
        yield "spec.scaleTargetRef", f"its target {ref.get('kind')}/{ref.get('name')} is not in this render"
        return
    for container, path in containers(targets[0], init=False):
        if "cpu" not in (((container.get("resources") or {}).get("requests")) or {}):
            yield "spec.metrics", (f"scales on CPU but {ref.get('kind')}/{ref.get('name')} "
                                   f"{label(container)} "
                                   f"has no CPU request ({path}.resources.requests.cpu)")


def service_account_token(doc: Doc, ctx: Context) -> Found:
    found = pod_spec(doc)
    if found is None:
        return
    spec, path = found
    if spec.get("automountServiceAccountToken") is False:
        return
    account = str(spec.get("serviceAccountName") or "default")
    accounts = ctx.in_namespace("ServiceAccount", namespace_of(doc), account)
    if spec.get("automountServiceAccountToken") is None and accounts and \
            accounts[0].get("automountServiceAccountToken") is False:
        return
    yield f"{path}.automountServiceAccountToken", (
        f"pods get a Kubernetes API token (service account {account!r}) they do not need")

