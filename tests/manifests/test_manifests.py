"""Every overlay and cluster root renders, validates and passes policy; the checks catch what
they are for (a planted violation on a copy of the repository, an unknown kind, a broken
kustomization). Needs the pinned kubectl from .venv (the manifests tier)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from gitops.core.errors import GitOpsError
from gitops.core.repo import Repo
from gitops.manifests import checks, render, validate
from support import repocopy
from support.checkout import ROOT, this_repo

COPIED = ("base", "overlays", "argocd", "clusters", "schemas", "versions.yaml")


def copy_repo(dest: Path) -> Path:
    """The files the checks read, copied so a test can break them without touching the repo."""
    return repocopy.copy_repo(dest, COPIED)


def add_patch(kustomization: Path, target: dict[str, str], ops: list[dict[str, object]]) -> None:
    data = yaml.safe_load(kustomization.read_text())
    data.setdefault("patches", []).append({"target": target, "patch": yaml.safe_dump(ops)})
    kustomization.write_text(yaml.safe_dump(data, sort_keys=False))


@pytest.mark.parametrize("target", [t.name for t in render.targets(ROOT)])
def test_target_renders_validates_and_passes_policy(target: str) -> None:
    report = checks.run(Repo.at(ROOT), target)
    assert report.targets == [target]
    assert report.problems == [], "\n".join(map(str, report.problems))
    assert report.failures == [], "\n".join(map(str, report.failures))


def test_every_target_renders_something() -> None:
    for result in checks.rendered(Repo.at(ROOT)):
        assert result.docs, f"{result.target.name} rendered no objects"


def invoke_check(root: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """The real CLI, as CI and conformance run it (python -m invoke from the repository)."""
    env = {**os.environ, "TASKNOTE_ROOT": str(root)}
    return subprocess.run([sys.executable, "-m", "invoke", "manifests.check", *extra], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=300, check=False)


def test_removing_prod_readiness_probe_fails_check_naming_rule_and_object(tmp_path: Path) -> None:
    root = copy_repo(tmp_path / "repo")
    add_patch(root / "overlays" / "prod" / "kustomization.yaml",
              {"kind": "Deployment", "name": "tasknote-api"},
              [{"op": "remove", "path": "/spec/template/spec/containers/0/readinessProbe"}])
    result = invoke_check(root)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "TN004" in output
    assert "overlays/prod Deployment/tasknote-prod/tasknote-api" in output
    # Only prod lost its probe: the other overlays are still clean.
    findings = [line for line in result.stdout.splitlines() if line.startswith("TN")]
    assert findings and all(" overlays/prod " in line for line in findings), findings


def test_check_json_format_on_a_copy(tmp_path: Path) -> None:
    root = copy_repo(tmp_path / "repo")
    result = subprocess.run([sys.executable, "-m", "invoke", "manifests.check", "--format", "json",
                             "--root", str(root), "--target", "dev"], cwd=ROOT,
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is True and report["targets"] == ["overlays/dev"]


def test_unknown_kind_is_a_validation_error(tmp_path: Path) -> None:
    root = copy_repo(tmp_path / "repo")
    (root / "overlays" / "dev" / "typo.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deploymnet\nmetadata: {name: typo}\nspec: {}\n"
    )
    data = yaml.safe_load((root / "overlays" / "dev" / "kustomization.yaml").read_text())
    data["resources"].append("typo.yaml")
    (root / "overlays" / "dev" / "kustomization.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    report = checks.run(Repo.at(root), "dev", rules=False)
    assert [(p.ref, p.path) for p in report.problems] == [("Deploymnet/tasknote-dev/typo", "kind")]
    assert "unknown kind Deploymnet" in report.problems[0].message


def test_unknown_custom_resource_is_a_validation_error(tmp_path: Path) -> None:
    root = copy_repo(tmp_path / "repo")
    shutil.rmtree(root / "schemas" / "upstream" / "bitnami.com")  # the vendored SealedSecret CRD
    report = checks.run(Repo.at(root), "dev", rules=False)
    assert any(p.ref.startswith("SealedSecret/") and "unknown kind" in p.message for p in report.problems)


def test_schema_violation_names_the_field(tmp_path: Path) -> None:
    root = copy_repo(tmp_path / "repo")
    add_patch(root / "overlays" / "dev" / "kustomization.yaml",
              {"kind": "Deployment", "name": "tasknote-api"},
              [{"op": "add", "path": "/spec/template/spec/containers/0/readinesProbe", "value": {}}])
    report = checks.run(Repo.at(root), "dev", rules=False)
    assert len(report.problems) == 1, report.problems
    problem = report.problems[0]
    assert problem.ref == "Deployment/tasknote-dev/tasknote-api"
    assert problem.path == "spec.template.spec.containers[0]"
    assert "readinesProbe" in problem.message


def test_render_failure_is_one_sentence_naming_the_target(tmp_path: Path) -> None:
    root = copy_repo(tmp_path / "repo")
    (root / "overlays" / "staging" / "kustomization.yaml").write_text("resources: [missing.yaml]\n")
    with pytest.raises(GitOpsError) as caught:
        checks.run(Repo.at(root))
    message = str(caught.value)
    assert message.startswith("overlays/staging does not render: ")
    assert "missing.yaml" in message
    assert len(message.splitlines()) == 1


def test_render_cache_is_reused_and_invalidated_by_an_edit(tmp_path: Path) -> None:
    root = copy_repo(tmp_path / "repo")
    chosen = render.select(render.targets(root), "dev")
    first = render.render(Repo.at(root), chosen)
    again = render.render(Repo.at(root), chosen)
    assert not first[0].cached and again[0].cached
    assert again[0].docs == first[0].docs
    base_file = root / "base" / "tasknote" / "api-service.yaml"
    base_file.write_text(base_file.read_text() + "\n# an edit in the base\n")
    assert not render.render(Repo.at(root), chosen)[0].cached
    assert not render.render(Repo.at(root), chosen, use_cache=False)[0].cached


def test_fixtures_are_valid_kubernetes_objects() -> None:
    """The policy fixtures are schema-valid, so a rule's finding is about policy, not a typo."""
    validators = validate.validators_for(this_repo())
    fixtures = sorted((Path(__file__).parent / "fixtures" / "policy").glob("*/*.yaml*"))
    assert fixtures
    for path in fixtures:
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
        assert validate.validate_docs(docs, str(path), validators) == []
