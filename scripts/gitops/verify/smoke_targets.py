"""One smoke suite for every target: the compose stack, the kind or k3s cluster, or any context.

On a cluster the suite reaches svc/tasknote-api through the cluster port's port-forward, and
with summary_job it also runs the daily summary CronJob once, as `kubectl create job --from`
does: a Job built from the CronJob's jobTemplate, annotated cronjob.kubernetes.io/instantiate
=manual and owned by the CronJob (the same shape Argo CD's CronJob "create-job" action builds,
argoproj/argo-cd resource_customizations/batch/CronJob/actions/create-job/action.lua).
"""

from __future__ import annotations

import base64
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import yaml

from gitops.cluster.port import ClusterPort, Port
from gitops.cluster.target import Target
from gitops.core import config
from gitops.core.errors import GitOpsError
from gitops.core.repo import Repo
from gitops.verify import smoke, tls_chain
from gitops.verify.steps import Outcome, Run

Suite = Callable[..., Run]
COMPOSE_URL = "http://127.0.0.1:8000"
CRONJOB = "tasknote-summary"
Obj = dict[str, Any]


def job_from_cronjob(cronjob: Obj, job: str) -> Obj:
    """The Job `kubectl create job JOB --from=cronjob/NAME` creates."""
    template = cronjob["spec"]["jobTemplate"]
    meta = template.get("metadata") or {}
    owner = cronjob["metadata"]
    return {
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {
            "name": job, "namespace": cronjob["metadata"]["namespace"],
            "labels": dict(meta.get("labels") or {}),
            "annotations": {**(meta.get("annotations") or {}), "cronjob.kubernetes.io/instantiate": "manual"},
            "ownerReferences": [{"apiVersion": "batch/v1", "kind": "CronJob",
                                 "name": owner["name"], "uid": owner.get("uid", ""),
                                 "controller": True, "blockOwnerDeletion": True}],
        },
        "spec": template["spec"],
    }


def job_finished(job: Obj | None) -> tuple[bool, str]:
    """A Job is finished when its Complete or Failed condition is True (batch/v1 JobStatus)."""
    for condition in ((job or {}).get("status") or {}).get("conditions") or []:
        if condition.get("type") in ("Complete", "Failed") and condition.get("status") == "True":
            return True, str(condition["type"])
    return False, "running" if job else "not created yet"


def trigger_summary_job(port: ClusterPort, namespace: str, *, deadline_s: float = 180,
                        progress: Callable[[str], None] = print, now: Callable[[], float] = time.time
                        ) -> Outcome:
    """Run the daily summary once now; it is idempotent per day, so a smoke run may repeat it."""
    job = f"{CRONJOB}-smoke-{int(now())}"
    started = time.monotonic()
    cronjob = port.get("batch/v1", "CronJob", CRONJOB, namespace)
    if cronjob is None:
        return Outcome(f"summary job {job}", "failed", 0.0, f"no CronJob {namespace}/{CRONJOB}")
    port.apply([job_from_cronjob(cronjob, job)])
    try:
        state = port.wait(f"job {namespace}/{job} to finish",
                          lambda: job_finished(port.get("batch/v1", "Job", job, namespace)),
                          deadline_s=deadline_s, progress=progress)
    except GitOpsError as exc:
        return Outcome(f"summary job {job}", "failed", time.monotonic() - started, str(exc))
    ok = state == "Complete"
    return Outcome(f"summary job {job}", "passed" if ok else "failed", time.monotonic() - started,
                   "completed" if ok else f"the Job failed; see kubectl -n {namespace} logs job/{job}")


def cluster_environments(repo: Repo, cluster: str) -> list[str]:
    """What clusters/<cluster>/cluster.yaml says the cluster runs (kind: dev; k3s: staging, prod)."""
    data = yaml.safe_load((repo.cluster(cluster) / "cluster.yaml").read_text(encoding="utf-8"))
    return [str(e) for e in (data or {}).get("environments") or []]


def environment_for(repo: Repo, target: Target, env: str) -> str:
    """--env, or the first environment the target's cluster tree runs; one sentence when that
    cluster does not run the one asked for (k3s runs no dev)."""
    runs = cluster_environments(repo, target.cluster)
    chosen = config.check_environment(env or runs[0])
    if chosen not in runs:
        raise GitOpsError(f"the {target.cluster} cluster runs {' and '.join(runs)}, not {chosen}; "
                          f"pass --env {runs[0]}.")
    return chosen


def require_answering(base_url: str, timeout_s: float = 3) -> None:
    """One sentence when nothing listens at the compose stack's URL, instead of a 180 s wait."""
    try:
        with urllib.request.urlopen(f"{base_url}/healthz", timeout=timeout_s):  # noqa: S310 - loopback URL
            return
    except urllib.error.HTTPError:
        return  # something answers; the suite reports what is wrong with it
    except (urllib.error.URLError, OSError):
        raise GitOpsError(f"nothing answers at {base_url}; start the stack with ./inv stack.up "
                          "(or set TASKNOTE_COMPOSE_URL to where it runs).") from None


def ingress_tls(port: ClusterPort, namespace: str) -> tuple[str, str] | None:
    """(public host, TLS Secret) of the environment's Ingress, None when it serves no TLS."""
    ingress = port.get("networking.k8s.io/v1", "Ingress", "tasknote", namespace)
    for entry in ((ingress or {}).get("spec") or {}).get("tls") or []:
        if entry.get("hosts") and entry.get("secretName"):
            return str(entry["hosts"][0]), str(entry["secretName"])
    return None


def tls_step(port: ClusterPort, target: Target, namespace: str) -> Outcome | None:
    """The certificate chain as a client through the ingress sees it: on kind the host's port 443
    maps to the ingress controller (clusters/kind/kind-config.yaml) and the trust is the
    self-signed issuer's ca.crt from the TLS Secret (a public certificate); elsewhere the public
    host itself, trusted by the system roots (Let's Encrypt). None when the environment serves no TLS."""
    found = ingress_tls(port, namespace)
    if found is None:
        return None
    host, secret_name = found
    if target.cluster == "kind" and target.managed:
        secret = port.get("v1", "Secret", secret_name, namespace) or {}
        ca = ((secret.get("data") or {}).get("ca.crt")) or ""
        return tls_chain.check_chain("127.0.0.1", 443, host, base64.b64decode(ca).decode() if ca else None)
    return tls_chain.check_chain(host, 443, host)


def run_smoke(repo: Repo, target: Target | None, env: str = "", *, suite: Suite = smoke.run_suite,
              timeout_s: float = 180, progress: Callable[[str], None] = print, remote_port: int = 80,
              summary_job: bool = False, port: ClusterPort | None = None) -> Run:
    """Run the suite against the compose stack (target None) or a cluster target; on a cluster,
    with summary_job, also run the summary CronJob once and fail if it fails."""
    if target is None:
        config.check_environment(env or "dev")
        base_url = os.environ.get("TASKNOTE_COMPOSE_URL", COMPOSE_URL)
        require_answering(base_url)
        progress(f"smoke: compose stack at {base_url}")
        return suite(base_url, timeout_s=timeout_s, progress=progress)
    env = environment_for(repo, target, env)
    cluster = port or Port(repo, target)
    namespace = f"tasknote-{env}"
    with cluster.port_forward(namespace, "tasknote-api", remote_port) as base_url:
        progress(f"smoke: {target.describe()}, svc/tasknote-api in {namespace} via {base_url}")
        report = suite(base_url, timeout_s=timeout_s, progress=progress)
    tls = tls_step(cluster, target, namespace)
    if tls is not None:
        progress(smoke.step_line(tls))
        report.outcomes.append(tls)
    if summary_job:
        job = trigger_summary_job(cluster, namespace, progress=progress)
        progress(smoke.step_line(job))
        if not job.ok:
            raise GitOpsError(f"the summary CronJob's one-off run {job.step} did not complete: {job.detail}")
    return report


def describe_report(report: Run) -> str:
    """The report's steps, one line each, in the format the suite prints them as it runs."""
    return "\n".join(smoke.step_line(outcome) for outcome in report.outcomes)
