"""The rule set: one function per seed anti-pattern or production habit, and one table (RULES).

Each check takes one rendered object and its target's context and yields (field path,
message) pairs. Fixtures: tests/manifests/fixtures/policy/<id>/{fail,pass}.yaml.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from gitops.core import imageref
from gitops.manifests.objects import is_ours, name_of, namespace_of, sources
from gitops.manifests.policy import Check, Context, Doc, Rule
from gitops.manifests.policy.integrity import INTEGRITY_RULES

Found = Iterator[tuple[str, str]]

LONG_RUNNING = ("Deployment", "StatefulSet", "DaemonSet")
WORKLOADS = (*LONG_RUNNING, "ReplicaSet", "Job", "CronJob", "Pod")
# Kinds that live outside namespaces; everything else needs metadata.namespace after render.
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
LIVENESS_MIN_TOLERANCE_S = 30  # failureThreshold x periodSeconds before a restart
LIVENESS_MIN_DELAY_S = 10  # without a startupProbe, wait at least this long before probing
MUTABLE_REVISIONS = frozenset({"", "HEAD", "main", "master", "latest", "*"})


# ---- shared walkers -------------------------------------------------------------------------

def pod_spec(doc: Doc) -> tuple[dict[str, Any], str] | None:
    """The pod spec of a workload and its field path, or None for other kinds."""
    kind, spec = doc.get("kind"), doc.get("spec") or {}
    if kind == "Pod":
        return spec, "spec"
    if kind == "CronJob":
        return ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template", {}).get("spec") or {}, \
            "spec.jobTemplate.spec.template.spec"
    if kind in WORKLOADS:
        return (spec.get("template") or {}).get("spec") or {}, "spec.template.spec"
    return None


def containers(doc: Doc, init: bool = True) -> Iterator[tuple[dict[str, Any], str]]:
    """(container, field path) of every container (init containers too unless init=False)."""
    found = pod_spec(doc)
    if found is None:
        return
    spec, path = found
    fields = ("initContainers", "containers") if init else ("containers",)
    for field in fields:
        for i, container in enumerate(spec.get(field) or []):
            yield container, f"{path}.{field}[{i}]"


def label(container: dict[str, Any]) -> str:
    return f"container {container.get('name', '?')!r}"


def pod_labels(doc: Doc) -> dict[str, str]:
    template = (doc.get("spec") or {}).get("template") or {}
    return dict((template.get("metadata") or {}).get("labels") or {})


# ---- images ---------------------------------------------------------------------------------

def image_tag(doc: Doc, ctx: Context) -> Found:
    for container, path in containers(doc):
        image = str(container.get("image") or "")
        ref = imageref.parse(image)
        if not image:
            yield f"{path}.image", f"{label(container)} has no image"
        elif ref.tag in (None, "latest") and ref.digest is None:
            yield f"{path}.image", f"{label(container)} runs {image!r}, a moving tag"
        elif ref.tag == "latest":
            yield f"{path}.image", f"{label(container)} names the tag 'latest' ({image!r})"


def image_digest(doc: Doc, ctx: Context) -> Found:
    for container, path in containers(doc):
        image = str(container.get("image") or "")
        if image and not imageref.parse(image).pinned:
            yield f"{path}.image", f"{label(container)} image {image!r} is not pinned by @sha256:<64 hex>"


# ---- resources and probes -------------------------------------------------------------------

def resources(doc: Doc, ctx: Context) -> Found:
    for container, path in containers(doc):
        res = container.get("resources") or {}
        missing = [f"requests.{r}" for r in ("cpu", "memory") if r not in (res.get("requests") or {})]
        missing += ["limits.memory"] if "memory" not in (res.get("limits") or {}) else []
        if missing:
            yield f"{path}.resources", f"{label(container)} has no {', '.join(missing)}"


def missing_probe(field: str) -> Check:
    """A check that every container of a long-running workload has the probe `field`."""
    def check(doc: Doc, ctx: Context) -> Found:
        if doc.get("kind") in LONG_RUNNING:
            for container, path in containers(doc, init=False):
                if not container.get(field):
                    yield f"{path}.{field}", f"{label(container)} has no {field}"
    return check


readiness = missing_probe("readinessProbe")
liveness = missing_probe("livenessProbe")


def tolerance_s(probe: dict[str, Any]) -> int:
    """Seconds of consecutive failures before the kubelet acts (Kubernetes defaults 3 x 10 s)."""
    return int(probe.get("failureThreshold", 3)) * int(probe.get("periodSeconds", 10))


def http_path(probe: dict[str, Any]) -> str | None:
    get = probe.get("httpGet")
    return str(get.get("path", "/")) if isinstance(get, dict) else None


def liveness_lenient(doc: Doc, ctx: Context) -> Found:
    if doc.get("kind") not in LONG_RUNNING:
        return
    for container, path in containers(doc, init=False):
        live, ready = container.get("livenessProbe"), container.get("readinessProbe")
        if not isinstance(live, dict):
            continue
        where, who = f"{path}.livenessProbe", label(container)
        if tolerance_s(live) < LIVENESS_MIN_TOLERANCE_S:
            yield where, (f"{who} is restarted after {tolerance_s(live)} s of failed liveness checks "
                          f"(failureThreshold x periodSeconds < {LIVENESS_MIN_TOLERANCE_S} s)")
        if int(live.get("timeoutSeconds", 1)) < 1:
            yield f"{where}.timeoutSeconds", f"{who} liveness timeoutSeconds is below 1"
        delay = int(live.get("initialDelaySeconds", 0))
        if not container.get("startupProbe") and delay < LIVENESS_MIN_DELAY_S:
            yield where, (f"{who} has a livenessProbe but no startupProbe (and initialDelaySeconds < "
                          f"{LIVENESS_MIN_DELAY_S}): a slow start is killed in a restart loop")
        if isinstance(ready, dict):
            if tolerance_s(live) < tolerance_s(ready):
                yield where, (f"{who} liveness ({tolerance_s(live)} s) is stricter than readiness "
                              f"({tolerance_s(ready)} s): it restarts pods that should only leave "
                              "the Service")
            live_path, ready_path = http_path(live), http_path(ready)
            if live_path is not None and live_path == ready_path:
                yield f"{where}.httpGet.path", (f"{who} liveness checks the readiness endpoint {live_path}: "
                                                "a dependency outage would restart every replica")


# ---- pod security ---------------------------------------------------------------------------

def security_context(doc: Doc, ctx: Context) -> Found:
    found = pod_spec(doc)
    if found is None:
        return
    spec, _ = found
    pod = spec.get("securityContext") or {}
    for container, path in containers(doc):
        sc = container.get("securityContext") or {}
        who, where = label(container), f"{path}.securityContext"

        def effective(key: str, sc: dict[str, Any] = sc) -> Any:
            return sc[key] if key in sc else pod.get(key)

        problems = []
        if effective("runAsNonRoot") is not True:
            problems.append("runAsNonRoot is not true")
        if effective("runAsUser") == 0:
            problems.append("runAsUser is 0 (root)")
        if sc.get("allowPrivilegeEscalation") is not False:
            problems.append("allowPrivilegeEscalation is not false")
        if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):
            problems.append("capabilities.drop lacks ALL")
        if (sc.get("capabilities") or {}).get("add"):
            problems.append("capabilities.add is set")
        seccomp = (effective("seccompProfile") or {}).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            problems.append("seccompProfile.type is not RuntimeDefault")
        if sc.get("readOnlyRootFilesystem") is not True:
            problems.append("readOnlyRootFilesystem is not true")
        if sc.get("privileged") is True:
            problems.append("privileged is true")
        if problems:
            yield where, f"{who}: {'; '.join(problems)}"


def host_access(doc: Doc, ctx: Context) -> Found:
    found = pod_spec(doc)
    if found is None:
        return
    spec, path = found
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(key) is True:
            yield f"{path}.{key}", f"the pod shares the node's {key[4:].lower()} namespace"
    for i, volume in enumerate(spec.get("volumes") or []):
        if "hostPath" in volume:
            yield f"{path}.volumes[{i}].hostPath", f"volume {volume.get('name')!r} mounts a node directory"
    for container, cpath in containers(doc):
        for j, port in enumerate(container.get("ports") or []):
            if port.get("hostPort"):
                yield f"{cpath}.ports[{j}].hostPort", f"{label(container)} binds node port {port['hostPort']}"


# ---- secrets and configuration --------------------------------------------------------------

def plain_secret(doc: Doc, ctx: Context) -> Found:
    if doc.get("kind") == "Secret" and (doc.get("data") or doc.get("stringData")):
        yield "data", "a plain Secret with values is in Git (base64 is not encryption)"


def credential_literals(doc: Doc, ctx: Context) -> Found:
    for container, path in containers(doc):
        for i, env in enumerate(container.get("env") or []):
            name, where = str(env.get("name", "")), f"{path}.env[{i}]"
            source = env.get("valueFrom") or {}
            if name in SECRET_ONLY_ENV and "secretKeyRef" not in source:
                yield where, f"{label(container)} {name} does not come from a Secret (secretKeyRef)"
            elif "value" in env and (CREDENTIAL_NAME.search(name)
                                     or URL_WITH_PASSWORD.match(str(env["value"]))):
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


# ---- placement and exposure -----------------------------------------------------------------

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


# ---- availability ---------------------------------------------------------------------------

def hpa_for(doc: Doc, ctx: Context) -> list[Doc]:
    return [h for h in ctx.in_namespace("HorizontalPodAutoscaler", namespace_of(doc))
            if ((h.get("spec") or {}).get("scaleTargetRef") or {}).get("name") == name_of(doc)
            and ((h.get("spec") or {}).get("scaleTargetRef") or {}).get("kind") == doc.get("kind")]


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    wanted = selector.get("matchLabels") or {}
    return bool(wanted) and all(labels.get(k) == v for k, v in wanted.items())


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


# ---- Argo CD --------------------------------------------------------------------------------

def argocd_automated(doc: Doc, ctx: Context) -> Found:
    if doc.get("kind") != "Application":
        return
    auto = ((doc.get("spec") or {}).get("syncPolicy") or {}).get("automated")
    if not isinstance(auto, dict) or auto.get("enabled") is False:
        yield "spec.syncPolicy.automated", "the Application is not synced automatically"
        return
    missing = [k for k in ("prune", "selfHeal") if auto.get(k) is not True]
    if missing:
        yield "spec.syncPolicy.automated", f"automated sync without {' and '.join(missing)}"


def pinned_revision(revision: str) -> bool:
    """A version (v3.2.0, 0.33.1) or commit, not a branch, HEAD, wildcard or range."""
    if revision in MUTABLE_REVISIONS or not re.search(r"\d", revision):
        return False
    return re.search(r"[*^~<>|]|\.x\b|\.X\b", revision) is None


def argocd_pinned_revision(doc: Doc, ctx: Context) -> Found:
    if doc.get("kind") != "Application":
        return
    for source, path in sources(doc):
        if is_ours(source):
            continue
        revision = str(source.get("targetRevision", ""))
        what = f"chart {source['chart']}" if source.get("chart") else str(source.get("repoURL", "?"))
        if not pinned_revision(revision):
            yield f"{path}.targetRevision", (f"platform source {what} follows {revision or 'HEAD'!r}, "
                                             "not a pinned version")


# ---- the table ------------------------------------------------------------------------------

RULES: tuple[Rule, ...] = (
    Rule("TN001", "image-tag", "error",
         "`:latest` or an untagged image changes under you: two nodes can run different code and a rollback "
         "has nothing to go back to.",
         "set an explicit version tag (and a digest) through the overlay's `images:` entry", image_tag),
    Rule("TN002", "image-digest", "error",
         "A tag can be re-pushed; only a digest makes the cluster run exactly the bytes that were tested.",
         "pin with `newTag: <version>@sha256:<digest>` in the overlay's `images:` (or image@sha256:...)",
         image_digest),
    Rule("TN003", "resources", "error",
         "Without requests the scheduler packs pods blindly and the HPA has no baseline; without a memory "
         "limit one leak takes the node down.",
         "set resources.requests.cpu, resources.requests.memory and resources.limits.memory", resources),
    Rule("TN004", "readiness-probe", "error",
         "Without a readiness probe a pod receives traffic before it can serve it, during every rollout.",
         "add a readinessProbe (HTTP /ready for the API)", readiness),
    Rule("TN005", "liveness-probe", "error",
         "Without a liveness probe a hung process keeps its slot forever and is never restarted.",
         "add a lenient livenessProbe (HTTP /healthz, or an exec heartbeat check for workers)", liveness),
    Rule("TN006", "liveness-lenient", "error",
         "An aggressive liveness probe restarts healthy-but-slow pods into a crash loop; liveness must "
         "be more patient than readiness, not check dependencies, and wait for a startup probe.",
         "add a startupProbe, give liveness failureThreshold x periodSeconds >= 30 s and >= readiness, and "
         "point it at /healthz, not /ready", liveness_lenient),
    Rule("TN007", "restricted-security-context", "error",
         "Containers running as root with a writable root filesystem and all capabilities turn any bug into "
         "a node compromise; Pod Security `restricted` rejects them anyway.",
         "set runAsNonRoot: true, allowPrivilegeEscalation: false, capabilities.drop: [ALL], "
         "seccompProfile.type: RuntimeDefault and readOnlyRootFilesystem: true (emptyDir for /tmp)",
         security_context),
    Rule("TN008", "host-access", "error",
         "hostPath, hostNetwork, hostPID/IPC and hostPort tie a pod to a node and open the node to it.",
         "use a PersistentVolumeClaim or emptyDir, and a Service instead of host ports", host_access),
    Rule("TN009", "no-plain-secret", "error",
         "A Secret in Git is a leaked credential: base64 is an encoding, not encryption.",
         "seal it: `./inv secrets.seal` writes a SealedSecret into overlays/<env>/sealed-secrets.yaml",
         plain_secret),
    Rule("TN010", "namespace", "error",
         "Objects in `default`, or without a namespace, land wherever the current kubectl context points and "
         "escape the environment's policies.",
         "set the overlay's `namespace:` (tasknote-<env>) or metadata.namespace", namespaced),
    Rule("TN011", "no-loadbalancer-only", "error",
         "A LoadBalancer Service as the only exposure needs a cloud load balancer per service and skips TLS "
         "and routing; kind and a single VPS have none.",
         "expose through the Ingress or Gateway API HTTPRoute component and keep the Service ClusterIP",
         loadbalancer_only),
    Rule("TN012", "database-statefulset", "error",
         "A database in a Deployment gets a new identity and possibly two writers on one volume during a "
         "rollout; it needs a StatefulSet with its own volume claim.",
         "run it as a StatefulSet with a headless Service and volumeClaimTemplates", database_statefulset),
    Rule("TN013", "namespace-pod-security", "error",
         "Without the Pod Security `restricted` label the API server admits privileged pods into the "
         "environment.",
         "label the Namespace pod-security.kubernetes.io/enforce: restricted", namespace_psa),
    Rule("TN014", "credentials-from-secrets", "error",
         "Credentials written as env literals or ConfigMap values end up in Git, logs and "
         "`kubectl describe`.",
         "take them from the sealed Secret tasknote-db with valueFrom.secretKeyRef", credential_literals),
    Rule("TN015", "config-from-configmap", "error",
         "Configuration hard-coded as env literals differs silently between workloads and environments; "
         "one ConfigMap per environment is the place for it.",
         "move it into the overlay's configMapGenerator and use envFrom.configMapRef", config_literals),
    Rule("TN016", "argocd-automated-sync", "error",
         "Without automated sync with prune and selfHeal, Git is no longer the source of truth: drift and "
         "deleted objects stay in the cluster.",
         "set spec.syncPolicy.automated: {prune: true, selfHeal: true}", argocd_automated),
    Rule("TN017", "argocd-pinned-revision", "error",
         "A platform chart or manifest that follows HEAD upgrades the platform whenever upstream pushes.",
         "pin spec.source.targetRevision to the version in versions.yaml platform.*", argocd_pinned_revision),
    Rule("TN018", "pdb-for-replicas", "error",
         "Several replicas without a PodDisruptionBudget can all be evicted at once by a node drain.",
         "add a PodDisruptionBudget (maxUnavailable: 1) selecting the pods", pdb_for_replicas),
    Rule("TN019", "hpa-cpu-request", "error",
         "An HPA on CPU utilisation divides by the CPU request; without one it cannot scale.",
         "set resources.requests.cpu on every container of the HPA's target", hpa_cpu_request),
    Rule("TN020", "service-account-token", "error",
         "A mounted API token lets anyone who breaks into the container talk to the Kubernetes API as "
         "its service account; the app never calls the API.",
         "set automountServiceAccountToken: false on the ServiceAccount or the pod spec (annotate the "
         "object with the reason if it really needs the API)", service_account_token),
    *INTEGRITY_RULES,  # objects that refer to each other agree (gitops.policy.integrity)
)
