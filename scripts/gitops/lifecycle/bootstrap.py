"""`invoke bootstrap`: ordered, idempotent steps from nothing to a reconciled cluster.

Each step has a check that observes the cluster (not a local state file) and a do. The one
step engine (gitops.verify.steps) checks every step in order and does only what is not done,
so a second run after success is a quick no-op and a run after a failure resumes at the failed
step. `plan()` only checks: a check that cannot run (no kind, no cluster yet) is `todo` with why.
All cluster reads and writes go through the cluster port (gitops.cluster.port).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gitops.cluster import argocd_manifest, argocd_settings, gitserver, kind, kubeconfig
from gitops.cluster.kind_sites import DEVELOPER, KindSite
from gitops.cluster.port import ClusterPort, Port
from gitops.cluster.target import Target
from gitops.core import config, imageref, tools
from gitops.core.errors import GitOpsError
from gitops.core.repo import Repo
from gitops.lifecycle import localsource
from gitops.secrets import keys
from gitops.verify.reconcile import deployment_status, observe_cluster, rollout_done, wait_until_ready
from gitops.verify.steps import STILL_NOT_DONE, Run, Runner, Step, format_plan, numbered_lines, plan

ARGOCD_NAMESPACE = "argocd"
SEALING_KEY_LABEL = "sealedsecrets.bitnami.com/sealed-secrets-key"
ARGO_API = "argoproj.io/v1alpha1"
CRD_API = "apiextensions.k8s.io/v1"

__all__ = ["Step", "execute", "format_plan", "plan"]


def execute(steps: Sequence[Step], progress: Callable[[str], None] = print,
            clock: Callable[[], float] = time.monotonic) -> Run:
    """Run the steps in order, doing only those whose check says not done; the first failure
    is one sentence naming the step, and a re-run resumes there (every check reads the cluster)."""
    run = Runner(progress=numbered_lines(progress), clock=clock, catch=(GitOpsError,)).run(steps)
    failed = run.failed
    if failed is None:
        return run
    number, step = next((n, s) for n, s in enumerate(steps, 1) if s.name == failed.step)
    detail = failed.detail.rstrip(".")
    if detail.startswith(STILL_NOT_DONE):
        raise GitOpsError(f"step {number} ({step.name}) {detail}; re-run ./inv bootstrap to retry it.")
    if not step.resumable:
        raise GitOpsError(failed.detail)
    raise GitOpsError(f"bootstrap stopped at step {number} ({step.name}): {detail}; "
                      "fix that and re-run ./inv bootstrap, which resumes at this step.")


# --- prerequisites -------------------------------------------------------------------------


def prerequisites(repo: Repo, target: Target) -> list[Callable[[], object]]:
    """What this target needs installed and pinned, cheapest first; each raises one sentence when
    missing.
    kubectl is for the port-forward (smoke, how_to_reach); the API itself is the client's.
    kind is not among them: the `tools` step downloads it (versions.yaml pins it per platform)."""
    checks: list[Callable[[], object]] = []
    if target.managed and target.cluster == "kind":
        checks.append(lambda: tools.docker_engine(repo))
    checks.append(lambda: tools.require("kubectl", repo))
    # Argo CD is installed from its manifest only when its sha256 is recorded: say so before a
    # cluster is created, not at the argocd step.
    checks.append(lambda: argocd_manifest.pin_of(repo.versions))
    return checks


def downloaded_tools(target: Target) -> tuple[str, ...]:
    """The pinned CLIs this target needs that the automation fetches itself."""
    return ("kind",) if target.managed and target.cluster == "kind" else ()


def check_prerequisites(repo: Repo, target: Target) -> bool:
    for probe in prerequisites(repo, target):
        probe()
    return True


# --- Argo CD and the root application -----------------------------------------------------


def root_manifest(repo: Repo, cluster: str) -> Path:
    return repo.argocd / "clusters" / config.check_cluster(cluster) / "root.yaml"


def manifest_docs(repo: Repo, path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise GitOpsError(f"{path.relative_to(repo.root)} is missing; the manifests of this "
                          "cluster must exist in Git before bootstrap can apply them.")
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if isinstance(d, dict)]


def root_application_name(repo: Repo, cluster: str) -> str:
    for doc in manifest_docs(repo, root_manifest(repo, cluster)):
        if doc.get("kind") == "Application":
            return str(doc["metadata"]["name"])
    raise GitOpsError(f"{root_manifest(repo, cluster).relative_to(repo.root)} holds no Application; fix it.")


# --- the sealing key ------------------------------------------------------------------------

RESEAL_NOTICE = (
    "A fresh Sealed Secrets key was generated for this cluster and backed up to {backup} (mode "
    "0600, outside the repository); the next bootstrap of a {cluster} cluster restores it from "
    "there. The SealedSecrets committed for dev were sealed for another key, and Argo CD deploys "
    "what is in Git, so until you re-seal them the dev Secrets cannot be decrypted: write this "
    "cluster's certificate into the repository with ./inv secrets.fetch-cert --target {cluster} "
    "--replace, re-seal each dev secret with ./inv secrets.seal, then commit and push."
)


LOCAL_KEY_NOTICE = (
    "A fresh Sealed Secrets key was generated for this cluster and backed up to {backup} (mode "
    "0600, outside the repository); the next bootstrap of a {cluster} cluster restores it from "
    "there. The local Git source serves the dev SealedSecrets sealed to it: nothing to commit."
)


def sealed_secrets_namespace(repo: Repo) -> str:
    return keys.controller_namespace(repo)


@dataclass
class Options:
    key_backup: Path | None = None
    wait_deadline_s: float = 900
    images: tuple[str, ...] = ()
    # Default: gitops.secrets.keys.restore_key into the controller's namespace.
    restore_key: Callable[[Path], list[dict[str, Any]]] | None = None
    fresh_key: Callable[[], dict[str, Any]] | None = None
    # Throw-away clusters other than our own kind one (an e2e k3s container) may get a new key.
    allow_fresh_key: bool = False
    progress: Callable[[str], None] = print
    # The Git URL Argo CD reads ("": the local Git source on the kind cluster bootstrap manages,
    # versions.yaml repository.url elsewhere) and whether publishing includes uncommitted changes.
    source: str = ""
    include_uncommitted: bool = False
    # Which kind cluster, registry and Git server a local kind run owns: the developer's by
    # default; conformance passes its own (gitops.cluster.kind_sites).
    site: KindSite = DEVELOPER
    # The site's local loop (Git server, push and pull names) when it is not the site's own
    # (a test's server and registry); None: localsource.loop_for(site).
    loop: localsource.Loop | None = None


class LazyPort:
    """The cluster port, made on first use: before the cluster step there is nothing to talk to."""

    def __init__(self, repo: Repo, target: Target, port: ClusterPort | None = None) -> None:
        self.repo, self.target, self._port = repo, target, port

    def __call__(self) -> ClusterPort:
        if self._port is None:
            self._port = Port(self.repo, self.target)
        return self._port


def wait_for_rollout(port: ClusterPort, kind_name: str, name: str, namespace: str, *,
                     deadline_s: float, progress: Callable[[str], None]) -> str:
    api_version = "apps/v1"
    progress(f"   waiting for {kind_name.lower()}/{name} (up to {deadline_s:g} s)")
    return port.wait(f"{kind_name} {namespace}/{name} to roll out",
                     lambda: rollout_done(port.get(api_version, kind_name, name, namespace)),
                     deadline_s=deadline_s, progress=progress)


def build_steps(repo: Repo, target: Target, options: Options, port: ClusterPort | None = None) -> list[Step]:
    the_port = LazyPort(repo, target, port)
    say = options.progress
    site = options.site
    local_kind = target.managed and target.cluster == "kind"
    loop = options.loop or localsource.loop_for(site)
    server = loop.server
    source = localsource.choose(repo, options.source, local_url=server.url if local_kind else "")

    def prerequisites_do() -> None:
        check_prerequisites(repo, target)

    def tools_done() -> bool:
        # fetch=False: a check (and so --dry-run) never downloads; it says it would.
        return all(tools.require(name, repo, fetch=False) for name in downloaded_tools(target))

    def tools_do() -> None:
        for name in downloaded_tools(target):
            tools.require(name, repo)

    def cluster_done() -> bool:
        if local_kind and not kind.exists(repo, site.cluster):
            raise GitOpsError(f"no kind cluster named {site.cluster} yet")
        kubeconfig.require_reachable(repo, target)
        return True

    def cluster_do() -> None:
        if local_kind:
            kind.create_site(repo, site)
            # A restarted node container needs a few seconds before its API server answers.
            deadline = time.monotonic() + 90
            while not kubeconfig.reachable(repo, target) and time.monotonic() < deadline:
                time.sleep(3)
        elif target.managed:
            raise GitOpsError("the k3s cluster is not reachable; install or adopt it first with "
                              "./inv cluster.create --target k3s --host USER@HOST.")
        else:
            kubeconfig.require_reachable(repo, target)

    def registry_done() -> bool:
        return not local_kind or kind.registry_ready(repo, site.cluster, container=site.registry_container)

    def registry_do() -> None:
        kind.ensure_registry(repo, site.cluster, container=site.registry_container, port=site.registry_port)
        the_port().apply([kind.registry_configmap()])

    def images_done() -> bool:
        if not options.images or not local_kind:
            return True
        # containerd lists `tasknote:dev` as docker.io/library/tasknote:dev: compare canonical forms.
        return imageref.all_present(options.images, kind.node_images(repo, site.cluster))

    def images_do() -> None:
        kind.load_images(repo, options.images, site.cluster)

    def argocd_done() -> bool:
        version = argocd_manifest.version_of(repo.versions)
        port = the_port()
        if port.get(CRD_API, "CustomResourceDefinition", "applications.argoproj.io") is None:
            return False
        server = port.get("apps/v1", "Deployment", "argocd-server", ARGOCD_NAMESPACE)
        if server is None:
            return False
        images = [c["image"] for c in server["spec"]["template"]["spec"]["containers"]]
        pinned = all(argocd_manifest.image_has_version(i, version) for i in images)
        return pinned and deployment_status(server).ready

    def argocd_do() -> None:
        # Pinned by content: downloaded, checked against versions.yaml's sha256, then applied
        # from those bytes (never `-f URL`, which applies whatever the URL serves at the time).
        pin = argocd_manifest.pin_of(repo.versions)
        objects = argocd_manifest.objects(repo.versions)
        port = the_port()
        port.apply([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ARGOCD_NAMESPACE}}])
        say(f"   applying Argo CD {pin.version} from {pin.url} (sha256 {pin.sha256[:12]}… verified)")
        port.apply(objects, namespace=ARGOCD_NAMESPACE)
        for kind_name, name in (("Deployment", "argocd-server"), ("Deployment", "argocd-repo-server"),
                                ("StatefulSet", "argocd-application-controller")):
            wait_for_rollout(port, kind_name, name, ARGOCD_NAMESPACE, deadline_s=300, progress=say)

    def app_health_done() -> bool:
        live = the_port().get("v1", "ConfigMap", argocd_settings.CONFIGMAP, ARGOCD_NAMESPACE)
        return not argocd_settings.missing(live, argocd_settings.settings_from_file(repo.root))

    def app_health_do() -> None:
        settings = argocd_settings.settings_from_file(repo.root)
        the_port().apply([argocd_settings.configmap(settings, ARGOCD_NAMESPACE)])

    def key_done() -> bool:
        active = f"{SEALING_KEY_LABEL}=active"
        return bool(the_port().list("v1", "Secret", sealed_secrets_namespace(repo), active))

    def key_do() -> None:
        # An explicit backup first, else the one a previous bootstrap or secrets.init-key left.
        known = keys.default_backup_path(target.cluster)
        if site != DEVELOPER:  # conformance's throw-away cluster keeps its key apart from yours
            known = known.with_name(f"{site.cluster}.yaml")
        backup = options.key_backup or (known if known.is_file() else None)
        if backup is not None:
            restore = options.restore_key or (
                lambda path: keys.restore_key(path, sealed_secrets_namespace(repo)))
            the_port().apply(restore(backup))
            say(f"   restored the sealing key from {backup}")
            return
        if not (options.allow_fresh_key or local_kind):
            raise GitOpsError(f"the {target.cluster} cluster needs the sealing key its SealedSecrets were "
                              f"sealed with; pass --key-backup PATH or put the backup at {known} "
                              "(or --fresh-key for a throw-away cluster).")
        namespace = sealed_secrets_namespace(repo)
        secret = options.fresh_key() if options.fresh_key else keys.fresh_key_secret(namespace)
        # Backed up before it is applied: a key that exists only in a cluster is one delete from lost.
        written = keys.backup_key(secret, known)
        the_port().apply([secret])
        notice = LOCAL_KEY_NOTICE if source.local else RESEAL_NOTICE
        say(notice.format(backup=written, cluster=target.cluster))

    def git_source_done() -> bool:
        return gitserver.ready(repo, server)

    def git_source_do() -> None:
        gitserver.ensure(repo, server)

    def publish_done() -> bool:
        return localsource.published(repo, the_port(), loop, include_uncommitted=options.include_uncommitted)

    def publish_do() -> None:
        result = localsource.publish_checkout(repo, the_port(), loop,
                                              include_uncommitted=options.include_uncommitted, progress=say)
        say(f"   {localsource.describe(result)}")

    def root_documents() -> list[dict[str, Any]]:
        path = root_manifest(repo, target.cluster)
        manifest_docs(repo, path)  # one sentence when it is missing
        committed = str(repo.version_of("repository", "url"))
        text = localsource.root_application_text(path.read_text(encoding="utf-8"), committed, source)
        return [d for d in yaml.safe_load_all(text) if isinstance(d, dict)]

    def root_done() -> bool:
        # Present and reading the chosen source: switching between the local source and a fork
        # re-applies it.
        name = root_application_name(repo, target.cluster)
        app = the_port().get(ARGO_API, "Application", name, ARGOCD_NAMESPACE)
        return app is not None and ((app.get("spec") or {}).get("source") or {}).get("repoURL") == source.url

    def root_do() -> None:
        the_port().apply(root_documents(), namespace=ARGOCD_NAMESPACE)

    def synced_done() -> bool:
        return observe_cluster(the_port(), ARGOCD_NAMESPACE)().ready

    def synced_do() -> None:
        wait_until_ready(observe_cluster(the_port(), ARGOCD_NAMESPACE), what="every Argo CD Application",
                         deadline_s=options.wait_deadline_s, progress=say)

    tools_needed = "docker and kubectl" if local_kind else "kubectl"
    # The pinned kind download, the local registry and `kind load` exist only for a kind cluster
    # this automation runs: a k3s or existing-context plan does not list them.
    kind_only = {"tools", "registry", "images"}
    steps = [
        Step("prerequisites", prerequisites_do,
             f"{tools_needed} at the pinned version{'s' if local_kind else ''}; Argo CD's manifest "
             "checksum recorded",
             lambda: check_prerequisites(repo, target), resumable=False, gate=True),
        Step("tools", tools_do, "kind at the pinned version, else downloaded into .tools/bin (sha256 checked)"
             if local_kind else "no pinned downloads needed", tools_done, resumable=False, gate=True),
        # An existing context that does not answer is the user's to fix; there is nothing to resume.
        Step("cluster", cluster_do, f"cluster reachable: {target.describe()}", cluster_done, gate=True,
             resumable=target.managed),
        Step("registry", registry_do, f"local registry {site.push_host} reachable from the nodes"
             + ("" if site.push_host == kind.REGISTRY_HOST else f" as {kind.REGISTRY_HOST}") + " (kind)",
             registry_done),
        Step("images", images_do, "local images loaded into the nodes", images_done),
        Step("argocd", argocd_do, "Argo CD installed at the pinned version", argocd_done),
        # Before the root app, so sync waves wait for child Applications from the first sync.
        Step("app-health", app_health_do,
             "argocd-cm has the Application health check (waves wait for children)", app_health_done),
        Step("sealing-key", key_do, "Sealed Secrets key in place before the controller starts", key_done),
        *([Step("git-source", git_source_do, f"local Git source {server.container} on the kind network",
                git_source_done),
           Step("publish", publish_do, "the checkout published: image in the kind registry, commit on the "
                "local Git source", publish_done)] if source.local else []),
        Step("root-app", root_do, f"root application for {target.cluster} applied, reading "
             f"{source.describe()}", root_done),
        Step("synced", synced_do, "every Application Synced and Healthy", synced_done),
    ]
    return steps if local_kind else [s for s in steps if s.name not in kind_only]


def wait_until_synced(port: ClusterPort, *, deadline_s: float = 900,
                      progress: Callable[[str], None] = print) -> None:
    wait_until_ready(observe_cluster(port, ARGOCD_NAMESPACE), what="every Argo CD Application",
                     deadline_s=deadline_s, progress=progress)


def how_to_reach(env: str = "dev") -> str:
    namespace = f"tasknote-{config.check_environment(env)}"
    return "\n".join([
        "TaskNote:  kubectl -n " + namespace + " port-forward svc/tasknote-api 8000:80   "
        "-> http://localhost:8000/healthz  (or ./inv smoke --target kind)",
        "Argo CD:   kubectl -n argocd port-forward svc/argocd-server 8080:443   -> https://localhost:8080",
        "           user admin; password: kubectl -n argocd get secret argocd-initial-admin-secret "
        "-o jsonpath='{.data.password}' | base64 -d",
    ])


def bootstrap(repo: Repo, target: Target, options: Options, *, dry_run: bool = False,
              port: ClusterPort | None = None) -> str:
    steps = build_steps(repo, target, options, port)
    if dry_run:
        return f"bootstrap plan for the {target.describe()}:\n" + format_plan(plan(steps))
    outcomes = execute(steps, options.progress).outcomes
    did = [o.step for o in outcomes if o.status == "passed"]
    summary = (f"bootstrap complete; did {', '.join(did)}" if did
               else "bootstrap: every step was already done; nothing to do")
    return summary + "\n" + how_to_reach()
