"""Step planning, idempotency and resume of bootstrap, with steps over a simulated world;
plus the real step list's prerequisite checks and pins."""

import base64
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml
from gitops.cluster.target import resolve
from gitops.core import tools
from gitops.core.errors import GitOpsError
from gitops.lifecycle import bootstrap


class World:
    """What the steps would observe on a cluster; do() changes it, done() reads it."""

    def __init__(self, fail_once: str = "") -> None:
        self.state: set[str] = set()
        self.calls: list[str] = []
        self.checks: list[str] = []
        self.fail_once = fail_once

    def step(self, name: str, **kw: Any) -> bootstrap.Step:
        def done() -> bool:
            self.checks.append(name)
            return name in self.state

        def do() -> None:
            self.calls.append(name)
            if self.fail_once == name:
                self.fail_once = ""
                raise GitOpsError(f"{name} broke.")
            self.state.add(name)

        return bootstrap.Step(name, f"the {name} step", done, do, **kw)

    def steps(self) -> list[bootstrap.Step]:
        return [self.step("cluster", gate=True), self.step("argocd"), self.step("root-app"),
                self.step("synced")]


def test_first_run_does_every_step_in_order() -> None:
    world = World()
    outcomes = bootstrap.execute(world.steps(), progress=lambda _: None)
    assert world.calls == ["cluster", "argocd", "root-app", "synced"]
    assert [o.action for o in outcomes] == ["done"] * 4


def test_second_run_after_success_is_a_no_op() -> None:
    world = World()
    bootstrap.execute(world.steps(), progress=lambda _: None)
    world.calls.clear()
    lines: list[str] = []
    outcomes = bootstrap.execute(world.steps(), progress=lines.append)
    assert world.calls == []
    assert [o.action for o in outcomes] == ["skipped"] * 4
    assert all(line.endswith("already done") for line in lines)


def test_failure_stops_there_and_the_next_run_resumes_at_that_step() -> None:
    world = World(fail_once="root-app")
    with pytest.raises(GitOpsError) as info:
        bootstrap.execute(world.steps(), progress=lambda _: None)
    assert str(info.value) == ("bootstrap stopped at step 3 (root-app): root-app broke; fix that and "
                               "re-run ./inv bootstrap, which resumes at this step.")
    assert world.calls == ["cluster", "argocd", "root-app"]
    world.calls.clear()
    outcomes = bootstrap.execute(world.steps(), progress=lambda _: None)
    assert world.calls == ["root-app", "synced"]
    assert [o.action for o in outcomes] == ["skipped", "skipped", "done", "done"]


def test_a_step_whose_check_still_fails_after_do_is_an_error() -> None:
    step = bootstrap.Step("argocd", "Argo CD", lambda: False, lambda: None)
    with pytest.raises(GitOpsError, match=r"step 1 \(argocd\) ran but its check still fails"):
        bootstrap.execute([step], progress=lambda _: None)


def test_prerequisite_errors_pass_through_unwrapped() -> None:
    def missing() -> None:
        raise GitOpsError("kind is not installed; get it.")

    step = bootstrap.Step("prerequisites", "tools", lambda: False, missing, resumable=False)
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
    steps = [bootstrap.Step("cluster", "cluster", no_cluster, lambda: None, gate=True), *world.steps()[1:]]
    checks = bootstrap.plan(steps)
    assert checks[0].reason == "the API server does not answer."
    assert [c.reason for c in checks[1:]] == ["after cluster"] * 3
    assert world.checks == []


def test_real_steps_in_order() -> None:
    steps = bootstrap.build_steps(resolve("kind"), bootstrap.Options(progress=lambda _: None))
    assert [s.name for s in steps] == ["prerequisites", "cluster", "registry", "images", "argocd",
                                       "sealing-key", "root-app", "synced"]
    assert steps[0].gate and steps[1].gate and not steps[0].resumable


def test_missing_kind_fails_the_real_run_with_one_sentence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tools, "docker_engine", lambda: Path("/usr/bin/docker"))
    monkeypatch.setattr(tools, "locate", lambda name: None if name == "kind" else Path(f"/usr/bin/{name}"))
    target = resolve("kind")
    with pytest.raises(GitOpsError) as info:
        bootstrap.bootstrap(target, bootstrap.Options(progress=lambda _: None))
    message = str(info.value)
    assert message.startswith("kind is not installed; kind 0.33.0 is needed: download https://")
    assert message.count(". ") == 0 and message.endswith(".")


def test_existing_context_needs_only_kubectl() -> None:
    probes = bootstrap.prerequisites(resolve("kind", context="prod-eu"))
    assert len(probes) == 1
    assert len(bootstrap.prerequisites(resolve("kind"))) == 3


def test_argocd_pin_from_versions() -> None:
    version, url = bootstrap.argocd_pin({"platform": {"argocd": {"version": "v3.2.1"}}})
    assert version == "3.2.1"
    assert url == "https://raw.githubusercontent.com/argoproj/argo-cd/v3.2.1/manifests/install.yaml"
    custom = {"platform": {"argocd": {"version": "3.2.1", "install_url": "https://x/i.yaml"}}}
    assert bootstrap.argocd_pin(custom)[1] == "https://x/i.yaml"
    with pytest.raises(GitOpsError, match=r"platform\.argocd\.version"):
        bootstrap.argocd_pin({"platform": {}})


def test_image_version_match() -> None:
    assert bootstrap.image_has_version("quay.io/argoproj/argocd:v3.2.1", "3.2.1")
    assert bootstrap.image_has_version("quay.io/argoproj/argocd:v3.2.1@sha256:" + "a" * 64, "3.2.1")
    assert not bootstrap.image_has_version("quay.io/argoproj/argocd:v3.1.0", "3.2.1")


class FakeCluster(bootstrap.Cluster):
    """Records what would be applied; the API server is the boundary we cannot run here."""

    def __init__(self) -> None:
        super().__init__(resolve("kind"))
        self.applied: list[dict[str, Any]] = []

    def apply_objects(self, objects: Any) -> None:
        self.applied.extend(objects)


def key_step(target_cluster: str, options: bootstrap.Options, cluster: FakeCluster) -> bootstrap.Step:
    target = resolve(target_cluster)
    return next(s for s in bootstrap.build_steps(target, options, cluster) if s.name == "sealing-key")


def test_key_backup_is_restored_through_the_injected_function(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    secret = {"kind": "Secret", "metadata": {"name": "k"}}
    seen: list[Path] = []

    def restore(path: Path) -> list[dict[str, Any]]:
        seen.append(path)
        return [secret]

    cluster = FakeCluster()
    options = bootstrap.Options(key_backup=tmp_path / "key.yaml", restore_key=restore,
                                progress=lambda _: None)
    key_step("kind", options, cluster).do()
    assert seen == [tmp_path / "key.yaml"] and cluster.applied == [secret]


def test_kind_without_backup_gets_a_fresh_key_and_the_next_bootstrap_reuses_it(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from gitops.secrets import keybackup

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    lines: list[str] = []
    restored: list[Path] = []
    cluster = FakeCluster()
    options = bootstrap.Options(fresh_key=lambda: keybackup.fresh_key_secret(bits=2048),
                                progress=lines.append,
                                restore_key=lambda path: restored.append(path) or [{"kind": "Secret"}])
    key_step("kind", options, cluster).do()
    (secret,) = cluster.applied
    assert secret["metadata"]["labels"] == {"sealedsecrets.bitnami.com/sealed-secrets-key": "active"}
    assert base64.b64decode(secret["data"]["tls.crt"]).startswith(b"-----BEGIN CERTIFICATE-----")
    backup = tmp_path / "config" / "tasknote" / "sealed-secrets" / "kind.yaml"
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    assert stat.S_IMODE(backup.parent.stat().st_mode) == 0o700
    assert yaml.safe_load(backup.read_text()) == {"apiVersion": "v1", "kind": "List", "items": [secret]}
    notice = lines[-1]
    assert "\n" not in notice and str(backup) in notice
    assert "./inv secrets.fetch-cert --cluster kind --replace" in notice and "./inv secrets.seal" in notice
    # A new kind cluster later: the same key comes back instead of a third one.
    second = FakeCluster()
    key_step("kind", options, second).do()
    assert restored == [backup] and second.applied == [{"kind": "Secret"}]


def test_k3s_without_backup_refuses_to_invent_a_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    cluster = FakeCluster()
    with pytest.raises(GitOpsError, match="pass --key-backup PATH or put the backup at "):
        key_step("k3s", bootstrap.Options(progress=lambda _: None), cluster).do()
    assert cluster.applied == []


def test_objects_reach_kubectl_on_stdin_never_in_argv(monkeypatch: pytest.MonkeyPatch) -> None:
    from gitops.core import run

    seen: list[tuple[tuple[str, ...], str | None]] = []

    def record(argv: Any, **kwargs: Any) -> run.Result:
        seen.append((tuple(argv), kwargs.get("input_text")))
        return run.Result(tuple(argv), 0, "", "")

    monkeypatch.setattr(tools, "require", lambda name: Path(f"/usr/bin/{name}"))
    monkeypatch.setattr(run, "run", record)
    secret = {"apiVersion": "v1", "kind": "Secret", "data": {"tls.key": "UFJJVkFURQ=="}}
    bootstrap.Cluster(resolve()).apply_objects([secret])
    ((argv, stdin),) = seen
    assert argv == ("/usr/bin/kubectl", "--context", "kind-tasknote", "apply", "--server-side",
                    "--force-conflicts", "-f", "-")
    assert stdin is not None and "UFJJVkFURQ==" in stdin and not any("UFJJ" in a for a in argv)
