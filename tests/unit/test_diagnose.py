"""The reconcile wait's diagnoses over recorded objects (tests/fixtures/cluster/stuck, whose
README says where each status shape comes from) with the spec taken from this repository's
own manifests; a healthy set must not trip any of them."""

import json
from typing import Any

import pytest
from gitops.verify import diagnose
from support.recorded import FIXTURES, application, dev_image, pod, record, sealed_secret

Obj = dict[str, Any]

def healthy_set() -> tuple[list[Obj], list[Obj], list[Obj]]:
    apps = list(json.loads((FIXTURES / "applications-healthy.json").read_text())["items"])
    pods = [pod("pod-running.json"), pod("pod-first-crash.json")]
    return apps, pods, [sealed_secret("sealedsecret-synced.json")]


def test_records_match_what_this_repository_deploys() -> None:
    # The pull failures are on the overlay's own pin; names are the repo's objects.
    for name in ("pod-image-pull-backoff.json", "pod-err-image-pull.json"):
        assert record(name)["status"]["containerStatuses"][0]["image"] == dev_image()
    assert sealed_secret("sealedsecret-undecryptable.json")["metadata"]["name"] == "tasknote-db"
    keys = sorted(sealed_secret("sealedsecret-undecryptable.json")["spec"]["encryptedData"])
    message = record("sealedsecret-undecryptable.json")["status"]["conditions"][0]["message"]
    assert message == f"no key could decrypt secret ({', '.join(keys)})"


def test_healthy_set_trips_nothing() -> None:
    apps, pods, sealed = healthy_set()
    assert diagnose.diagnose(apps, pods, sealed) == ()


def test_image_pull_backoff_on_a_digest_names_app_pod_and_image() -> None:
    apps, _, _ = healthy_set()
    apps.append(application("application-sealedsecret-degraded.json"))
    found = diagnose.diagnose(apps, [pod("pod-image-pull-backoff.json")])
    pull = next(d for d in found if d.kind == "Pod")
    assert pull.sentence() == (
        f"Application tasknote-dev: Pod tasknote-dev/tasknote-api-6f8d9bcw5q-x2k8p cannot pull {dev_image()} "
        f"(ImagePullBackOff: Back-off pulling image \"{dev_image()}\") for container api; the registry does "
        "not serve that digest: push the image and pin the digest the registry returned (on kind: "
        "./inv dev.sync).")


def test_err_image_pull_on_a_digest_fires_too() -> None:
    [found] = diagnose.pod_diagnoses(pod("pod-err-image-pull.json"), "tasknote-dev")
    assert "(ErrImagePull: rpc error: code = NotFound" in found.cause


def test_pull_failure_on_a_tag_is_not_final() -> None:
    # A tag may still be pushed; only a digest can never appear by waiting.
    obj = pod("pod-image-pull-backoff.json")
    obj["status"]["containerStatuses"][0]["image"] = "localhost:5001/tasknote:0.1.0"
    assert diagnose.pod_diagnoses(obj) == []


def test_crash_loop_after_three_restarts_is_final_and_the_first_crash_is_not() -> None:
    [crash] = diagnose.pod_diagnoses(pod("pod-crashloop.json"), "tasknote-dev")
    assert crash.sentence() == (
        "Application tasknote-dev: Pod tasknote-dev/tasknote-api-6f8d9bcw5q-m9z2w is in CrashLoopBackOff: "
        "container api restarted 5 times, last exit code 1; read why with kubectl -n tasknote-dev logs "
        "tasknote-api-6f8d9bcw5q-m9z2w -c api --previous.")
    assert diagnose.pod_diagnoses(pod("pod-first-crash.json")) == []


def test_undecryptable_sealed_secret_from_its_object_and_from_the_application_counts_once() -> None:
    apps = [application("application-sealedsecret-degraded.json")]
    found = diagnose.diagnose(apps, [], [sealed_secret("sealedsecret-undecryptable.json")])
    assert len(found) == 1
    assert found[0].sentence() == (
        "Application tasknote-dev: SealedSecret tasknote-dev/tasknote-db cannot be decrypted by this "
        "cluster's controller: no key could decrypt secret (DATABASE_URL, POSTGRES_DB, POSTGRES_PASSWORD, "
        "POSTGRES_USER); re-seal it with this cluster's certificate (./inv secrets.seal), or restore the "
        "key it was sealed with (./inv bootstrap --key-backup PATH).")
    assert diagnose.diagnose([], [], [sealed_secret("sealedsecret-undecryptable.json")])[0].application == ""


def test_a_stale_false_condition_is_not_final() -> None:
    assert diagnose.sealed_secret_diagnoses(sealed_secret("sealedsecret-stale.json")) == []


def test_spent_sync_on_the_wanted_revision_is_final_and_a_retrying_one_is_not() -> None:
    [spent] = diagnose.application_diagnoses(application("application-sync-failed.json"))
    assert spent.sentence().startswith(
        "Application tasknote-dev: Application tasknote-dev failed to sync revision 5f1c2a9d4e7b and Argo CD "
        "will not retry the same revision: one or more objects failed to apply, reason: Job.batch "
        "\"tasknote-migrate\" is invalid")
    assert spent.sentence().endswith("publish a new commit (on kind: ./inv dev.sync), or sync it again by "
                                     "hand once the cause is gone.")
    assert diagnose.application_diagnoses(application("application-sync-retrying.json")) == []


def test_a_failed_sync_of_an_older_revision_is_not_final() -> None:
    # Git moved on: automated sync will try the new revision, so waiting can still help.
    app = application("application-sync-failed.json")
    app["status"]["sync"]["revision"] = "9" * 40
    assert diagnose.application_diagnoses(app) == []


@pytest.mark.parametrize("name", ["pod-image-pull-backoff.json", "pod-crashloop.json"])
def test_pods_outside_any_application_say_so(name: str) -> None:
    [found] = diagnose.diagnose([], [pod(name)])
    assert found.sentence().startswith("no Application: Pod tasknote-dev/")


def test_a_diagnosis_must_persist_for_the_grace_period() -> None:
    pull = diagnose.diagnose([], [pod("pod-image-pull-backoff.json")])
    crash = diagnose.diagnose([], [pod("pod-crashloop.json")])
    verdict, seen = diagnose.persisting(pull, {}, now=100, grace_s=30)
    assert verdict is None
    verdict, seen = diagnose.persisting(pull, seen, now=120, grace_s=30)
    assert verdict is None
    verdict, seen = diagnose.persisting(pull + crash, seen, now=130, grace_s=30)
    assert verdict == pull[0]
    # gone for one poll: its clock starts again, while the crash keeps its own
    verdict, seen = diagnose.persisting(crash, seen, now=140, grace_s=30)
    assert verdict is None and set(seen) == {crash[0].key}
    verdict, _ = diagnose.persisting(pull + crash, seen, now=160, grace_s=30)
    assert verdict == crash[0]
