"""The six careless prod changes of issue 17 that passed `manifests.check` before the integrity
rules: each, made on a copy of the repository as a kustomize patch in overlays/prod, makes the
real CLI (`python -m invoke manifests.check`, what ./inv runs) exit non-zero naming the rule and
the object. The copy without a mutation passes. Objects and names are this repository's own
(base/tasknote, overlays/prod)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from support import repocopy
from support.checkout import ROOT

COPIED = ("base", "overlays", "argocd", "clusters", "schemas", "versions.yaml")
API = {"kind": "Deployment", "name": "tasknote-api"}
SERVICE = {"kind": "Service", "name": "tasknote-api"}
HPA = {"kind": "HorizontalPodAutoscaler", "name": "tasknote-api"}
CONTAINER = "/spec/template/spec/containers/0"

# (id, patch target, JSON patch ops, rule, object as findings print it)
MUTATIONS = [
    ("hpa-min-above-max", HPA,
     [{"op": "replace", "path": "/spec/minReplicas", "value": 8},
      {"op": "replace", "path": "/spec/maxReplicas", "value": 6}],
     "TN021", "HorizontalPodAutoscaler/tasknote-prod/tasknote-api"),
    ("readiness-on-unlistened-port", API,
     [{"op": "replace", "path": f"{CONTAINER}/readinessProbe/httpGet/port", "value": 8081}],
     "TN022", "Deployment/tasknote-prod/tasknote-api"),
    ("liveness-on-undefined-named-port", API,
     [{"op": "replace", "path": f"{CONTAINER}/livenessProbe/httpGet/port", "value": "health"}],
     "TN022", "Deployment/tasknote-prod/tasknote-api"),
    ("service-selector-typo", SERVICE,
     [{"op": "replace", "path": "/spec/selector/app.kubernetes.io~1component", "value": "apii"}],
     "TN023", "Service/tasknote-prod/tasknote-api"),
    ("service-nodeport", SERVICE,
     [{"op": "replace", "path": "/spec/type", "value": "NodePort"}],
     "TN025", "Service/tasknote-prod/tasknote-api"),
    ("service-loadbalancer-on-k3s", SERVICE,
     [{"op": "replace", "path": "/spec/type", "value": "LoadBalancer"}],
     "TN026", "Service/tasknote-prod/tasknote-api"),
]


def add_patch(kustomization: Path, target: dict[str, str], ops: list[dict[str, object]]) -> None:
    data = yaml.safe_load(kustomization.read_text())
    data.setdefault("patches", []).append({"target": target, "patch": yaml.safe_dump(ops)})
    kustomization.write_text(yaml.safe_dump(data, sort_keys=False))


def manifests_check(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TASKNOTE_ROOT": str(root)}
    return subprocess.run([sys.executable, "-m", "invoke", "manifests.check"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300, check=False)


def test_the_unmutated_copy_passes(tmp_path: Path) -> None:
    result = manifests_check(repocopy.copy_repo(tmp_path / "repo", COPIED))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(("target", "ops", "rule", "ref"), [m[1:] for m in MUTATIONS],
                         ids=[m[0] for m in MUTATIONS])
def test_mutation_fails_check_naming_rule_and_object(
        tmp_path: Path, target: dict[str, str], ops: list[dict[str, object]], rule: str, ref: str) -> None:
    root = repocopy.copy_repo(tmp_path / "repo", COPIED)
    add_patch(root / "overlays" / "prod" / "kustomization.yaml", target, ops)
    result = manifests_check(root)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    findings = [line for line in result.stdout.splitlines() if line.startswith(f"{rule} error ")]
    assert any(f" overlays/prod {ref} " in line for line in findings), output
