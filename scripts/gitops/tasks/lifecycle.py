"""Top-level tasks for a whole cluster's life: bootstrap, smoke, conformance."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gitops.core import config
from gitops.core.errors import GitOpsError
from gitops.tasks._task import task

# The domain modules (bootstrap, the smoke suite, the conformance pipeline) are imported inside
# each task: `./inv --list` and every other task should not pay for them.


@task(
    help={
        "cluster": f"which cluster tree to run: {' or '.join(config.CLUSTERS)} (default kind)",
        "context": "bootstrap this existing kubeconfig context instead of creating a cluster",
        "dry-run": "print each step with its done/todo state and change nothing",
        "key-backup": "a Sealed Secrets key backup to restore (without one, kind gets a fresh key)",
        "image": "a local image to load into the kind nodes (repeatable)",
        "fresh-key": "generate a new sealing key even on a k3s or existing cluster (throw-away only)",
        "timeout": "seconds to wait for every Application to be Synced and Healthy (default 900)",
    },
    iterable=["image"],
)
def bootstrap(c: Any, cluster: str = "kind", context: str = "", dry_run: bool = False,
              key_backup: str = "", image: list[str] | None = None, timeout: int = 900,
              fresh_key: bool = False) -> None:
    """From nothing to a reconciled cluster; safe to re-run, resumes where it stopped."""
    from gitops.cluster.target import resolve
    from gitops.lifecycle import bootstrap as bootstrapping

    target = resolve(cluster, context)
    options = bootstrapping.Options(
        key_backup=Path(key_backup).expanduser() if key_backup else None,
        wait_deadline_s=timeout,
        images=tuple(image or ()),
        allow_fresh_key=fresh_key,
    )
    print(bootstrapping.bootstrap(target, options, dry_run=dry_run))


@task(help={
    "target": "compose, kind, k3s or the name of a kubeconfig context (default kind)",
    "env": "environment whose svc/tasknote-api to test on a cluster (default dev)",
    "timeout": "seconds the suite may take (default 180)",
})
def smoke(c: Any, target: str = "kind", env: str = "dev", timeout: int = 180) -> None:
    """Run the smoke suite (health, ready, CRUD, upload + variants) against a target."""
    from gitops.verify.smoke_targets import report_ok, run_smoke

    # Each step is printed live as it finishes; the end is one line, not the steps again.
    report = run_smoke(target, env, timeout_s=timeout, summary_job=target != "compose")
    steps = list(getattr(report, "steps", []))
    print(f"smoke: {sum(s.ok for s in steps)} of {len(steps)} steps passed against {target}")
    if not report_ok(report):
        failed = [s.name for s in report.steps if not s.ok]
        raise GitOpsError(f"smoke suite failed against {target}: {', '.join(failed) or 'see above'}.")


@task(help={
    "cluster": "ephemeral cluster kind to run on (default kind)",
    "report-dir": "where to write junit.xml and report.md (default reports/conformance)",
    "keep": "keep the cluster after the run (for debugging)",
})
def conformance(c: Any, cluster: str = "kind", report_dir: str = "", keep: bool = False) -> None:
    """The nightly pipeline: validate, bootstrap, smoke, drift, scale, rollout, rollback; report."""
    from gitops.lifecycle import conformance as pipeline

    out = Path(report_dir) if report_dir else config.PATHS.reports / "conformance"
    result = pipeline.run_default(cluster, out, keep=keep)
    print(f"conformance report: {result.markdown_path} and {result.junit_path}")
    if not result.ok:
        raise GitOpsError(f"conformance failed at step {result.first_failure}; see {result.markdown_path}.")


TASKS: list[object] = [bootstrap, smoke, conformance]
