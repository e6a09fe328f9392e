"""The nightly conformance pipeline: its steps, the lab's cluster operations, its report.

manifests.check -> ephemeral cluster -> bootstrap -> smoke -> drift -> the seed's lab steps
(scale to 6, set a new image digest, rollout status, rollout undo) -> teardown. The one step
engine (gitops.verify.steps) times every step; after the first failure the remaining steps are
recorded as skipped, diagnostics (Application status, events, pod logs) are gathered, and
teardown still runs. gitops.verify.reports writes the JUnit XML and Markdown report.

It runs on a kind set-up of its own (gitops.cluster.kind_sites.CONFORMANCE: cluster, registry
and Git server under their own names, no host ports), created and deleted here, so it never
reuses or deletes the developer's `tasknote` cluster.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitops.cluster import kind
from gitops.cluster.kind_sites import CONFORMANCE, KindSite, check_disposable
from gitops.cluster.port import ClusterPort, Port
from gitops.cluster.target import Target
from gitops.core import run
from gitops.core.errors import GitOpsError
from gitops.core.repo import Repo
from gitops.lifecycle import bootstrap as bootstrapping
from gitops.lifecycle.lab import Lab
from gitops.verify import reports
from gitops.verify.smoke_targets import describe_report, run_smoke
from gitops.verify.steps import Run, Runner, Step, numbered_lines

SUITE = "conformance"
TITLE = "TaskNote nightly conformance"


@dataclass(frozen=True)
class Result:
    run: Run
    written: reports.Written

    @property
    def ok(self) -> bool:
        return self.run.ok


def run_pipeline(steps: list[Step], *, teardown: Step | None = None,
                 diagnostics: Callable[[], str] = lambda: "", progress: Callable[[str], None] = print,
                 clock: Callable[[], float] | None = None) -> Run:
    """Every step in order, stopping at the first failure; diagnostics then; teardown always."""
    runner = Runner(progress=numbered_lines(lambda line: progress(f"conformance: {line}")))
    if clock is not None:
        runner.clock = clock
    return runner.run(steps, teardown=teardown, diagnostics=diagnostics)


def by_digest(repo: Repo, image: str, site: KindSite = CONFORMANCE) -> str:
    """A reference by digest: as given, or pushed to the site's registry first and named as the
    nodes pull it."""
    return image if "@sha256:" in image else kind.push_local(repo, image, site.push_host)


def site_target(site: KindSite) -> Target:
    """The kubeconfig context kind writes for the site's cluster; created and deleted here."""
    return Target("kind", site.context, None, managed=True)


def teardown(repo: Repo, site: KindSite = CONFORMANCE, *,
             delete_cluster: Callable[[str], bool] | None = None,
             delete_container: Callable[[str], bool] | None = None) -> str:
    """Delete the site's cluster, registry and Git server, and nothing else; says what went."""
    check_disposable(site)
    drop_cluster = delete_cluster or (lambda name: kind.delete(repo, name))
    drop_container = delete_container or (lambda name: kind.delete_container(repo, name))
    gone = [f"cluster {site.cluster}"] if drop_cluster(site.cluster) else []
    gone += [f"container {name}" for name in (site.registry_container, site.git_container)
             if drop_container(name)]
    return f"deleted {', '.join(gone)}" if gone else "nothing to delete"


def default_steps(repo: Repo, target: Target, *, new_image: str, progress: Callable[[str], None] = print,
                  port: ClusterPort | None = None, site: KindSite = CONFORMANCE
                  ) -> tuple[list[Step], Callable[[], str]]:
    the_port = bootstrapping.LazyPort(repo, target, port)
    labs: list[Lab] = []

    def the_lab() -> Lab:
        if not labs:
            labs.append(Lab(the_port(), progress=progress))
        return labs[0]

    def manifests_check() -> str:
        run.stream([sys.executable, "-m", "invoke", "manifests.check"], cwd=repo.root, timeout=900)
        return "every overlay renders, validates and passes policy"

    def create() -> str:
        return f"context {kind.create_site(repo, site)}"

    def bootstrap() -> str:
        # Images built by the nightly job are loaded into the nodes; everything else is pulled.
        images = tuple(os.environ.get("TASKNOTE_CONFORMANCE_LOAD", "").split())
        # A throw-away cluster: a fresh sealing key is fine (kept apart from the developer's).
        options = bootstrapping.Options(progress=progress, images=images, site=site, allow_fresh_key=True)
        return bootstrapping.bootstrap(repo, target, options, port=port).splitlines()[0]

    def smoke() -> str:
        report = run_smoke(repo, target, port=the_port(), progress=progress, summary_job=True)
        if not report.ok:
            raise GitOpsError("smoke suite failed:\n" + describe_report(report))
        return f"{len(report.outcomes)} smoke steps passed"

    state: dict[str, Any] = {}

    def pause() -> str:
        state["policies"] = the_lab().pause_auto_sync()
        return f"auto-sync paused on {', '.join(state['policies'])} for the hand-run lab steps"

    def set_image() -> str:
        if not new_image:
            raise GitOpsError("no second image given; set TASKNOTE_CONFORMANCE_IMAGE to a local image "
                              "or a reference by digest.")
        state["before"] = the_lab().image()[1]
        return the_lab().set_image(by_digest(repo, new_image, site))

    def resume() -> str:
        the_lab().resume_auto_sync(state.get("policies") or {})
        bootstrapping.wait_until_synced(the_port(), progress=progress)
        return "auto-sync back on; Git's state reconciled again"

    steps = [
        Step("manifests.check", manifests_check),
        Step("ephemeral cluster", create),
        Step("bootstrap", bootstrap),
        Step("smoke", smoke),
        Step("drift", lambda: the_lab().drift()),
        Step("lab: pause auto-sync", pause),
        Step("lab: scale to 6", lambda: the_lab().scale(6)),
        Step("lab: set image digest", set_image),
        Step("lab: rollout status", lambda: the_lab().rollout_status()),
        Step("lab: rollout undo", lambda: the_lab().undo(state["before"])),
        Step("lab: resume auto-sync", resume),
    ]
    return steps, lambda: the_lab().diagnostics()


def run_default(repo: Repo, target: Target, out_dir: Path, *, keep: bool = False,
                progress: Callable[[str], None] = print, site: KindSite = CONFORMANCE) -> Result:
    """`target` says which kind of cluster (only a kind it creates); which one is the site's own."""
    if not (target.managed and target.cluster == "kind"):
        raise GitOpsError("conformance runs on an ephemeral kind cluster it creates; use --target kind.")
    own = site_target(check_disposable(site))
    new_image = os.environ.get("TASKNOTE_CONFORMANCE_IMAGE", "")
    steps, diagnostics = default_steps(repo, own, new_image=new_image, progress=progress, site=site)
    final = None if keep else Step("teardown", lambda: teardown(repo, site))
    result = run_pipeline(steps, teardown=final, diagnostics=diagnostics, progress=progress)
    return Result(result, reports.write_reports(result, out_dir, suite=SUITE, title=TITLE))


__all__ = ["Lab", "Port", "Result", "by_digest", "default_steps", "run_default", "run_pipeline",
           "site_target", "teardown"]
