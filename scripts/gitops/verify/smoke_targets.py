"""One smoke suite for every target: the compose stack, the kind or k3s cluster, or any context.

On a cluster the suite reaches svc/tasknote-api through the cluster port's port-forward, and
with summary_job it also runs the daily summary CronJob once, as `kubectl create job --from`
does: a Job built from the CronJob's jobTemplate, annotated cronjob.kubernetes.io/instantiate
=manual and owned by the CronJob (the same shape Argo CD's CronJob "create-job" action builds,
argoproj/argo-cd resource_customizations/batch/CronJob/actions/create-job/action.lua).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from gitops.cluster.port import ClusterPort, Port
from gitops.cluster.target import Target
from gitops.core import config
from gitops.core.errors import GitOpsError
from gitops.core.repo import Repo
from gitops.verify import smoke
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


def run_smoke(repo: Repo, target: Target | None, env: str = "dev", *, suite: Suite = smoke.run_suite,
              timeout_s: float = 180, progress: Callable[[str], None] = print, remote_port: int = 80,
              summary_job: bool = False, port: ClusterPort | None = None) -> Run:
    """Run the suite against the compose stack (target None) or a cluster target; on a cluster,
    with summary_job, also run the summary CronJob once and fail if it fails."""
    config.check_environment(env)
    if target is None:
        base_url = os.environ.get("TASKNOTE_COMPOSE_URL", COMPOSE_URL)
        progress(f"smoke: compose stack at {base_url}")
        return suite(base_url, timeout_s=timeout_s, progress=progress)
    cluster = port or Port(repo, target)
    namespace = f"tasknote-{env}"
    with cluster.port_forward(namespace, "tasknote-api", remote_port) as base_url:
        progress(f"smoke: {target.describe()}, svc/tasknote-api in {namespace} via {base_url}")
        report = suite(base_url, timeout_s=timeout_s, progress=progress)
    if summary_job:
        job = trigger_summary_job(cluster, namespace, progress=progress)
        progress(smoke.step_line(job))
        if not job.ok:
            raise GitOpsError(f"the summary CronJob's one-off run {job.step} did not complete: {job.detail}")
    return report


def describe_report(report: Run) -> str:
    """The report's steps, one line each, in the format the suite prints them as it runs."""
    return "\n".join(smoke.step_line(outcome) for outcome in report.outcomes)
