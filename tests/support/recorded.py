"""Recorded API objects for the wait and its diagnoses: the status parts recorded in
tests/fixtures/cluster (see the README there for where each shape comes from), the spec parts
taken from this repository's own manifests, so they can never drift from what it deploys."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import yaml

from support.checkout import ROOT

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "cluster"
STUCK = FIXTURES / "stuck"
Obj = dict[str, Any]


def repo_doc(path: str, kind: str, name: str | None = None) -> Obj:
    for doc in yaml.safe_load_all((ROOT / path).read_text()):
        if doc and doc.get("kind") == kind and (name is None or doc["metadata"]["name"] == name):
            return dict(doc)
    raise AssertionError(f"{path} has no {kind} {name or ''}")


def dev_image() -> str:
    kustomization = repo_doc("overlays/dev/kustomization.yaml", "Kustomization")
    pin = next(i for i in kustomization["images"] if i["name"] == "tasknote")
    return f"{pin['newName']}:{pin['newTag']}"


def record(name: str) -> Obj:
    return dict(json.loads((STUCK / name).read_text()))


def pod(name: str) -> Obj:
    """A recorded Pod status under the api Deployment's own pod spec (base/tasknote), its
    image the one the recorded status says."""
    obj = record(name)
    deployment = repo_doc("base/tasknote/api-deployment.yaml", "Deployment")
    spec = copy.deepcopy(deployment["spec"]["template"]["spec"])
    spec["containers"][0]["image"] = obj["status"]["containerStatuses"][0]["image"]
    obj["spec"] = spec
    return obj


def sealed_secret(name: str) -> Obj:
    obj = record(name)
    obj["spec"] = repo_doc("overlays/dev/sealed-secrets.yaml", "SealedSecret", "tasknote-db")["spec"]
    return obj


def application(name: str) -> Obj:
    obj = record(name)
    obj["spec"] = repo_doc("argocd/apps/dev/application.yaml", "Application")["spec"]
    return obj
