"""One smoke suite for every target: the compose stack, the kind cluster or any context."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from gitops.cluster import portforward
from gitops.cluster.target import Target, resolve
from gitops.core import config, run, tools
from gitops.core.errors import GitOpsError

if TYPE_CHECKING:  # gitops.verify.smoke imports requests: loaded when a smoke run needs it, not before
    from gitops.verify.smoke import Step

Suite = Callable[..., Any]
COMPOSE_URL = "http://127.0.0.1:8000"


def default_suite() -> Suite:
    from gitops.verify import smoke

    suite: Suite = smoke.run_suite
    return suite


def summary_job_argv(kubectl: str, target: Target, namespace: str, job: str,
                     cronjob: str = "tasknote-summary") -> list[list[str]]:
    """Create a Job from the CronJob's template (what `kubectl create job --from` does) and wait."""
    base = [kubectl, *target.kubectl_args(), "-n", namespace]
    return [[*base, "create", "job", job, f"--from=cronjob/{cronjob}"],
            [*base, "wait", "--for=condition=complete", f"job/{job}", "--timeout=180s"]]


def trigger_summary_job(target: Target, namespace: str) -> Step:
    """Run the daily summary once now; it is idempotent per day, so a smoke run may repeat it."""
    from gitops.verify.smoke import Step

    kubectl = str(tools.require("kubectl"))
    job = f"tasknote-summary-smoke-{int(time.time())}"
    started = time.monotonic()
    create, wait_for = summary_job_argv(kubectl, target, namespace, job)
    run.run(create, timeout=60)
    result = run.run(wait_for, check=False, timeout=200)
    ok = result.returncode == 0
    detail = "completed" if ok else run.tail(result.stderr or result.stdout, 3)
    return Step(f"summary job {job}", ok, time.monotonic() - started, detail)


def run_smoke(target: str, env: str = "dev", *, suite: Suite | None = None, timeout_s: float = 180,
              progress: Callable[[str], None] = print, remote_port: int = 80,
              summary_job: bool = False) -> Any:
    """Run the suite against `compose`, `kind`, `k3s` or the name of a kubeconfig context;
    on a cluster, with summary_job, also run the summary CronJob once and fail if it fails."""
    config.check_environment(env)
    run_suite = suite or default_suite()
    if target == "compose":
        base_url = os.environ.get("TASKNOTE_COMPOSE_URL", COMPOSE_URL)
        progress(f"smoke: compose stack at {base_url}")
        return run_suite(base_url, timeout_s=timeout_s, progress=progress)
    cluster = resolve(target) if target in config.CLUSTERS else resolve("kind", context=target)
    namespace = f"tasknote-{env}"
    with portforward.service_url(cluster, namespace, remote_port=remote_port) as base_url:
        progress(f"smoke: {cluster.describe()}, svc/tasknote-api in {namespace} via {base_url}")
        report = run_suite(base_url, timeout_s=timeout_s, progress=progress)
    if summary_job:
        job = trigger_summary_job(cluster, namespace)
        from gitops.verify.smoke import step_line

        progress(step_line(job))
        if not job.ok:
            raise GitOpsError(f"the summary CronJob's one-off run {job.name} did not complete: {job.detail}")
    return report


def report_ok(report: Any) -> bool:
    return bool(getattr(report, "ok", False))


def describe_report(report: Any) -> str:
    """The report's steps, one line each, in the format the suite prints them as it runs."""
    from gitops.verify.smoke import step_line

    return "\n".join(step_line(step) for step in getattr(report, "steps", []))
