"""Step planning, idempotency and resume of bootstrap, with steps over a simulated world;
plus the real step list's prerequisite checks and pins. The cluster is the port's test fake
(tests/support/fakeport.py): the API server is the boundary we cannot run here."""

import base64
import copy
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml
from gitops.cluster import argocd_manifest, gitserver
from gitops.cluster.target import resolve
from gitops.core import tools
from gitops.core.errors import GitOpsError
from gitops.core.repo import Repo
from gitops.lifecycle import bootstrap
from gitops.secrets import keys
from gitops.verify.steps import Step
from support.checkout import this_repo
from support.fakeport import FakePort
from support.ports import free_port

REPO = this_repo()


def with_argocd_checksum(repo: Repo) -> Repo:
    """The checkout with a (made-up) Argo CD manifest checksum recorded: what a maintainer on a
    networked machine commits; here nothing is downloaded, so its value is never compared."""
    versions = copy.deepcopy(repo.versions)
    versions["platform"]["argocd"]["install_sha256"] = "ab" * 32
    return Repo(repo.root, versions)


PINNED = with_argocd_checksum(REPO)


@pytest.fixture(autouse=True)
def no_internet_downloads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any download a step attempts (the pinned kind) meets a loopback port with no listener:
    a regression fails here with 'could not download' instead of reaching GitHub."""
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.setenv(name, f"http://127.0.0.1:{free_port()}")
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(name, "")


class World:
    """What the steps would observe on a cluster; do() changes it, done() reads it."""

    def __init__(self, fail_once: str = "") -> None:
        self.state: set[str] = set()
        self.calls: list[str] = []
        self.checks: list[str] = []
        self.fail_once = fail_once

    def step(self, name: str, **kw: Any) -> Step:
        def done() -> bool:
            self.checks.append(name)
            return name in self.state

        def do() -> None:
            self.calls.append(name)
            if self.fail_once == name:
                self.fail_once = ""
                raise GitOpsError(f"{name} broke.")
            self.state.add(name)

        return Step(name, do, f"the {name} step", done, **kw)

    def steps(self) -> list[Step]:
        return [self.step("cluster", gate=True), self.step("argocd"), self.step("root-app"),
                self.step("synced")]


def test_first_run_does_every_step_in_order() -> None:
    world = World()
    outcomes = bootstrap.execute(world.steps(), progress=lambda _: None).outcomes
    assert world.calls == ["cluster", "argocd", "root-app", "synced"]
    assert [o.status for o in outcomes] == ["passed"] * 4


def test_second_run_after_success_is_a_no_op() -> None:
    world = World()
    bootstrap.execute(world.steps(), progress=lambda _: None)
    world.calls.clear()
    lines: list[str] = []
    outcomes = bootstrap.execute(world.steps(), progress=lines.append).outcomes
    assert world.calls == []
    assert [o.status for o in outcomes] == ["already done"] * 4
    assert all(line.endswith("already done") for line in lines)


def test_failure_stops_there_and_the_next_run_resumes_at_that_step() -> None:
    world = World(fail_once="root-app")
    with pytest.raises(GitOpsError) as info:
        bootstrap.execute(world.steps(), progress=lambda _: None)
    assert str(info.value) == ("bootstrap stopped at step 3 (root-app): root-app broke; fix that and "
                               "re-run ./inv bootstrap, which resumes at this step.")
    assert world.calls == ["cluster", "argocd", "root-app"]
    world.calls.clear()
    outcomes = bootstrap.execute(world.steps(), progress=lambda _: None).outcomes
    assert world.calls == ["root-app", "synced"]
    assert [o.status for o in outcomes] == ["already done", "already done", "passed", "passed"]


def test_a_step_whose_check_still_fails_after_do_is_an_error() -> None:
    step = Step("argocd", lambda: None, "Argo CD", lambda: False)
    with pytest.raises(GitOpsError, match=r"step 1 \(argocd\) ran but its check still fails"):
        bootstrap.execute([step], progress=lambda _: None)


def test_prerequisite_errors_pass_through_unwrapped() -> None:
    def missing() -> None:
        raise GitOpsError("kind is not installed; get it.")

    step = Step("prerequisites", missing, "tools", lambda: False, resumable=False)
    with pytest.raises(GitOpsError) as info:
        bootstrap.execute([step], progress=lambda _: None)
    assert str(info.value) == "kind is not installed; get it."


def test_plan_shows_done_and_todo_and_changes_nothing() -> None:
    world = World()
    world.state = {"cluster", "argocd"}
    checks = bootstrap.plan(world.steps())
    assert [(c.step, c.done) for c in checks] == [("cluster", True), ("argocd", True),
                                                   ("root-app", False), ("synced", False)]
    assert world.calls == []
    text = bootstrap.format_plan(checks)
    assert " 1. cluster   done  the cluster step" in text
    assert " 3. root-app  todo  the root-app step" in text


def test_plan_after_a_closed_gate_marks_the_rest_todo_without_checking() -> None:
    def no_cluster() -> bool:
        raise GitOpsError("the API server does not answer.")

    world = World()
    steps = [Step("cluster", lambda: None, "cluster", no_cluster, gate=True), *world.steps()[1:]]
    checks = bootstrap.plan(steps)
    assert checks[0].reason == "the API server does not answer."
    assert [c.reason for c in checks[1:]] == ["after cluster"] * 3
    assert world.checks == []


def test_real_steps_in_order() -> None:
    steps = bootstrap.build_steps(REPO, resolve("kind"), bootstrap.Options(progress=lambda _: None))
    assert [s.name for s in steps] == ["prerequisites", "tools", "cluster", "registry", "images", "argocd",
                                       "app-health", "sealing-key", "git-source", "publish", "root-app",
                                       "synced"]
    assert steps[0].gate and steps[1].gate and steps[2].gate
    assert not steps[0].resumable and not steps[1].resumable
    # A fork as the source, or a cluster bootstrap does not manage: nothing is published.
    fork = bootstrap.Options(progress=lambda _: None, source="https://github.com/someone/tasknote-gitops.git")
    others = ((resolve("kind"), fork), (resolve("kind", context="prod-eu"), bootstrap.Options()),
              (resolve("k3s"), bootstrap.Options()))
    for target, options in others:
        names = [s.name for s in bootstrap.build_steps(REPO, target, options)]
        assert "git-source" not in names and "publish" not in names


def test_missing_kind_fails_the_real_run_with_one_sentence(monkeypatch: pytest.MonkeyPatch,
                                                           tmp_path: Path) -> None:
    real_locate = tools.locate
    monkeypatch.setattr(tools, "docker_engine", lambda repo: Path("/usr/bin/docker"))
    monkeypatch.setattr(tools, "locate", lambda name: None if name == "kind" else real_locate(name))
    monkeypatch.setattr(tools, "project_bin", lambda repo: tmp_path / "bin")
    # bootstrap downloads the pinned kind; no_internet_downloads sends it to a loopback port
    # with no listener, which is what an unreachable URL looks like.
    target = resolve("kind")
    with pytest.raises(GitOpsError) as info:
        bootstrap.bootstrap(PINNED, target, bootstrap.Options(progress=lambda _: None))
    message = str(info.value)
    assert message.startswith("could not download https://github.com/kubernetes-sigs/kind/releases/")
    assert "(connection failed)" in message
    assert message.count(". ") == 0 and message.endswith(".")
    assert not (tmp_path / "bin").exists()


def test_an_unrecorded_argocd_checksum_stops_bootstrap_before_any_cluster_exists() -> None:
    versions = copy.deepcopy(REPO.versions)
    versions["platform"]["argocd"]["install_sha256"] = ""
    last = bootstrap.prerequisites(Repo(REPO.root, versions), resolve("kind"))[-1]
    with pytest.raises(GitOpsError, match=r"platform\.argocd\.install_sha256 is not a sha256 of https://"):
        last()
    assert bootstrap.prerequisites(with_argocd_checksum(REPO), resolve("kind"))[-1]()


def test_existing_context_needs_only_kubectl_and_the_argocd_pin() -> None:
    probes = bootstrap.prerequisites(REPO, resolve("kind", context="prod-eu"))
    assert len(probes) == 2  # kubectl, the Argo CD manifest's recorded sha256
    assert len(bootstrap.prerequisites(REPO, resolve("kind"))) == 3  # docker too; kind is downloaded
    assert bootstrap.downloaded_tools(resolve("kind")) == ("kind",)
    assert bootstrap.downloaded_tools(resolve("kind", context="prod-eu")) == ()


def test_argocd_version_from_versions() -> None:
    pinned = str(REPO.version_of("platform", "argocd", "version")).lstrip("v")
    assert argocd_manifest.version_of(REPO.versions) == pinned
    assert argocd_manifest.version_of({"platform": {"argocd": {"version": "v3.2.1"}}}) == "3.2.1"
    with pytest.raises(GitOpsError, match=r"platform\.argocd\.version"):
        argocd_manifest.version_of({"platform": {}})


def test_image_version_match() -> None:
    assert argocd_manifest.image_has_version("quay.io/argoproj/argocd:v3.2.1", "3.2.1")
    assert argocd_manifest.image_has_version("quay.io/argoproj/argocd:v3.2.1@sha256:" + "a" * 64, "3.2.1")
    assert not argocd_manifest.image_has_version("quay.io/argoproj/argocd:v3.1.0", "3.2.1")


def key_step(target_cluster: str, options: bootstrap.Options, port: FakePort) -> Step:
    target = resolve(target_cluster)
    return next(s for s in bootstrap.build_steps(REPO, target, options, port) if s.name == "sealing-key")


def applied_secrets(port: FakePort) -> list[dict[str, Any]]:
    return [o for o in port.applied if o.get("kind") == "Secret"]


def test_key_backup_is_restored_through_the_injected_function(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "k", "namespace": "kube-system"}}
    seen: list[Path] = []

    def restore(path: Path) -> list[dict[str, Any]]:
        seen.append(path)
        return [secret]

    cluster = FakePort()
    options = bootstrap.Options(key_backup=tmp_path / "key.yaml", restore_key=restore,
                                progress=lambda _: None)
    key_step("kind", options, cluster).do()
    assert seen == [tmp_path / "key.yaml"] and applied_secrets(cluster) == [secret]


RESTORED = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "sealed-secrets-key0",
                                                             "namespace": "kube-system"}}


def test_kind_without_backup_gets_a_fresh_key_and_the_next_bootstrap_reuses_it(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    lines: list[str] = []
    restored: list[Path] = []
    cluster = FakePort()
    options = bootstrap.Options(fresh_key=lambda: keys.fresh_key_secret("kube-system", bits=2048),
                                progress=lines.append,
                                restore_key=lambda path: restored.append(path) or [RESTORED])
    key_step("kind", options, cluster).do()
    (secret,) = applied_secrets(cluster)
    assert secret["metadata"]["labels"] == {"sealedsecrets.bitnami.com/sealed-secrets-key": "active"}
    assert base64.b64decode(secret["data"]["tls.crt"]).startswith(b"-----BEGIN CERTIFICATE-----")
    backup = tmp_path / "config" / "tasknote" / "sealed-secrets" / "kind.yaml"
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    assert stat.S_IMODE(backup.parent.stat().st_mode) == 0o700
    assert yaml.safe_load(backup.read_text()) == {"apiVersion": "v1", "kind": "List", "items": [secret]}
    notice = lines[-1]
    assert "\n" not in notice and str(backup) in notice
    # The local Git source serves SealedSecrets sealed to this key: nothing for the user to re-seal.
    assert "nothing to commit" in notice and "secrets.seal" not in notice
    # A new kind cluster later: the same key comes back instead of a third one.
    second = FakePort()
    key_step("kind", options, second).do()
    assert restored == [backup] and applied_secrets(second) == [RESTORED]


def test_k3s_without_backup_refuses_to_invent_a_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    cluster = FakePort()
    with pytest.raises(GitOpsError, match="pass --key-backup PATH or put the backup at "):
        key_step("k3s", bootstrap.Options(progress=lambda _: None), cluster).do()
    assert applied_secrets(cluster) == []


def test_a_fresh_key_is_applied_in_the_request_body_and_the_next_check_sees_it(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    port = FakePort()
    options = bootstrap.Options(fresh_key=lambda: keys.fresh_key_secret("kube-system", bits=2048),
                                progress=lambda _: None)
    step = key_step("kind", options, port)
    assert step.check is not None and not step.check()
    step.do()
    assert step.check()  # the check reads what the apply stored: sealedsecrets...-key=active
    assert ("apply", "Secret", "kube-system", port.applied[0]["metadata"]["name"]) in port.calls


def test_root_app_step_applies_this_repositorys_root_manifest() -> None:
    port = FakePort()
    steps = {s.name: s for s in bootstrap.build_steps(REPO, resolve("kind"), bootstrap.Options(), port)}
    root = steps["root-app"]
    assert root.check is not None and not root.check()
    root.do()
    assert root.check()
    [app] = port.applied
    assert app["kind"] == "Application"
    assert app["metadata"]["name"] == bootstrap.root_application_name(REPO, "kind")
    # On the kind cluster bootstrap manages, it reads the local Git source by default.
    assert app["spec"]["source"]["repoURL"] == gitserver.repo_url()


def test_root_app_reading_another_source_is_applied_again() -> None:
    port = FakePort()
    fork = "https://github.com/someone/tasknote-gitops.git"
    local = {s.name: s for s in bootstrap.build_steps(REPO, resolve("kind"), bootstrap.Options(), port)}
    local["root-app"].do()
    forked = {s.name: s for s in bootstrap.build_steps(REPO, resolve("kind"), bootstrap.Options(source=fork),
                                                       port)}
    check = forked["root-app"].check
    assert check is not None and not check()  # present, but reading the local source
    forked["root-app"].do()
    assert check()
    assert port.applied[-1]["spec"]["source"]["repoURL"] == fork


def test_argocd_check_wants_the_pinned_version_rolled_out() -> None:
    port = FakePort()
    steps = bootstrap.build_steps(REPO, resolve("kind"), bootstrap.Options(), port)
    argocd = next(s for s in steps if s.name == "argocd")
    assert argocd.check is not None and not argocd.check()
    version = argocd_manifest.version_of(REPO.versions)
    port.seed({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
               "metadata": {"name": "applications.argoproj.io"}})
    [server] = port.seed_fixture("deployment-ready.json", "apps/v1", "Deployment")
    server["metadata"].update(name="argocd-server", namespace="argocd")
    server["spec"]["template"]["spec"]["containers"][0]["image"] = f"quay.io/argoproj/argocd:v{version}"
    port.seed(server)
    assert argocd.check()
    server["spec"]["template"]["spec"]["containers"][0]["image"] = "quay.io/argoproj/argocd:v0.1.0"
    port.seed(server)
    assert not argocd.check()


# --- the plan of the new steps: tools fetched for the user, Application health before root ---


def test_plan_lists_the_tools_step_todo_with_what_it_will_download(monkeypatch: pytest.MonkeyPatch,
                                                                   tmp_path: Path) -> None:
    real_locate = tools.locate
    monkeypatch.setattr(tools, "docker_engine", lambda repo: Path("/usr/bin/docker"))
    monkeypatch.setattr(tools, "locate", lambda name: None if name == "kind" else real_locate(name))
    monkeypatch.setattr(tools, "project_bin", lambda repo: tmp_path / "bin")
    steps = bootstrap.build_steps(PINNED, resolve("kind"), bootstrap.Options(progress=print))
    lines = bootstrap.format_plan(bootstrap.plan(steps)).splitlines()
    assert lines[0].startswith(" 1. prerequisites  done  docker and kubectl at the pinned versions")
    url = "https://github.com/kubernetes-sigs/kind/releases/download/v0.33.0/kind-linux-amd64"
    assert lines[1] == (" 2. tools          todo  kind at the pinned version, else downloaded into "
                        ".tools/bin (sha256 checked)  (kind is not installed; kind 0.33.0 is needed: "
                        f"the automation downloads it from {url} into .tools/bin when it runs.)")
    assert lines[2].startswith(" 3. cluster        todo") and lines[2].endswith("(after tools)")
    assert lines[6].startswith(" 7. app-health     todo  argocd-cm has the Application health check")
    assert not (tmp_path / "bin").exists()  # planning downloads nothing


# argocd-cm as Argo CD's install.yaml creates it: its labels and the default resource.exclusions
# (argoproj/argo-cd manifests/base/config/argocd-cm.yaml; first entry kept).
INSTALLED_ARGOCD_CM = {"apiVersion": "v1", "kind": "ConfigMap",
                       "metadata": {"name": "argocd-cm", "namespace": "argocd",
                                    "labels": {"app.kubernetes.io/name": "argocd-cm",
                                               "app.kubernetes.io/part-of": "argocd"}},
                       "data": {"resource.exclusions": "- apiGroups:\n  - ''\n  - discovery.k8s.io\n"
                                                       "  kinds:\n  - Endpoints\n  - EndpointSlice\n"}}


def test_app_health_step_is_todo_on_a_fresh_install_then_done_once_applied() -> None:
    from gitops.cluster import argocd_settings

    port = FakePort()
    port.seed(INSTALLED_ARGOCD_CM)
    steps = {s.name: s for s in bootstrap.build_steps(REPO, resolve("kind"),
                                                      bootstrap.Options(progress=lambda _: None), port)}
    step = steps["app-health"]
    assert step.check is not None and step.check() is False
    bootstrap.execute([step], progress=lambda _: None)
    [applied] = [o for o in port.applied if o["kind"] == "ConfigMap"]
    assert list(applied["data"]) == [argocd_settings.APPLICATION_HEALTH_KEY]  # only the key it owns
    live = port.get("v1", "ConfigMap", "argocd-cm", "argocd")
    assert live is not None and "resource.exclusions" in live["data"]  # the install's own data stays
    assert step.check() is True
    names = list(steps)
    assert names.index("argocd") < names.index("app-health") < names.index("root-app")
