"""`invoke bootstrap`: ordered, idempotent steps from nothing to a reconciled cluster.

Each step has a `done()` check that observes the cluster (not a local state file) and a
`do()`. A run checks every step in order and does only what is not done, so a second run
after success is a quick no-op and a run after a failure resumes at the failed step.
`plan()` only checks: a check that cannot run (no kind, no cluster yet) is `todo` with why.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gitops.cluster.target import KIND_CLUSTER_NAME, Target
from gitops.core import config, run, tools
from gitops.core.errors import GitOpsError

ARGOCD_NAMESPACE = "argocd"
SEALED_SECRETS_NAMESPACE = "kube-system"
SEALING_KEY_LABEL = "sealedsecrets.bitnami.com/sealed-secrets-key"


@dataclass(frozen=True)
class Step:
    name: str
    title: str
    done: Callable[[], bool]
    do: Callable[[], None]
    # Prerequisite failures are already the whole story; other failures get "re-run to resume".
    resumable: bool = True
    # A gate that is not done makes every later check pointless (no tools, no API server).
    gate: bool = False


@dataclass(frozen=True)
class Check:
    step: str
    title: str
    done: bool
    reason: str = ""


def check(step: Step) -> Check:
    try:
        return Check(step.name, step.title, bool(step.done()))
    except GitOpsError as exc:
        return Check(step.name, step.title, False, str(exc))


def plan(steps: Sequence[Step]) -> list[Check]:
    """Every step's state; nothing is changed. After a closed gate the rest is todo unchecked."""
    checks: list[Check] = []
    blocked_by = ""
    for step in steps:
        if blocked_by:
            checks.append(Check(step.name, step.title, False, f"after {blocked_by}"))
            continue
        result = check(step)
        checks.append(result)
        if step.gate and not result.done:
            blocked_by = step.name
    return checks


def format_plan(checks: Sequence[Check]) -> str:
    width = max((len(c.step) for c in checks), default=0)
    lines = []
    for number, c in enumerate(checks, 1):
        state = "done" if c.done else "todo"
        why = f"  ({c.reason})" if c.reason else ""
        lines.append(f"{number:2}. {c.step:<{width}}  {state}  {c.title}{why}")
    return "\n".join(lines)


@dataclass(frozen=True)
class Outcome:
    step: str
    action: str  # "skipped" (already done) or "done"
    seconds: float


def execute(steps: Sequence[Step], progress: Callable[[str], None] = print,
            clock: Callable[[], float] = time.monotonic) -> list[Outcome]:
    """Run the steps in order, doing only those whose check says not done."""
    outcomes = []
    for number, step in enumerate(steps, 1):
        started = clock()
        before = check(step)
        if before.done:
            progress(f"{number}. {step.title}: already done")
            outcomes.append(Outcome(step.name, "skipped", clock() - started))
            continue
        progress(f"{number}. {step.title} ...")
        try:
            step.do()
        except GitOpsError as exc:
            if not step.resumable:
                raise
            raise GitOpsError(f"bootstrap stopped at step {number} ({step.name}): {str(exc).rstrip('.')}; "
                              "fix that and re-run ./inv bootstrap, which resumes at this step.") from None
        after = check(step)
        if not after.done:
            raise GitOpsError(f"step {number} ({step.name}) ran but its check still fails"
                              f"{': ' + after.reason.rstrip('.') if after.reason else ''}; "
                              "re-run ./inv bootstrap to retry it.")
        seconds = clock() - started
        progress(f"{number}. {step.title}: done in {seconds:.0f} s")
        outcomes.append(Outcome(step.name, "done", seconds))
    return outcomes


# --- prerequisites -------------------------------------------------------------------------


def prerequisites(target: Target) -> list[Callable[[], object]]:
    """The tools this target needs, cheapest first; each raises one sentence when missing."""
    checks: list[Callable[[], object]] = []
    if target.managed and target.cluster == "kind":
        checks += [tools.docker_engine, lambda: tools.require("kind")]
    checks.append(lambda: tools.require("kubectl"))
    return checks


def check_prerequisites(target: Target) -> bool:
    for probe in prerequisites(target):
        probe()
    return True


# --- Argo CD and the root application -----------------------------------------------------


def argocd_pin(versions: dict[str, Any] | None = None) -> tuple[str, str]:
    """(version, install manifest URL) from versions.yaml platform.argocd."""
    table = (versions or config.versions()).get("platform", {}) or {}
    entry = table.get("argocd")
    if not isinstance(entry, dict) or "version" not in entry:
        raise GitOpsError("versions.yaml has no platform.argocd.version; pin Argo CD there "
                          "(./inv manifests.* owns it).")
    version = str(entry["version"]).lstrip("v")
    url = str(entry.get("install_url") or entry.get("url") or
              f"https://raw.githubusercontent.com/argoproj/argo-cd/v{version}/manifests/install.yaml")
    return version, url


def root_manifest(cluster: str) -> Path:
    return config.PATHS.argocd / "clusters" / config.check_cluster(cluster) / "root.yaml"


def manifest_docs(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise GitOpsError(f"{path.relative_to(config.ROOT)} is missing; the manifests of this "
                          "cluster must exist in Git before bootstrap can apply them.")
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if isinstance(d, dict)]


def root_application_name(cluster: str) -> str:
    for doc in manifest_docs(root_manifest(cluster)):
        if doc.get("kind") == "Application":
            return str(doc["metadata"]["name"])
    raise GitOpsError(f"{root_manifest(cluster).relative_to(config.ROOT)} holds no Application; fix it.")


def image_has_version(image: str, version: str) -> bool:
    tag = image.split("@", 1)[0].rsplit(":", 1)[-1]
    return tag.lstrip("v") == version


# --- the sealing key ------------------------------------------------------------------------

RESEAL_NOTICE = (
    "A fresh Sealed Secrets key was generated for this cluster and backed up to {backup} (mode "
    "0600, outside the repository); the next bootstrap of a {cluster} cluster restores it from "
    "there. The SealedSecrets committed for dev were sealed for another key, and Argo CD deploys "
    "what is in Git, so until you re-seal them the dev Secrets cannot be decrypted: write this "
    "cluster's certificate into the repository with ./inv secrets.fetch-cert --cluster {cluster} "
    "--replace, re-seal each dev secret with ./inv secrets.seal, then commit and push."
)


def sealed_secrets_namespace() -> str:
    section = config.versions().get("sealed-secrets", {})
    value = section.get("namespace") if isinstance(section, dict) else None
    return str(value or SEALED_SECRETS_NAMESPACE)


def key_backup_path(cluster: str) -> Path:
    from gitops.secrets.keybackup import backup_path

    return backup_path(cluster)


def default_restore(backup: Path) -> list[dict[str, Any]]:
    """gitops.secrets.sealing.restore_key, owned by the secrets area, imported only when used."""
    try:
        from gitops import sealing  # type: ignore[attr-defined, unused-ignore]
    except ImportError:
        raise GitOpsError("gitops.secrets.sealing is not available in this checkout; "
                          "update the repository.") from None
    manifests: list[dict[str, Any]] = sealing.restore_key(backup)
    return manifests


@dataclass
class Options:
    key_backup: Path | None = None
    wait_deadline_s: float = 900
    images: tuple[str, ...] = ()
    restore_key: Callable[[Path], list[dict[str, Any]]] = default_restore
    fresh_key: Callable[[], dict[str, Any]] | None = None
    # Throw-away clusters other than our own kind one (an e2e k3s container) may get a new key.
    allow_fresh_key: bool = False
    progress: Callable[[str], None] = print


class Cluster:
    """The side effects of the steps: kubectl for applies, the API client for reads."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self._api: Any = None

    def api(self) -> Any:
        from gitops.cluster.api import Api

        if self._api is None:
            self._api = Api(self.target)
        return self._api

    def kubectl(self, *args: str, input_text: str | None = None, timeout: float = 300) -> run.Result:
        kubectl = tools.require("kubectl")
        return run.run([str(kubectl), *self.target.kubectl_args(), *args], input_text=input_text,
                       timeout=timeout)

    def apply_objects(self, objects: Sequence[dict[str, Any]]) -> None:
        # stdin, not a temp file: key material never touches the disk on its way in.
        self.kubectl("apply", "--server-side", "--force-conflicts", "-f", "-",
                     input_text=yaml.safe_dump_all(list(objects), sort_keys=False))


def build_steps(target: Target, options: Options, cluster: Cluster | None = None) -> list[Step]:
    from gitops.cluster import kind, kubeconfig

    kube = cluster or Cluster(target)
    say = options.progress
    local_kind = target.managed and target.cluster == "kind"

    def prerequisites_done() -> bool:
        return check_prerequisites(target)

    def prerequisites_do() -> None:
        check_prerequisites(target)

    def cluster_done() -> bool:
        if target.managed and target.cluster == "kind" and not kind.exists():
            raise GitOpsError(f"no kind cluster named {KIND_CLUSTER_NAME} yet")
        kubeconfig.require_reachable(target)
        return True

    def cluster_do() -> None:
        if target.managed and target.cluster == "kind":
            kind.create()
            # A restarted node container needs a few seconds before its API server answers.
            deadline = time.monotonic() + 90
            while not kubeconfig.reachable(target) and time.monotonic() < deadline:
                time.sleep(3)
        elif target.managed:
            raise GitOpsError("the k3s cluster is not reachable; install or adopt it first with "
                              "./inv cluster.create --cluster k3s --host USER@HOST.")
        else:
            kubeconfig.require_reachable(target)

    def registry_done() -> bool:
        return not local_kind or kind.registry_ready()

    def registry_do() -> None:
        kind.ensure_registry()
        kube.apply_objects([kind.registry_configmap()])

    def images_done() -> bool:
        if not options.images or not (target.managed and target.cluster == "kind"):
            return True
        present = kind.node_images()
        return all(ref.split("@", 1)[0] in present for ref in options.images)

    def images_do() -> None:
        kind.load_images(options.images)

    def argocd_done() -> bool:
        version, _ = argocd_pin()
        api = kube.api()
        if api.crd("applications.argoproj.io") is None:
            return False
        server = api.deployment("argocd-server", ARGOCD_NAMESPACE)
        if server is None:
            return False
        images = [c["image"] for c in server["spec"]["template"]["spec"]["containers"]]
        from gitops.verify.reconcile import deployment_status

        return all(image_has_version(i, version) for i in images) and deployment_status(server).ready

    def argocd_do() -> None:
        version, url = argocd_pin()
        namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ARGOCD_NAMESPACE}}
        kube.apply_objects([namespace])
        say(f"   applying Argo CD {version} from {url}")
        kube.kubectl("apply", "--server-side", "--force-conflicts", "-n", ARGOCD_NAMESPACE, "-f", url,
                     timeout=600)
        for workload in ("deployment/argocd-server", "deployment/argocd-repo-server",
                         "statefulset/argocd-application-controller"):
            say(f"   waiting for {workload} (up to 300 s)")
            kube.kubectl("rollout", "status", "-n", ARGOCD_NAMESPACE, workload, "--timeout=300s", timeout=320)

    def key_done() -> bool:
        keys = kube.api().secrets(sealed_secrets_namespace(), f"{SEALING_KEY_LABEL}=active")
        return bool(keys)

    def key_do() -> None:
        # An explicit backup first, else the one a previous bootstrap or secrets.init-key left.
        known = key_backup_path(target.cluster)
        backup = options.key_backup or (known if known.is_file() else None)
        if backup is not None:
            kube.apply_objects(options.restore_key(backup))
            say(f"   restored the sealing key from {backup}")
            return
        if not (options.allow_fresh_key or (target.managed and target.cluster == "kind")):
            raise GitOpsError(f"the {target.cluster} cluster needs the sealing key its SealedSecrets were "
                              f"sealed with; pass --key-backup PATH or put the backup at {known} "
                              "(or --fresh-key for a throw-away cluster).")
        from gitops.secrets.keybackup import backup_key, fresh_key_secret

        secret = options.fresh_key() if options.fresh_key else fresh_key_secret(
            namespace=sealed_secrets_namespace())
        # Backed up before it is applied: a key that exists only in a cluster is one delete from lost.
        written = backup_key(secret, known)
        kube.apply_objects([secret])
        say(RESEAL_NOTICE.format(backup=written, cluster=target.cluster))

    def root_done() -> bool:
        name = root_application_name(target.cluster)
        return kube.api().application(name, ARGOCD_NAMESPACE) is not None

    def root_do() -> None:
        kube.kubectl("apply", "--server-side", "-f", str(root_manifest(target.cluster)))

    def synced_done() -> bool:
        from gitops.verify.reconcile import observe_cluster

        return observe_cluster(kube.api(), ARGOCD_NAMESPACE)().ready

    def synced_do() -> None:
        from gitops.verify.reconcile import observe_cluster, wait_until_ready

        wait_until_ready(observe_cluster(kube.api(), ARGOCD_NAMESPACE),
                         what="every Argo CD Application", deadline_s=options.wait_deadline_s,
                         progress=say)

    tools_needed = "docker, kind and kubectl" if local_kind else "kubectl"
    return [
        Step("prerequisites", f"{tools_needed} at the pinned version{'s' if local_kind else ''}",
             prerequisites_done,
             prerequisites_do, resumable=False, gate=True),
        # An existing context that does not answer is the user's to fix; there is nothing to resume.
        Step("cluster", f"cluster reachable: {target.describe()}", cluster_done, cluster_do, gate=True,
             resumable=target.managed),
        Step("registry", f"local registry {kind.REGISTRY_HOST} reachable from the nodes (kind)",
             registry_done, registry_do),
        Step("images", "local images loaded into the nodes", images_done, images_do),
        Step("argocd", "Argo CD installed at the pinned version", argocd_done, argocd_do),
        Step("sealing-key", "Sealed Secrets key in place before the controller starts", key_done, key_do),
        Step("root-app", f"root application for {target.cluster} applied", root_done, root_do),
        Step("synced", "every Application Synced and Healthy", synced_done, synced_do),
    ]


def wait_until_synced(target: Target, *, deadline_s: float = 900,
                      progress: Callable[[str], None] = print) -> None:
    from gitops.cluster.api import Api
    from gitops.verify.reconcile import observe_cluster, wait_until_ready

    wait_until_ready(observe_cluster(Api(target), ARGOCD_NAMESPACE), what="every Argo CD Application",
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


def bootstrap(target: Target, options: Options, *, dry_run: bool = False) -> str:
    steps = build_steps(target, options)
    if dry_run:
        return f"bootstrap plan for the {target.describe()}:\n" + format_plan(plan(steps))
    outcomes = execute(steps, options.progress)
    did = [o.step for o in outcomes if o.action == "done"]
    summary = (f"bootstrap complete; did {', '.join(did)}" if did
               else "bootstrap: every step was already done; nothing to do")
    return summary + "\n" + how_to_reach()
