"""Top-level tasks for a whole cluster's life: bootstrap, smoke, conformance."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gitops.core.errors import GitOpsError
from gitops.tasks._targets import (
    CLUSTER_KIND_HELP,
    DEPRECATED_CLUSTER_HELP,
    DEPRECATED_CONTEXT_HELP,
    TARGET_HELP,
    choose,
)
from gitops.tasks._task import task

# The domain modules (bootstrap, the smoke suite, the conformance pipeline) are imported inside
# each task: `./inv --list` and every other task should not pay for them.


@task(
    help={
        "target": f"{TARGET_HELP} (default kind)",
        "cluster-kind": CLUSTER_KIND_HELP,
        "cluster": DEPRECATED_CLUSTER_HELP,
        "context": DEPRECATED_CONTEXT_HELP,
        "dry-run": "print each step with its done/todo state and change nothing",
        "key-backup": "a Sealed Secrets key backup to restore (without one, kind gets a fresh key)",
        "image": "a local image to load into the kind nodes (repeatable)",
        "fresh-key": "generate a new sealing key even on a k3s or existing cluster (throw-away only)",
        "timeout": "seconds to wait for every Application to be Synced and Healthy (default 900)",
        "source": "a Git URL Argo CD reads instead (your fork); default on kind: the local Git source "
                  "serving this checkout, elsewhere versions.yaml repository.url",
        "uncommitted": "kind's local source: also publish uncommitted changes (modified, deleted and new "
                       "files not ignored by .gitignore); your working tree, index and branches are never "
                       "touched",
    },
    iterable=["image"],
)
def bootstrap(c: Any, target: str = "", cluster_kind: str = "", cluster: str = "", context: str = "",
              dry_run: bool = False, key_backup: str = "", image: list[str] | None = None,
              timeout: int = 900, fresh_key: bool = False, source: str = "",
              uncommitted: bool = False) -> None:
    """From nothing to a reconciled cluster; safe to re-run, resumes where it stopped."""
    from gitops.core.repo import Repo
    from gitops.lifecycle import bootstrap as bootstrapping

    chosen = choose(target, cluster_kind, cluster=cluster, context=context, default="kind")
    if key_backup and not Path(key_backup).expanduser().is_file():
        # Checked before anything runs, dry run included: the restore is step 6 of 8.
        raise GitOpsError(f"--key-backup {key_backup} is not a file; pass the path of a Sealed Secrets key "
                          "backup, or leave it out.")
    options = bootstrapping.Options(
        key_backup=Path(key_backup).expanduser() if key_backup else None,
        wait_deadline_s=timeout,
        images=tuple(image or ()),
        allow_fresh_key=fresh_key,
        source=source,
        include_uncommitted=uncommitted,
    )
    print(bootstrapping.bootstrap(Repo.discover(), chosen, options, dry_run=dry_run))


@task(help={
    "target": f"compose or {TARGET_HELP} (default kind)",
    "cluster-kind": CLUSTER_KIND_HELP,
    "env": "environment whose svc/tasknote-api to test on a cluster (default: the cluster's first, "
           "dev on kind, staging on k3s)",
    "timeout": "seconds the suite may take (default 180)",
})
def smoke(c: Any, target: str = "kind", cluster_kind: str = "", env: str = "", timeout: int = 180) -> None:
    """Run the smoke suite (health, ready, CRUD, upload + variants) against a target."""
    from gitops.core.repo import Repo
    from gitops.verify.smoke_targets import run_smoke

    chosen = None if target == "compose" else choose(target, cluster_kind)
    # Each step is printed live as it finishes; the end is one line, not the steps again.
    report = run_smoke(Repo.discover(), chosen, env, timeout_s=timeout, summary_job=chosen is not None)
    passed = sum(o.ok for o in report.outcomes)
    print(f"smoke: {passed} of {len(report.outcomes)} steps passed against {target}")
    if not report.ok:
        failed = [o.step for o in report.outcomes if o.status == "failed"]
        raise GitOpsError(f"smoke suite failed against {target}: {', '.join(failed) or 'see above'}.")


@task(help={
    "target": "the ephemeral cluster to create and delete: kind (the only one)",
    "cluster": DEPRECATED_CLUSTER_HELP,
    "report-dir": "where to write junit.xml and report.md (default reports/conformance)",
    "keep": "keep its cluster, registry and Git server after the run (for the e2e tier, debugging)",
    "teardown": "only delete conformance's own cluster, registry and Git server (never `tasknote`)",
})
def conformance(c: Any, target: str = "", cluster: str = "", report_dir: str = "",
                keep: bool = False, teardown: bool = False) -> None:
    """The nightly pipeline on its own kind cluster: validate, bootstrap, smoke, drift, lab; report."""
    from gitops.core.repo import Repo
    from gitops.lifecycle import conformance as pipeline

    repo = Repo.discover()
    if teardown:
        print(f"conformance teardown: {pipeline.teardown(repo)}")
        return
    chosen = choose(target, cluster=cluster, default="kind")
    out = Path(report_dir) if report_dir else repo.reports / "conformance"
    result = pipeline.run_default(repo, chosen, out, keep=keep)
    print(f"conformance report: {result.written.markdown} and {result.written.junit}")
    if not result.ok:
        raise GitOpsError(f"conformance failed at step {result.run.first_failure}; "
                          f"see {result.written.markdown}.")


TASKS: list[object] = [bootstrap, smoke, conformance]
