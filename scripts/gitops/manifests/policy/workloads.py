"""Rules on what runs: images pinned by digest, requests and limits, probes, pod security.

Each check takes one rendered object and its target's context and yields (field path,
message) pairs. Fixtures: tests/manifests/fixtures/policy/<id>/{fail,pass}.yaml.
"""

from __future__ import annotations

from typing import Any

from gitops.core import imageref
from gitops.manifests.policy.model import Check, Context, Doc
from gitops.manifests.policy.walkers import LONG_RUNNING, Found, containers, label, pod_spec

LIVENESS_MIN_TOLERANCE_S = 30  # failureThreshold x periodSeconds before a restart


LIVENESS_MIN_DELAY_S = 10  # without a startupProbe, wait at least this long before probing


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

