"""Every rule fires on its failing fixture and stays quiet on its passing one; pass fixtures are
clean of every rule. Pure Python (no kubectl), so it runs with the unit tier; the fixtures stay
with the manifests tier and are read from there by path."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from gitops.manifests import clusterfacts, policy
from gitops.manifests.policy.rules import RULES
from support.checkout import ROOT

FIXTURES = Path(__file__).parents[1] / "manifests" / "fixtures" / "policy"
# Fixtures are prod objects, checked as landing where this repository runs prod: the clusters
# whose clusters/<name>/cluster.yaml lists it (k3s, whose config.yaml disables servicelb).
PROD_CLUSTERS = clusterfacts.running(clusterfacts.load(ROOT), "prod", None)


def check(docs: list[dict[str, object]], target: str,
          rules: list[policy.Rule] | None = None) -> list[policy.Finding]:
    return policy.check_docs(docs, target, "prod", rules, PROD_CLUSTERS)


def fixture(rule_id: str, which: str) -> Path:
    """<id>/<which>.yaml, or <which>.yaml.txt where the secret scanner must not see a YAML file
    (TN009's plaintext Secret)."""
    plain = FIXTURES / rule_id / f"{which}.yaml"
    return plain if plain.is_file() else plain.with_name(f"{which}.yaml.txt")


def load(rule_id: str, which: str) -> list[dict[str, object]]:
    return [d for d in yaml.safe_load_all(fixture(rule_id, which).read_text()) if d]


def test_every_rule_has_both_fixtures_and_no_fixture_is_orphaned() -> None:
    ids = [r.id for r in RULES]
    assert len(ids) == len(set(ids)), "duplicate rule ids"
    for rule_id in ids:
        assert fixture(rule_id, "fail").is_file(), f"{rule_id} has no fail fixture"
        assert fixture(rule_id, "pass").is_file(), f"{rule_id} has no pass fixture"
    assert sorted(p.name for p in FIXTURES.iterdir() if p.is_dir()) == sorted(ids)


def test_every_rule_says_why_and_how_to_fix() -> None:
    for rule in RULES:
        assert rule.severity in ("error", "warning")
        assert rule.rationale.strip().endswith(".") and rule.fix.strip(), rule.id


@pytest.mark.parametrize("rule", RULES, ids=lambda r: f"{r.id}-{r.name}")
def test_rule_fires_on_its_fail_fixture(rule: policy.Rule) -> None:
    findings = check(load(rule.id, "fail"), f"fixture/{rule.id}", [rule])
    assert findings, f"{rule.id} did not fire on its fail fixture"
    assert all(f.rule == rule.id and f.kind and f.name and f.message for f in findings)


@pytest.mark.parametrize("rule", RULES, ids=lambda r: f"{r.id}-{r.name}")
def test_pass_fixture_is_clean_of_every_rule(rule: policy.Rule) -> None:
    findings = check(load(rule.id, "pass"), f"fixture/{rule.id}")
    assert findings == [], "\n".join(map(str, findings))


@pytest.mark.parametrize("rule", RULES, ids=lambda r: f"{r.id}-{r.name}")
def test_annotation_with_a_reason_suppresses_only_that_rule(rule: policy.Rule) -> None:
    docs = load(rule.id, "fail")
    before = check(docs, "fixture")
    assert any(f.rule == rule.id for f in before)
    for doc in docs:
        meta = doc.setdefault("metadata", {})
        assert isinstance(meta, dict)
        reason = "fixture: accepted on purpose"
        meta.setdefault("annotations", {})[f"{policy.SKIP_ANNOTATION}{rule.id}"] = reason
    assert check(docs, "fixture", [rule]) == []
    assert check(docs, "fixture") == [f for f in before if f.rule != rule.id]


def test_policy_readme_lists_every_rule() -> None:
    readme = (Path(policy.__file__).parent / "README.md").read_text()
    for rule in RULES:
        assert f"| {rule.id} | {rule.name} |" in readme, f"{rule.id} missing from policy/README.md"
