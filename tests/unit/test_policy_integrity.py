"""The integrity rules' logic beyond their fixtures: cron ranges as robfig/cron/v3 reads them
(spec.go bounds: minute 0-59, hour 0-23, day of month 1-31, month 1-12 or jan-dec, day of week
0-6 or sun-sat; descriptors and @every; Kubernetes validates CronJob schedules with its
ParseStandard), label selectors, and TN026 reading the cluster's own k3s config."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from gitops.manifests import clusterfacts, policy
from gitops.manifests.policy import integrity
from support.checkout import ROOT

FIXTURES = Path(__file__).parents[1] / "manifests" / "fixtures" / "policy"


@pytest.mark.parametrize("schedule", [
    "0 6 * * *", "*/15 * * * *", "0 0 1 jan *", "30 2 * * mon-fri", "0 0 ? * SUN", "5/20 1-5,7 * * *",
    "@daily", "@every 1h30m", "CRON_TZ=Europe/Berlin 0 6 * * *",
])
def test_valid_schedules(schedule: str) -> None:
    assert integrity.schedule_problem(schedule) == ""


@pytest.mark.parametrize(("schedule", "problem"), [
    ("0 25 * * *", "hour 25 is outside 0-23"),
    ("60 * * * *", "minute 60 is outside 0-59"),
    ("0 0 0 * *", "day of month 0 is outside 1-31"),
    ("0 0 * 13 *", "month 13 is outside 1-12"),
    ("0 0 * * 7", "day of week 7 is outside 0-6"),
    ("0 6 * *", "has 4 fields, not 5"),
    ("*/0 * * * *", "minute step '0' is not a positive number"),
    ("0 5-1 * * *", "hour range 5-1 runs backwards"),
    ("0 0 * * funday", "day of week 'funday' is not a number"),
    ("@fortnightly", "unknown descriptor '@fortnightly'"),
    ("@every soon", "@every needs a Go duration, not 'soon'"),
])
def test_invalid_schedules_say_why(schedule: str, problem: str) -> None:
    assert integrity.schedule_problem(schedule).startswith(problem)


def test_label_selector_match_expressions() -> None:
    labels = {"app": "api", "tier": "web"}
    assert integrity.label_selector_matches({}, labels)
    assert integrity.label_selector_matches({"matchExpressions": [
        {"key": "app", "operator": "In", "values": ["api", "worker"]},
        {"key": "tier", "operator": "NotIn", "values": ["db"]},
        {"key": "tier", "operator": "Exists"}, {"key": "canary", "operator": "DoesNotExist"}]}, labels)
    assert not integrity.label_selector_matches({"matchExpressions": [
        {"key": "app", "operator": "In", "values": ["worker"]}]}, labels)
    assert not integrity.label_selector_matches({"matchLabels": {"app": "api"}, "matchExpressions": [
        {"key": "tier", "operator": "DoesNotExist"}]}, labels)


def test_pdb_uses_the_hpa_minimum_when_an_hpa_scales_the_workload() -> None:
    docs = [d for d in yaml.safe_load_all((FIXTURES / "TN019" / "pass.yaml").read_text()) if d]
    budget = next(d for d in docs if d["kind"] == "PodDisruptionBudget")
    budget["spec"] = {"minAvailable": 3, "selector": budget["spec"]["selector"]}  # HPA minReplicas is 3
    findings = policy.check_docs(docs, "t", "prod", [r for r in integrity.INTEGRITY_RULES if r.id == "TN027"])
    assert [f.message.split(":")[0] for f in findings] == [
        "minAvailable 3 is not below the 3 replicas Deployment/tasknote-api may run"]


# ---- TN026 reads clusters/<name>/config.yaml --------------------------------------------------

def copy_clusters(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "clusters", tmp_path / "clusters")
    return tmp_path


def lb_findings(root: Path, environment: str) -> list[policy.Finding]:
    docs = [d for d in yaml.safe_load_all((FIXTURES / "TN026" / "fail.yaml").read_text()) if d]
    clusters = clusterfacts.running(clusterfacts.load(root), environment, None)
    rule = [r for r in integrity.INTEGRITY_RULES if r.id == "TN026"]
    return policy.check_docs(docs, "t", environment, rule, clusters)


def test_repository_k3s_config_has_no_load_balancer_controller() -> None:
    facts = clusterfacts.load(ROOT)
    assert facts["k3s"].no_load_balancer.startswith("clusters/k3s/config.yaml disables servicelb")
    assert facts["kind"].no_load_balancer == ""  # kind's config says nothing about one
    assert [c.name for c in clusterfacts.running(facts, "prod", None)] == ["k3s"]


def test_loadbalancer_rule_follows_the_k3s_config_not_a_constant(tmp_path: Path) -> None:
    root = copy_clusters(tmp_path)
    assert [f.rule for f in lb_findings(root, "prod")] == ["TN026"]
    k3s_config = root / "clusters" / "k3s" / "config.yaml"
    data = yaml.safe_load(k3s_config.read_text())
    data["disable"] = [c for c in data["disable"] if c != "servicelb"]
    k3s_config.write_text(yaml.safe_dump(data))
    assert lb_findings(root, "prod") == []  # servicelb enabled again: the LoadBalancer gets an address
    k3s_config.write_text("disable: traefik,servicelb\n")  # the flag's comma-separated form
    assert [f.rule for f in lb_findings(root, "prod")] == ["TN026"]


def test_loadbalancer_rule_is_quiet_for_environments_not_on_such_a_cluster(tmp_path: Path) -> None:
    assert lb_findings(copy_clusters(tmp_path), "dev") == []  # dev runs on kind
