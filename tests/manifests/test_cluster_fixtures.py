"""The recorded Application objects the wait and conformance tests read (tests/fixtures/cluster)
are this repository's own: their spec is what argocd/clusters/kind renders today, their projects
and sources are the real ones, their uids are UUIDs. Regenerate them with
`.venv/bin/python tests/support/argo_fixtures.py` after editing argocd/ (issue 14, defect 13).
Needs the pinned kubectl (the manifests tier)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from support import argo_fixtures
from support.checkout import this_repo

COMMITTED = {name: (argo_fixtures.FIXTURES / name).read_text() for name in
             (f"applications-{s}.json" for s in argo_fixtures.SCENARIOS)}


def items(name: str) -> list[dict[str, Any]]:
    return list(json.loads(COMMITTED[name])["items"])


def test_fixtures_are_what_the_repository_renders_today() -> None:
    rebuilt = argo_fixtures.build_all()
    stale = [name for name, text in rebuilt.items() if COMMITTED[name] != text]
    assert stale == [], (f"{', '.join(stale)} no longer match argocd/; regenerate with "
                         ".venv/bin/python tests/support/argo_fixtures.py")


@pytest.mark.parametrize("name", sorted(COMMITTED))
def test_projects_sources_and_uids_are_real(name: str) -> None:
    for app in items(name):
        meta, spec = app["metadata"], app["spec"]
        assert uuid.UUID(meta["uid"]).version == 5
        expected_project = ("default" if meta["name"].startswith("root-") else
                            "platform" if meta["name"].startswith("platform-") else "tasknote")
        assert spec["project"] == expected_project, meta["name"]
        source = spec["source"]
        if source["repoURL"] == this_repo().versions["repository"]["url"]:
            assert (this_repo().root / source["path"]).is_dir(), f"{meta['name']} points at a missing path"


def test_healthy_has_every_application_of_the_kind_root() -> None:
    names = {app["metadata"]["name"] for app in items("applications-healthy.json")}
    assert {"root-kind", "platform-argocd", "platform-cert-manager", "platform-sealed-secrets",
            "platform-ingress-nginx", "tasknote-dev"} == names
