"""Pure logic of render/validate/policy: image references, hashing, paths, rule edge cases."""

from __future__ import annotations

from pathlib import Path

import pytest
from gitops.core import imageref
from gitops.core.errors import GitOpsError
from gitops.manifests import policy, render, validate
from gitops.manifests.policy import argocd, rules, workloads

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("ref", "repository", "tag", "digest"),
    [
        ("postgres", "postgres", None, None),
        ("postgres:17-trixie", "postgres", "17-trixie", None),
        (f"ghcr.io/tasknote/tasknote:0.1.0@{DIGEST}", "ghcr.io/tasknote/tasknote", "0.1.0", DIGEST),
        (f"localhost:5001/tasknote@{DIGEST}", "localhost:5001/tasknote", None, DIGEST),
        ("localhost:5001/tasknote", "localhost:5001/tasknote", None, None),
        ("localhost:5001/team/tasknote:1.2", "localhost:5001/team/tasknote", "1.2", None),
    ],
)
def test_image_reference_parsing(ref: str, repository: str, tag: str | None, digest: str | None) -> None:
    parsed = imageref.parse(ref)
    assert (parsed.repository, parsed.tag, parsed.digest) == (repository, tag, digest)


def test_only_a_full_sha256_digest_counts_as_pinned() -> None:
    assert imageref.parse(f"x:1@{DIGEST}").pinned
    assert not imageref.parse("x:1@sha256:abc").pinned
    assert not imageref.parse("x:1@sha256:" + "AB" * 32).pinned  # digests are lower-case hex
    assert not imageref.parse("x:1").pinned
    assert imageref.parse("docker.io/library/postgres:17").name == "postgres"


@pytest.mark.parametrize(
    ("revision", "pinned"),
    [("v3.4.12", True), ("37.3.0", True), ("0123abc4", True), ("HEAD", False), ("", False),
     ("main", False), ("stable", False), ("4.*", False), ("^4.1.0", False), ("1.x", False),
     (">=1.0.0", False)],
)
def test_pinned_revision(revision: str, pinned: bool) -> None:
    assert argocd.pinned_revision(revision) is pinned


def test_probe_tolerance_uses_kubernetes_defaults() -> None:
    assert workloads.tolerance_s({}) == 30
    assert workloads.tolerance_s({"failureThreshold": 6, "periodSeconds": 10}) == 60


def test_field_path_and_object_ref() -> None:
    assert validate.field_path(["spec", "template", "spec", "containers", 0, "image"]) == \
        "spec.template.spec.containers[0].image"
    assert validate.object_ref({"kind": "Namespace", "metadata": {"name": "x"}}) == "Namespace/x"
    service = {"kind": "Service", "metadata": {"name": "a", "namespace": "n"}}
    assert validate.object_ref(service) == "Service/n/a"
    assert validate.object_ref({"kind": "Pod", "metadata": "not a mapping"}) == "Pod/?"


def test_tree_hash_follows_content_and_names(tmp_path: Path) -> None:
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "a.yaml").write_text("a: 1\n")
    first = render.tree_hash(tmp_path)
    assert render.tree_hash(tmp_path) == first
    (tmp_path / "base" / "a.yaml").write_text("a: 2\n")
    second = render.tree_hash(tmp_path)
    assert second != first
    (tmp_path / "base" / "a.yaml").rename(tmp_path / "base" / "b.yaml")
    third = render.tree_hash(tmp_path)
    assert third not in (first, second)
    (tmp_path / "elsewhere.txt").write_text("not an input\n")
    assert render.tree_hash(tmp_path) == third


def test_cache_key_differs_per_target_and_tool() -> None:
    dev, prod = render.targets(Path("/r"))[0], render.targets(Path("/r"))[2]
    assert render.cache_key("t", dev, "k1") != render.cache_key("t", prod, "k1")
    assert render.cache_key("t", dev, "k1") != render.cache_key("t", dev, "k2")


def test_yaml_dates_stay_strings() -> None:
    docs = render.parse_stream("a: 2026-01-01\n---\n---\nb: 1\n", "test")
    assert docs == [{"a": "2026-01-01"}, {"b": 1}]


def test_non_mapping_document_is_an_error() -> None:
    with pytest.raises(GitOpsError, match="not a mapping"):
        render.parse_stream("- a\n- b\n", "test")


def test_select_targets_by_short_name() -> None:
    all_targets = render.targets(Path("/r"))
    assert [t.name for t in render.select(all_targets, "prod")] == ["overlays/prod"]
    assert [t.name for t in render.select(all_targets, "k3s")] == ["argocd/clusters/k3s"]
    with pytest.raises(GitOpsError, match="no render target named 'qa'"):
        render.select(all_targets, "qa")


def deployment(**container: object) -> dict[str, object]:
    base: dict[str, object] = {"name": "api", "image": f"x:1@{DIGEST}"}
    base.update(container)
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "api", "namespace": "n"},
            "spec": {"template": {"spec": {"containers": [base]}}}}


def messages(rule_id: str, *docs: dict[str, object]) -> list[str]:
    chosen = [r for r in rules.RULES if r.id == rule_id]
    return [f.message for f in policy.check_docs(list(docs), "t", "prod", chosen)]


def test_suppression_needs_a_reason() -> None:
    doc = deployment()
    annotations = {"policy.tasknote.dev/skip-TN004": " "}
    doc["metadata"] = {"name": "api", "namespace": "n", "annotations": annotations}
    assert messages("TN004", doc)  # an empty reason does not suppress
    annotations["policy.tasknote.dev/skip-TN004"] = "batch consumer, no traffic"
    assert messages("TN004", doc) == []


def test_latest_with_a_digest_is_still_named_latest() -> None:
    assert messages("TN001", deployment(image=f"x:latest@{DIGEST}"))
    assert messages("TN001", deployment(image=f"x@{DIGEST}")) == []


def test_liveness_with_initial_delay_needs_no_startup_probe() -> None:
    live = {"httpGet": {"path": "/healthz", "port": 8000}, "initialDelaySeconds": 15,
            "failureThreshold": 3, "periodSeconds": 10}
    ready = {"httpGet": {"path": "/ready", "port": 8000}, "periodSeconds": 5}
    assert messages("TN006", deployment(livenessProbe=live, readinessProbe=ready)) == []
    eager = {**live, "initialDelaySeconds": 0}
    assert messages("TN006", deployment(livenessProbe=eager, readinessProbe=ready))


def test_cluster_scoped_kinds_need_no_namespace() -> None:
    assert messages("TN010", {"kind": "ClusterRole", "metadata": {"name": "r"}}) == []
    assert messages("TN010", {"kind": "Role", "metadata": {"name": "r"}})


def test_pdb_counts_hpa_min_replicas() -> None:
    dep = deployment()
    dep["spec"]["template"]["metadata"] = {"labels": {"app": "api"}}  # type: ignore[index]
    hpa = {"kind": "HorizontalPodAutoscaler", "metadata": {"name": "api", "namespace": "n"},
           "spec": {"minReplicas": 2, "scaleTargetRef": {"kind": "Deployment", "name": "api"}}}
    assert messages("TN018", dep) == []
    assert messages("TN018", dep, hpa)


def test_own_repository_sources_may_track_a_branch() -> None:
    app = {"kind": "Application", "metadata": {"name": "dev", "namespace": "argocd"},
           "spec": {"source": {"repoURL": "https://git.example/t.git", "path": "overlays/dev",
                               "targetRevision": "main"}}}
    assert messages("TN017", app) == []
    app["spec"]["source"]["path"] = "charts/other"  # type: ignore[index]
    assert messages("TN017", app)


def test_schema_minor_must_match_the_cluster() -> None:
    with pytest.raises(GitOpsError, match="same minor"):
        validate.schema_source(Path("/r"), {"kubernetes": {"version": "1.37.1"},
                                            "schemas": {"kubernetes": {"version": "1.36.0"}}})


def test_prune_cache_keeps_the_current_and_newest_entries(tmp_path: Path) -> None:
    import os

    for i in range(6):
        entry = tmp_path / f"{i}.json"
        entry.write_text("[]")
        os.utime(entry, (1000 + i, 1000 + i))
    render.prune_cache(tmp_path, keep={"0.json"}, limit=3)
    assert sorted(p.name for p in tmp_path.glob("*.json")) == ["0.json", "4.json", "5.json"]
