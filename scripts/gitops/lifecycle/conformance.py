"""The nightly conformance pipeline and its JUnit XML + Markdown report.

manifests.check -> ephemeral cluster -> bootstrap -> smoke -> drift -> the seed's lab steps
(scale to 6, set a new image digest, rollout status, rollout undo) -> teardown. Every step is
timed; after the first failure the remaining steps are recorded as skipped, diagnostics
(Application status, events, pod logs) are gathered, and teardown still runs.
"""

from __future__ import annotations

import json
import os
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitops.cluster.target import Target
from gitops.core import config, run, tools
from gitops.core.errors import GitOpsError
from gitops.core.files import atomic_write
from gitops.verify.reconcile import app_status

StepFn = Callable[[], str | None]


@dataclass(frozen=True)
class StepResult:
    name: str
    status: str  # passed | failed | skipped
    seconds: float
    detail: str = ""


@dataclass
class Report:
    steps: list[StepResult] = field(default_factory=list)
    diagnostics: str = ""
    junit_path: Path | None = None
    markdown_path: Path | None = None

    @property
    def ok(self) -> bool:
        return all(s.status == "passed" for s in self.steps)

    @property
    def first_failure(self) -> str:
        return next((s.name for s in self.steps if s.status == "failed"), "")


def run_pipeline(steps: Sequence[tuple[str, StepFn]], *, teardown: tuple[str, StepFn] | None = None,
                 diagnostics: Callable[[], str] = lambda: "", progress: Callable[[str], None] = print,
                 clock: Callable[[], float] = time.monotonic) -> Report:
    report = Report()

    def attempt(name: str, fn: StepFn) -> bool:
        started = clock()
        progress(f"conformance: {name} ...")
        try:
            detail = fn() or ""
        except Exception as exc:  # any failure is a failed step in the report
            message = str(exc) if isinstance(exc, GitOpsError) else f"{type(exc).__name__}: {exc}"
            report.steps.append(StepResult(name, "failed", clock() - started, message))
            progress(f"conformance: {name} FAILED: {message}")
            return False
        report.steps.append(StepResult(name, "passed", clock() - started, detail))
        progress(f"conformance: {name} passed in {clock() - started:.0f} s")
        return True

    failed = False
    for name, fn in steps:
        if failed:
            report.steps.append(StepResult(name, "skipped", 0.0, "an earlier step failed"))
            continue
        failed = not attempt(name, fn)
    if failed:
        try:
            report.diagnostics = diagnostics()
        except Exception as exc:  # diagnostics must never hide the failure
            report.diagnostics = f"(gathering diagnostics failed: {exc})"
    if teardown is not None:
        attempt(*teardown)
    return report


def junit_xml(report: Report, suite: str = "conformance") -> str:
    failures = sum(s.status == "failed" for s in report.steps)
    skipped = sum(s.status == "skipped" for s in report.steps)
    root = ET.Element("testsuite", name=suite, tests=str(len(report.steps)), failures=str(failures),
                      errors="0", skipped=str(skipped), time=f"{sum(s.seconds for s in report.steps):.3f}")
    for step in report.steps:
        case = ET.SubElement(root, "testcase", classname=suite, name=step.name, time=f"{step.seconds:.3f}")
        if step.status == "failed":
            ET.SubElement(case, "failure", message=step.detail[:500]).text = step.detail
        elif step.status == "skipped":
            ET.SubElement(case, "skipped", message=step.detail)
        elif step.detail:
            ET.SubElement(case, "system-out").text = step.detail
    if report.diagnostics:
        ET.SubElement(root, "system-err").text = report.diagnostics
    return ET.tostring(root, encoding="unicode", xml_declaration=True)


def markdown(report: Report, title: str = "TaskNote nightly conformance") -> str:
    verdict = "passed" if report.ok else f"FAILED at {report.first_failure}"
    total = sum(s.seconds for s in report.steps)
    lines = [f"# {title}: {verdict}", "", f"Total time: {total:.0f} s", "",
             "| step | result | time | detail |", "| --- | --- | ---: | --- |"]
    for s in report.steps:
        detail = " ".join(s.detail.split()).replace("|", "\\|")
        lines.append(f"| {s.name} | {s.status} | {s.seconds:.1f} s | {detail} |")
    if report.diagnostics:
        lines += ["", "## Diagnostics", "", "```", report.diagnostics.rstrip(), "```"]
    return "\n".join(lines) + "\n"


def write_reports(report: Report, out_dir: Path) -> Report:
    out_dir.mkdir(parents=True, exist_ok=True)
    report.junit_path = out_dir / "junit.xml"
    report.markdown_path = out_dir / "report.md"
    atomic_write(report.junit_path, junit_xml(report).encode())
    atomic_write(report.markdown_path, markdown(report).encode())
    return report


# --- the real steps, against a cluster -----------------------------------------------------


class Lab:
    """kubectl and API operations of the drift and lab steps on one environment's API Deployment."""

    def __init__(self, target: Target, env: str = "dev", deployment: str = "tasknote-api",
                 api: Any = None) -> None:
        from gitops.cluster.api import Api

        self.target, self.namespace, self.deployment = target, f"tasknote-{env}", deployment
        self.api = api or Api(target)

    def kubectl(self, *args: str, timeout: float = 300, check: bool = True) -> run.Result:
        kubectl = tools.require("kubectl")
        return run.run([str(kubectl), *self.target.kubectl_args(), *args], timeout=timeout, check=check)

    def current(self) -> dict[str, Any]:
        obj = self.api.deployment(self.deployment, self.namespace)
        if obj is None:
            raise GitOpsError(f"deployment {self.namespace}/{self.deployment} does not exist; "
                              "check the overlay and the Application.")
        return obj

    def replicas(self) -> int:
        return int(self.current()["spec"].get("replicas", 1))

    def applications_in_charge(self) -> list[dict[str, Any]]:
        """The Application deploying to our namespace and every app-of-apps that manages it:
        pausing only the child would be undone at once by its parent's self-heal."""
        apps = self.api.applications()
        chain = [a for a in apps
                 if ((a.get("spec") or {}).get("destination") or {}).get("namespace") == self.namespace]
        if not chain:
            raise GitOpsError(f"no Argo CD Application deploys to {self.namespace}; check argocd/.")
        names = {str(chain[0]["metadata"]["name"])}
        grew = True
        while grew:
            parents = [a for a in apps if a not in chain and names & set(app_status(a).children)]
            chain += parents
            names |= {str(a["metadata"]["name"]) for a in parents}
            grew = bool(parents)
        return chain

    def poll(self, what: str, ok: Callable[[], bool], deadline_s: float = 300) -> float:
        started = time.monotonic()
        while not ok():
            if time.monotonic() - started > deadline_s:
                raise GitOpsError(f"{what} did not happen within {deadline_s:g} s.")
            time.sleep(3)
        return time.monotonic() - started

    def drift(self) -> str:
        want = self.replicas()
        self.kubectl("scale", "-n", self.namespace, f"deployment/{self.deployment}", f"--replicas={want + 2}")
        took = self.poll(f"Argo CD restoring {self.deployment} to {want} replicas",
                         lambda: self.replicas() == want)
        return f"replicas {want} -> {want + 2} by hand -> {want} again by Argo CD in {took:.0f} s"

    def pause_auto_sync(self) -> dict[str, Any]:
        """Self-heal would undo the lab's hand edits at once, so the lab runs with it paused;
        returns each Application's automated policy as Git had it, for resume_auto_sync."""
        saved: dict[str, Any] = {}
        for app in self.applications_in_charge():
            name = str(app["metadata"]["name"])
            saved[name] = ((app.get("spec") or {}).get("syncPolicy") or {}).get("automated")
        # Parents first, so none of them re-applies a child's policy between the patches.
        for name in reversed(list(saved)):
            self._patch_automated(name, None)
        return saved

    def resume_auto_sync(self, saved: dict[str, Any]) -> None:
        for name, automated in saved.items():
            self._patch_automated(name, automated)

    def _patch_automated(self, app: str, automated: Any) -> None:
        self.kubectl("patch", "-n", "argocd", f"application/{app}", "--type=merge",
                     "-p", json.dumps({"spec": {"syncPolicy": {"automated": automated}}}))

    def rollout_status(self, timeout_s: int = 300) -> str:
        self.kubectl("rollout", "status", "-n", self.namespace, f"deployment/{self.deployment}",
                     f"--timeout={timeout_s}s", timeout=timeout_s + 20)
        return "rolled out"

    def scale(self, replicas: int) -> str:
        self.kubectl("scale", "-n", self.namespace, f"deployment/{self.deployment}", f"--replicas={replicas}")
        self.rollout_status()
        return f"{replicas} replicas ready"

    def image(self) -> tuple[str, str]:
        container = self.current()["spec"]["template"]["spec"]["containers"][0]
        return str(container["name"]), str(container["image"])

    def set_image(self, image: str) -> str:
        name, before = self.image()
        self.kubectl("set", "image", "-n", self.namespace, f"deployment/{self.deployment}", f"{name}={image}")
        return f"{before} -> {image}"

    def undo(self, expected_image: str) -> str:
        self.kubectl("rollout", "undo", "-n", self.namespace, f"deployment/{self.deployment}")
        self.rollout_status()
        _, now = self.image()
        if now != expected_image:
            raise GitOpsError(f"rollout undo left image {now}, not {expected_image}.")
        return f"back on {now}"

    def diagnostics(self) -> str:
        parts = []
        for app in self.api.applications():
            seen = app_status(app)
            parts.append(f"Application {seen.name}: {seen.sync}/{seen.health} {seen.message}")
        for ns in ("argocd", self.namespace):
            events = self.kubectl("get", "events", "-n", ns, "--sort-by=.lastTimestamp", check=False)
            parts.append(f"--- events in {ns}\n{run.tail(events.stdout, 40)}")
        for pod in self.api.pods(self.namespace):
            name = pod["metadata"]["name"]
            logs = self.kubectl("logs", "-n", self.namespace, name, "--all-containers", "--tail=40",
                                check=False)
            parts.append(f"--- logs of {self.namespace}/{name}\n{run.tail(logs.stdout + logs.stderr, 40)}")
        return "\n".join(parts)


def by_digest(image: str) -> str:
    """A reference by digest: as given, or pushed to the kind cluster's local registry first."""
    if "@sha256:" in image:
        return image
    from gitops.cluster import kind

    return kind.push_local(image)


def default_steps(target: Target, *, new_image: str, progress: Callable[[str], None] = print
                  ) -> tuple[list[tuple[str, StepFn]], Callable[[], str]]:
    from gitops.cluster import kind
    from gitops.lifecycle import bootstrap as bootstrapping
    from gitops.verify.smoke_targets import describe_report, report_ok, run_smoke

    lab: list[Lab] = []

    def the_lab() -> Lab:
        if not lab:
            lab.append(Lab(target))
        return lab[0]

    def manifests_check() -> str:
        run.stream([sys.executable, "-m", "invoke", "manifests.check"], cwd=config.ROOT, timeout=900)
        return "every overlay renders, validates and passes policy"

    def create() -> str:
        return f"context {kind.create()}"

    def bootstrap() -> str:
        # Images built by the nightly job are loaded into the nodes; everything else is pulled.
        images = tuple(os.environ.get("TASKNOTE_CONFORMANCE_LOAD", "").split())
        options = bootstrapping.Options(progress=progress, images=images)
        return bootstrapping.bootstrap(target, options).splitlines()[0]

    def smoke() -> str:
        report = run_smoke(target.cluster, progress=progress, summary_job=True)
        if not report_ok(report):
            raise GitOpsError("smoke suite failed:\n" + describe_report(report))
        return f"{len(report.steps)} smoke steps passed"

    def lab_steps() -> list[tuple[str, StepFn]]:
        state: dict[str, Any] = {}

        def pause() -> str:
            state["policies"] = the_lab().pause_auto_sync()
            return f"auto-sync paused on {', '.join(state['policies'])} for the hand-run lab steps"

        def set_image() -> str:
            if not new_image:
                raise GitOpsError("no second image given; set TASKNOTE_CONFORMANCE_IMAGE to a local image "
                                  "or a reference by digest.")
            state["before"] = the_lab().image()[1]
            return the_lab().set_image(by_digest(new_image))

        def resume() -> str:
            the_lab().resume_auto_sync(state.get("policies") or {})
            bootstrapping.wait_until_synced(target, progress=progress)
            return "auto-sync back on; Git's state reconciled again"

        return [
            ("lab: pause auto-sync", pause),
            ("lab: scale to 6", lambda: the_lab().scale(6)),
            ("lab: set image digest", set_image),
            ("lab: rollout status", lambda: the_lab().rollout_status()),
            ("lab: rollout undo", lambda: the_lab().undo(state["before"])),
            ("lab: resume auto-sync", resume),
        ]

    steps: list[tuple[str, StepFn]] = [
        ("manifests.check", manifests_check),
        ("ephemeral cluster", create),
        ("bootstrap", bootstrap),
        ("smoke", smoke),
        ("drift", lambda: the_lab().drift()),
        *lab_steps(),
    ]
    return steps, lambda: the_lab().diagnostics()


def run_default(cluster: str, out_dir: Path, *, keep: bool = False,
                progress: Callable[[str], None] = print) -> Report:
    from gitops.cluster import kind
    from gitops.cluster.target import resolve

    if cluster != "kind":
        raise GitOpsError("conformance runs on an ephemeral kind cluster; use --cluster kind.")
    target = resolve("kind")
    steps, diagnostics = default_steps(target, new_image=os.environ.get("TASKNOTE_CONFORMANCE_IMAGE", ""),
                                       progress=progress)
    def teardown_fn() -> str:
        deleted = kind.delete()
        kind.delete_registry()
        return "cluster and registry deleted" if deleted else "nothing to delete"

    teardown = None if keep else ("teardown", teardown_fn)
    report = run_pipeline(steps, teardown=teardown, diagnostics=diagnostics, progress=progress)
    return write_reports(report, out_dir)
