"""The wait logic over Application and Deployment objects shaped as the API returns them
(tests/fixtures/cluster); the API server itself is the e2e tier's boundary."""

import json
from pathlib import Path
from typing import Any

import pytest
from gitops.core.errors import GitOpsError
from gitops.verify import reconcile
from support.fakeport import FakePort
from support.recorded import application, pod

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "cluster"


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def apps(name: str) -> list[dict[str, Any]]:
    return list(load(f"applications-{name}.json")["items"])


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_healthy_applications_are_ready() -> None:
    snapshot = reconcile.assess(apps("healthy"), [load("deployment-ready.json")])
    assert snapshot.ready
    # Every Application the kind root renders (tests/support/argo_fixtures.py), sorted by name.
    assert [a.name for a in snapshot.apps] == ["platform-argocd", "platform-cert-manager",
                                               "platform-ingress-nginx", "platform-sealed-secrets",
                                               "root-kind", "tasknote-dev"]
    assert snapshot.blockers() == []


def test_root_app_healthy_before_its_children_exist_is_not_ready() -> None:
    snapshot = reconcile.assess(apps("early"))
    assert not snapshot.ready
    assert snapshot.missing == ("tasknote-dev",)
    root = next(a for a in snapshot.apps if a.name == "root-kind")
    assert root.ready and "tasknote-dev" in root.children
    assert "Application platform-ingress-nginx is OutOfSync/Missing" in snapshot.blockers()


def test_progressing_app_reports_the_running_operation_message() -> None:
    dev = next(a for a in reconcile.assess(apps("progressing")).apps if a.name == "tasknote-dev")
    assert (dev.sync, dev.health) == ("Synced", "Progressing")
    assert dev.message == "Running: waiting for healthy state of apps/Deployment/tasknote-api"


def test_comparison_error_condition_is_the_last_message() -> None:
    dev = next(a for a in reconcile.assess(apps("comparison-error")).apps if a.name == "tasknote-dev")
    assert dev.sync == "Unknown"
    assert dev.message.startswith("ComparisonError: Failed to load target state")


@pytest.mark.parametrize(
    ("fixture", "ready", "ready_replicas", "message"),
    [
        ("deployment-ready.json", True, 2, ""),
        ("deployment-rolling.json", False, 5, ""),
        ("deployment-stuck.json", False, 2,
         'ReplicaSet "tasknote-api-7f4b9d6c85" has timed out progressing.'),
        ("deployment-unobserved.json", False, 2, ""),
    ],
)
def test_deployment_rollout_state(fixture: str, ready: bool, ready_replicas: int, message: str) -> None:
    status = reconcile.deployment_status(load(fixture))
    assert (status.ready, status.ready_replicas, status.message) == (ready, ready_replicas, message)


def test_wait_prints_progress_and_returns_after_settling() -> None:
    sequence = [reconcile.assess(apps("early")), reconcile.assess(apps("progressing")),
                reconcile.assess(apps("healthy")), reconcile.assess(apps("healthy"))]
    clock, lines = Clock(), []
    result = reconcile.wait_until_ready(lambda: sequence.pop(0), what="every Application", deadline_s=600,
                                   progress=lines.append, interval_s=5, clock=clock, sleep=clock.sleep)
    assert result.ready and not sequence
    text = "\n".join(lines)
    assert "tasknote-dev" in text and "(not created yet)" in text
    progress_line = next(line for line in lines if "tasknote-dev" in line and "Progressing" in line)
    assert "Synced" in progress_line and "waiting for healthy state" in progress_line
    assert progress_line.startswith("[    5s]")
    assert lines[-1].startswith("every Application: 6 Applications Synced and Healthy after 15 s")


def test_single_healthy_poll_is_not_trusted() -> None:
    sequence = [reconcile.assess(apps("healthy")), reconcile.assess(apps("early")),
                reconcile.assess(apps("healthy")), reconcile.assess(apps("healthy"))]
    clock = Clock()
    reconcile.wait_until_ready(lambda: sequence.pop(0), what="apps", deadline_s=600, progress=lambda _: None,
                          clock=clock, sleep=clock.sleep)
    assert not sequence


def test_timeout_names_the_application_and_its_condition() -> None:
    clock = Clock()
    stuck = reconcile.assess(apps("comparison-error"))
    with pytest.raises(GitOpsError) as info:
        reconcile.wait_until_ready(lambda: stuck, what="every Application", deadline_s=60,
                              progress=lambda _: None, interval_s=10, clock=clock, sleep=clock.sleep)
    message = str(info.value)
    assert "not ready after 60 s" in message
    assert ("Application tasknote-dev is Unknown/Healthy: ComparisonError: Failed to load target state"
            in message)
    assert clock.now == 60


def test_timeout_with_nothing_created_points_at_the_root_app() -> None:
    clock = Clock()
    with pytest.raises(GitOpsError, match="no Argo CD Application appeared within 30 s"):
        reconcile.wait_until_ready(lambda: reconcile.assess([]), what="apps", deadline_s=30,
                                   progress=lambda _: None, clock=clock, sleep=clock.sleep)


def test_heartbeat_when_nothing_changes() -> None:
    clock, lines = Clock(), []
    same = reconcile.assess(apps("progressing"), [load("deployment-rolling.json")])
    with pytest.raises(GitOpsError):
        reconcile.wait_until_ready(lambda: same, what="apps", deadline_s=70, progress=lines.append,
                                   interval_s=5, heartbeat_s=30, clock=clock, sleep=clock.sleep)
    beats = [line for line in lines if "still waiting" in line]
    assert len(beats) == 2 and "tasknote-dev is Synced/Progressing" in beats[0]


def test_observe_cluster_reads_deployments_in_destination_namespaces() -> None:
    port = FakePort()
    port.seed_fixture("applications-progressing.json", "argoproj.io/v1alpha1", "Application")
    rolling = load("deployment-rolling.json")
    rolling.update(apiVersion="apps/v1", kind="Deployment")
    rolling["metadata"]["namespace"] = "tasknote-dev"
    port.seed(rolling)
    port.seed(pod("pod-running.json"))
    snapshot = reconcile.observe_cluster(port)()
    asked = [c[2] for c in port.calls if c[:2] == ("list", "Deployment")]
    assert asked == ["cert-manager", "ingress-nginx", "kube-system", "tasknote-dev"]
    assert [c[2] for c in port.calls if c[:2] == ("list", "Pod")] == asked
    assert [w.name for w in snapshot.workloads] == ["tasknote-api"] and not snapshot.ready
    assert snapshot.stuck == ()


def test_observe_cluster_diagnoses_the_pods_it_reads() -> None:
    port = FakePort()
    port.seed_fixture("applications-progressing.json", "argoproj.io/v1alpha1", "Application")
    port.seed(pod("pod-image-pull-backoff.json"))
    [stuck] = reconcile.observe_cluster(port)().stuck
    assert (stuck.application, stuck.kind) == ("tasknote-dev", "Pod")
    assert stuck.name == "tasknote-api-6f8d9bcw5q-x2k8p"


# --- stopping early on what waiting cannot heal (gitops.verify.diagnose) ------------------


def test_a_healthy_set_is_ready_and_trips_no_diagnosis() -> None:
    snapshot = reconcile.assess(apps("healthy"), [load("deployment-ready.json")],
                                [pod("pod-running.json"), pod("pod-first-crash.json")])
    assert snapshot.ready and snapshot.stuck == ()


def test_an_undecryptable_sealed_secret_stops_the_wait_after_the_grace_not_the_deadline() -> None:
    stuck = reconcile.assess([*apps("healthy")[:-1], application("application-sealedsecret-degraded.json")])
    clock, lines = Clock(), []
    with pytest.raises(GitOpsError) as info:
        reconcile.wait_until_ready(lambda: stuck, what="every Application", deadline_s=900,
                                   progress=lines.append, interval_s=5, stuck_grace_s=60, clock=clock,
                                   sleep=clock.sleep)
    message = str(info.value)
    assert clock.now == 60 and "\n" not in message
    assert message == (
        "stopped waiting for every Application after 60 s, as waiting will not help: Application "
        "tasknote-dev: SealedSecret tasknote-dev/tasknote-db cannot be decrypted by this cluster's "
        "controller: no key could decrypt secret (DATABASE_URL, POSTGRES_DB, POSTGRES_PASSWORD, "
        "POSTGRES_USER); re-seal it with this cluster's certificate (./inv secrets.seal), or restore the "
        "key it was sealed with (./inv bootstrap --key-backup PATH).")
    assert sum("stuck? Application tasknote-dev: SealedSecret" in line for line in lines) == 1


def test_a_diagnosis_that_clears_does_not_stop_the_wait() -> None:
    pulling = reconcile.assess(apps("progressing"), [], [pod("pod-image-pull-backoff.json")])
    sequence = [pulling, pulling, reconcile.assess(apps("progressing"), [], [pod("pod-running.json")]),
                pulling, reconcile.assess(apps("healthy")), reconcile.assess(apps("healthy"))]
    clock = Clock()
    result = reconcile.wait_until_ready(lambda: sequence.pop(0), what="apps", deadline_s=900,
                                        progress=lambda _: None, interval_s=20, stuck_grace_s=30,
                                        clock=clock, sleep=clock.sleep)
    assert result.ready and not sequence


def test_a_spent_sync_stops_the_wait_with_its_reason() -> None:
    spent = reconcile.assess([application("application-sync-failed.json")])
    clock = Clock()
    with pytest.raises(GitOpsError, match=r"after 30 s, as waiting will not help: Application tasknote-dev: "
                                          r"Application tasknote-dev failed to sync revision 5f1c2a9d4e7b"):
        reconcile.wait_until_ready(lambda: spent, what="apps", deadline_s=900, progress=lambda _: None,
                                   interval_s=10, stuck_grace_s=30, clock=clock, sleep=clock.sleep)


def test_rollout_done_for_deployments_and_statefulsets() -> None:
    assert reconcile.rollout_done(load("deployment-ready.json") | {"kind": "Deployment"})[0]
    assert not reconcile.rollout_done(load("deployment-rolling.json") | {"kind": "Deployment"})[0]
    assert reconcile.rollout_done(None) == (False, "not created yet")
    # apps/v1 StatefulSetStatus fields, as the API returns them for argocd-application-controller.
    sts = {"kind": "StatefulSet", "metadata": {"name": "argocd-application-controller", "generation": 2},
           "spec": {"replicas": 1},
           "status": {"observedGeneration": 2, "replicas": 1, "readyReplicas": 1, "updatedReplicas": 1}}
    assert reconcile.rollout_done(sts) == (True, "1/1 ready, 1 updated")
    sts["status"]["observedGeneration"] = 1
    assert not reconcile.rollout_done(sts)[0]
