"""Integrity rules: objects of one target that point at each other must agree, or the API
server refuses them (HPA bounds, CronJob schedules) or they never become Healthy (a Service
that selects no pod, a probe on a port nobody declares, a LoadBalancer nothing serves).

Each check takes one rendered object and its target's context and yields (field path, message)
pairs; INTEGRITY_RULES is appended to gitops.manifests.policy.rules.RULES. Fixtures:
tests/manifests/fixtures/policy/<id>/{fail,pass}.yaml like every rule.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from gitops.manifests.objects import name_of, namespace_of
from gitops.manifests.policy.model import Context, Doc, Rule

Found = Iterator[tuple[str, str]]
PROBES = ("startupProbe", "readinessProbe", "livenessProbe")
SCALABLE = ("Deployment", "StatefulSet", "ReplicaSet")
POD_TEMPLATE_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod")


# ---- pod templates and selectors ----------------------------------------------------------------

def pod_template(doc: Doc) -> tuple[dict[str, Any], dict[str, Any], str] | None:
    """(labels, pod spec, pod spec path) of anything that makes pods, else None."""
    kind, spec = doc.get("kind"), doc.get("spec") or {}
    if kind == "Pod":
        return dict((doc.get("metadata") or {}).get("labels") or {}), spec, "spec"
    if kind == "CronJob":
        template = ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}
        path = "spec.jobTemplate.spec.template.spec"
    elif kind in POD_TEMPLATE_KINDS:
        template, path = spec.get("template") or {}, "spec.template.spec"
    else:
        return None
    return dict((template.get("metadata") or {}).get("labels") or {}), template.get("spec") or {}, path


def templates_in(ctx: Context, namespace: str) -> list[tuple[Doc, dict[str, Any], dict[str, Any]]]:
    """(workload, pod labels, pod spec) of every pod template in a namespace of the render."""
    found = []
    for doc in ctx.of_kind(*POD_TEMPLATE_KINDS):
        template = pod_template(doc)
        if template is not None and namespace_of(doc) == namespace:
            found.append((doc, template[0], template[1]))
    return found


def all_containers(pod_spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for key in ("initContainers", "containers") for c in pod_spec.get(key) or []
            if isinstance(c, dict)]


def declared_ports(pod_spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for c in all_containers(pod_spec) for p in c.get("ports") or [] if isinstance(p, dict)]


def label_selector_matches(selector: dict[str, Any], labels: dict[str, Any]) -> bool:
    """metav1.LabelSelector semantics: matchLabels and every matchExpression (In, NotIn, Exists,
    DoesNotExist); the empty selector matches everything."""
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression.get("key"), expression.get("operator")
        values = [str(v) for v in expression.get("values") or []]
        present = key in labels
        if operator == "In" and not (present and str(labels[key]) in values):
            return False
        if operator == "NotIn" and present and str(labels[key]) in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


def show(selector: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(selector.items())) or "{}"


def port_label(port: dict[str, Any]) -> str:
    number = str(port.get("containerPort"))
    return f"{number}/{port['name']}" if port.get("name") else number


# ---- HPA ---------------------------------------------------------------------------------------

def hpa_bounds(doc: Doc, ctx: Context) -> Found:
    if doc.get("kind") != "HorizontalPodAutoscaler":
        return
    spec = doc.get("spec") or {}
    low, high = spec.get("minReplicas", 1), spec.get("maxReplicas")
    if isinstance(low, int) and isinstance(high, int) and low > high:
        yield "spec.minReplicas", (f"minReplicas {low} is above maxReplicas {high}: the API server rejects "
                                   "the HPA and the sync fails")
    ref = spec.get("scaleTargetRef") or {}
    kind, name = str(ref.get("kind", "")), str(ref.get("name", ""))
    if not ctx.in_namespace(kind, namespace_of(doc), name):
        yield "spec.scaleTargetRef", (f"scales {kind}/{name}, which is not in namespace {namespace_of(doc)} "
                                      "of this render: the HPA never scales anything")


# ---- probes ------------------------------------------------------------------------------------

def probe_ports(doc: Doc, ctx: Context) -> Found:
    template = pod_template(doc)
    if template is None:
        return
    _, pod_spec, path = template
    for field in ("initContainers", "containers"):
        for i, container in enumerate(pod_spec.get(field) or []):
            ports = [p for p in container.get("ports") or [] if isinstance(p, dict)]
            numbers = {p.get("containerPort") for p in ports}
            names = {p.get("name") for p in ports if p.get("name")}
            declared = ", ".join(port_label(p) for p in ports) or "none"
            for probe in PROBES:
                handler = container.get(probe) or {}
                for action in ("httpGet", "tcpSocket", "grpc"):
                    port = (handler.get(action) or {}).get("port")
                    if port is None:
                        continue
                    where = f"{path}.{field}[{i}].{probe}.{action}.port"
                    who = f"container {container.get('name', '?')!r}"
                    if isinstance(port, int) and port not in numbers:
                        yield where, (f"{who} {probe} checks port {port}, which it does not declare "
                                      f"(ports: {declared})")
                    elif isinstance(port, str) and port not in names:
                        yield where, (f"{who} {probe} checks the named port {port!r}, which it does not "
                                      f"declare (ports: {declared}): the kubelet cannot resolve it")


# ---- Services and routes -----------------------------------------------------------------------

def service_targets(doc: Doc, ctx: Context) -> Found:
    if doc.get("kind") != "Service":
        return
    spec = doc.get("spec") or {}
    selector = spec.get("selector") or {}
    if spec.get("type") == "ExternalName" or not selector:
        return  # no selector: endpoints are managed by hand, nothing to match
    namespace = namespace_of(doc)
    selected = [t for t in templates_in(ctx, namespace) if all(t[1].get(k) == v for k, v in selector.items())]
    if not selected:
        yield "spec.selector", (f"selects no pod template in namespace {namespace} ({show(selector)}): "
                                "the Service has no endpoints")
        return
    for i, port in enumerate(spec.get("ports") or []):
        target = port.get("targetPort", port.get("port"))
        offered = [p for _, _, pod_spec in selected for p in declared_ports(pod_spec)]
        listed = ", ".join(map(port_label, offered)) or "none"
        where = f"spec.ports[{i}].targetPort"
        if isinstance(target, int) and not any(p.get("containerPort") == target for p in offered):
            yield where, f"targetPort {target} is not a containerPort of the pods it selects ({listed})"
        elif isinstance(target, str) and not any(p.get("name") == target for p in offered):
            yield where, f"targetPort {target!r} is not a port name of the pods it selects ({listed})"


def service_port(ctx: Context, namespace: str, name: str, number: Any = None, port_name: Any = None) -> str:
    """'' when Service namespace/name exists with that port, else what is wrong."""
    services = ctx.in_namespace("Service", namespace, name)
    if not services:
        return f"Service {namespace}/{name}, which is not in this render"
    ports = [p for p in (services[0].get("spec") or {}).get("ports") or [] if isinstance(p, dict)]
    if number is not None and not any(p.get("port") == number for p in ports):
        offered = ", ".join(str(p.get("port")) for p in ports) or "none"
        return f"port {number} of Service {namespace}/{name}, which has only {offered}"
    if port_name is not None and not any(p.get("name") == port_name for p in ports):
        return f"port {port_name!r} of Service {namespace}/{name}, which names no such port"
    return ""


def ingress_backends(doc: Doc) -> Iterator[tuple[str, dict[str, Any]]]:
    spec = doc.get("spec") or {}
    if isinstance(spec.get("defaultBackend"), dict):
        yield "spec.defaultBackend", spec["defaultBackend"]
    for i, rule in enumerate(spec.get("rules") or []):
        for j, path in enumerate((rule.get("http") or {}).get("paths") or []):
            if isinstance(path.get("backend"), dict):
                yield f"spec.rules[{i}].http.paths[{j}].backend", path["backend"]


def route_backends(doc: Doc, ctx: Context) -> Found:
    namespace = namespace_of(doc)
    if doc.get("kind") == "Ingress":
        for path, backend in ingress_backends(doc):
            service = backend.get("service")
            if not isinstance(service, dict):
                continue  # a resource backend, not a Service
            port = service.get("port") or {}
            problem = service_port(ctx, namespace, str(service.get("name")), port.get("number"),
                                   port.get("name"))
            if problem:
                yield f"{path}.service", f"routes to {problem}"
    elif doc.get("kind") == "HTTPRoute":
        for i, rule in enumerate((doc.get("spec") or {}).get("rules") or []):
            for j, ref in enumerate(rule.get("backendRefs") or []):
                if ref.get("group", "") != "" or ref.get("kind", "Service") != "Service":
                    continue
                problem = service_port(ctx, str(ref.get("namespace") or namespace), str(ref.get("name")),
                                       ref.get("port"))
                if problem:
                    yield f"spec.rules[{i}].backendRefs[{j}]", f"routes to {problem}"


def nodeport(doc: Doc, ctx: Context) -> Found:
    if doc.get("kind") == "Service" and (doc.get("spec") or {}).get("type") == "NodePort":
        yield "spec.type", "type NodePort opens a port on every node, outside the Ingress/Gateway and its TLS"


def loadbalancer_controller(doc: Doc, ctx: Context) -> Found:
    if doc.get("kind") != "Service" or (doc.get("spec") or {}).get("type") != "LoadBalancer":
        return
    for cluster in ctx.clusters:
        if cluster.no_load_balancer:
            yield "spec.type", (f"type LoadBalancer never gets an address on cluster {cluster.name} "
                                f"({cluster.no_load_balancer}); Argo CD keeps the Service Progressing, so "
                                "the Application never turns Healthy")


# ---- availability ------------------------------------------------------------------------------

def lowest_replicas(workload: Doc, ctx: Context) -> int:
    """What a workload may run at: its replicas, or its HPA's minReplicas when one scales it."""
    hpas = [h for h in ctx.in_namespace("HorizontalPodAutoscaler", namespace_of(workload))
            if ((h.get("spec") or {}).get("scaleTargetRef") or {}).get("name") == name_of(workload)
            and ((h.get("spec") or {}).get("scaleTargetRef") or {}).get("kind") == workload.get("kind")]
    if hpas:
        return int((hpas[0].get("spec") or {}).get("minReplicas", 1))
    return int((workload.get("spec") or {}).get("replicas", 1))


def pdb_allows_eviction(doc: Doc, ctx: Context) -> Found:
    if doc.get("kind") != "PodDisruptionBudget":
        return
    spec = doc.get("spec") or {}
    selector = spec.get("selector") or {}
    workloads = [w for w in ctx.of_kind(*SCALABLE) if namespace_of(w) == namespace_of(doc)
                 and label_selector_matches(selector, (pod_template(w) or ({}, {}, ""))[0])]
    minimum, unavailable = spec.get("minAvailable"), spec.get("maxUnavailable")
    if unavailable in (0, "0%"):
        yield "spec.maxUnavailable", "maxUnavailable 0 forbids every voluntary eviction: node drains hang"
    if minimum == "100%":
        yield "spec.minAvailable", "minAvailable 100% forbids every voluntary eviction: node drains hang"
    if not isinstance(minimum, int):
        return
    for workload in workloads:
        replicas = lowest_replicas(workload, ctx)
        if minimum >= replicas:
            who = f"{workload.get('kind')}/{name_of(workload)}"
            yield "spec.minAvailable", (f"minAvailable {minimum} is not below the {replicas} replicas {who} "
                                        "may run: no pod can ever be evicted and node drains hang")


def networkpolicy_selects(doc: Doc, ctx: Context) -> Found:
    if doc.get("kind") != "NetworkPolicy":
        return
    selector = (doc.get("spec") or {}).get("podSelector") or {}
    if not selector.get("matchLabels") and not selector.get("matchExpressions"):
        return  # the empty selector selects every pod of the namespace
    namespace = namespace_of(doc)
    if not any(label_selector_matches(selector, labels) for _, labels, _ in templates_in(ctx, namespace)):
        shown = show(selector.get("matchLabels") or {})
        yield "spec.podSelector", (f"selects no pod template in namespace {namespace} ({shown}): "
                                   "the policy protects nothing")


# ---- CronJob schedules (robfig/cron/v3 ParseStandard, which Kubernetes validates with) -----------

# robfig/cron spec.go: minutes 0-59, hours 0-23, dom 1-31, months 1-12 (jan-dec), dow 0-6 (sun-sat).
CRON_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, {m: i + 1 for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"))}),
    ("day of week", 0, 6, {d: i for i, d in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}),
)
CRON_DESCRIPTORS = frozenset({"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight",
                              "@hourly"})
GO_DURATION = re.compile(r"^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$")


def cron_value(text: str, low: int, high: int, names: dict[str, int], field: str) -> int:
    value = names.get(text.lower()) if not text.isdigit() else int(text)
    if value is None:
        raise ValueError(f"{field} {text!r} is not a number")
    if not low <= value <= high:
        raise ValueError(f"{field} {value} is outside {low}-{high}")
    return value


def cron_field(text: str, low: int, high: int, names: dict[str, int], field: str) -> None:
    for part in text.split(","):
        span, _, step = part.partition("/")
        if step and (not step.isdigit() or int(step) == 0):
            raise ValueError(f"{field} step {step!r} is not a positive number")
        if span in ("*", "?"):
            continue
        start, dash, end = span.partition("-")
        first = cron_value(start, low, high, names, field)
        if dash and cron_value(end, low, high, names, field) < first:
            raise ValueError(f"{field} range {span} runs backwards")


def schedule_problem(schedule: str) -> str:
    """'' for a schedule robfig/cron's ParseStandard accepts, else why not."""
    text = re.sub(r"^(CRON_)?TZ=\S+\s+", "", schedule.strip())
    if text.startswith("@"):
        word, _, rest = text.partition(" ")
        if word == "@every":
            duration = rest.strip()
            return "" if GO_DURATION.match(duration) else f"@every needs a Go duration, not {duration!r}"
        return "" if text in CRON_DESCRIPTORS else f"unknown descriptor {text!r}"
    fields = text.split()
    if len(fields) != len(CRON_FIELDS):
        return f"has {len(fields)} fields, not 5 (minute hour day-of-month month day-of-week)"
    try:
        for value, (field, low, high, names) in zip(fields, CRON_FIELDS, strict=True):
            cron_field(value, low, high, names, field)
    except ValueError as exc:
        return str(exc)
    return ""


def cronjob_schedule(doc: Doc, ctx: Context) -> Found:
    if doc.get("kind") != "CronJob":
        return
    schedule = str((doc.get("spec") or {}).get("schedule", ""))
    problem = schedule_problem(schedule)
    if problem:
        yield "spec.schedule", f"schedule {schedule!r} {problem}: the API server rejects the CronJob"


# ---- the table ---------------------------------------------------------------------------------

INTEGRITY_RULES: tuple[Rule, ...] = (
    Rule("TN021", "hpa-bounds-and-target", "error",
         "An HPA whose minReplicas is above maxReplicas is rejected by the API server, and one whose "
         "target is not deployed scales nothing; either way the sync fails or autoscaling silently stops.",
         "keep minReplicas <= maxReplicas and point scaleTargetRef at a kind/name this overlay deploys",
         hpa_bounds),
    Rule("TN022", "probe-port-declared", "error",
         "A probe on a port the container does not declare checks nothing the app serves: readiness never "
         "passes or liveness restarts the pod forever, and a named port that does not exist cannot resolve.",
         "probe a containerPort the container lists under ports (by number or by its name)", probe_ports),
    Rule("TN023", "service-selects-pods", "error",
         "A Service whose selector matches no pod template, or whose targetPort no selected pod declares, "
         "has no endpoints: every request through it fails.",
         "make spec.selector match the pod template labels in the same namespace and targetPort a "
         "containerPort (or port name) of those pods", service_targets),
    Rule("TN024", "route-backend-exists", "error",
         "An Ingress or HTTPRoute backend naming a Service or port that is not deployed answers 503 for "
         "that route.",
         "name a Service of this overlay and one of its ports (service.port, backendRefs.port)",
         route_backends),
    Rule("TN025", "no-nodeport", "error",
         "A NodePort Service opens a port on every node, bypassing the Ingress/Gateway, its TLS and its "
         "routing, and collides with other NodePorts.",
         "keep the Service ClusterIP behind the Ingress/HTTPRoute; if a NodePort is really needed, annotate "
         "it policy.tasknote.dev/skip-TN025: \"<reason>\"", nodeport),
    Rule("TN026", "loadbalancer-needs-controller", "error",
         "A LoadBalancer Service on a cluster without a load-balancer controller never gets an address; "
         "Argo CD reports it Progressing forever, so the environment never turns Healthy.",
         "expose through the Ingress/HTTPRoute and keep the Service ClusterIP (the cluster's config, e.g. "
         "clusters/k3s/config.yaml, says which controllers it runs)", loadbalancer_controller),
    Rule("TN027", "pdb-allows-eviction", "error",
         "A PodDisruptionBudget that requires every replica to stay (minAvailable >= replicas, 100%, or "
         "maxUnavailable 0) blocks every voluntary eviction: node drains and cluster upgrades hang.",
         "use maxUnavailable: 1, or a minAvailable below the replicas (the HPA's minReplicas when one scales "
         "the workload)", pdb_allows_eviction),
    Rule("TN028", "networkpolicy-selects", "error",
         "A NetworkPolicy whose podSelector matches no pod template protects nothing, usually after a label "
         "rename, and hides that the intended pods are open.",
         "make spec.podSelector match the labels of a pod template in the same namespace",
         networkpolicy_selects),
    Rule("TN029", "cronjob-schedule", "error",
         "The API server rejects a CronJob whose schedule is not a valid cron expression (5 fields in range, "
         "or a descriptor like @daily), so the sync fails.",
         "write minute hour day-of-month month day-of-week within their ranges (e.g. \"0 6 * * *\") or a "
         "descriptor (@hourly, @daily, @weekly, @monthly, @yearly, @every <duration>)", cronjob_schedule),
)
