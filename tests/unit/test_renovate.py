"""Renovate tracks every pin: each pin of versions.yaml (gitops.manifests.pinned, by key, so new
entries are checked without editing this test) lies inside a match of a custom regex manager of
renovate.json that will rewrite it (its version is the match's currentValue or contains it; its
checksum or digest is the match's currentDigest), every manager matches something, and the
built-in managers are pointed at the files the pins checks read. The regexes are applied with
Python's re as tests/support/renovate.py explains (JS named groups, RE2 limits)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from gitops.manifests import pinned
from support import renovate
from support.checkout import ROOT

CONFIG: dict[str, Any] = json.loads((ROOT / "renovate.json").read_text())
FILES = renovate.repository_files(ROOT)  # walked once: the air-gap rootfs is large
DIGEST_KEYS = ("sha256", "digest")


def uncovered(root: Path, cfg: dict[str, Any] = CONFIG) -> list[str]:
    """Pins of root/versions.yaml no manager rewrites, each with why."""
    text = (root / "versions.yaml").read_text()
    found = [m for m in renovate.matches(cfg, root, ["versions.yaml"])]
    problems = []
    for pin in pinned.pins_of(text):
        around = [m for m in found if m.start <= pin.start and pin.end <= m.end]
        covered = False
        for match in around:
            value, digest = match.groups.get("currentValue", ""), match.groups.get("currentDigest", "")
            if pin.key in DIGEST_KEYS:
                covered |= bool(digest) and pin.value.endswith(digest)
            elif "@sha256:" in pin.value:  # name:tag@digest: both parts must be tracked
                covered |= bool(value) and value in pin.value and bool(digest) and pin.value.endswith(digest)
            else:
                covered |= bool(value) and value in pin.value
        if not covered:
            problems.append(f"{pin.path} = {pin.value!r}: no renovate.json manager rewrites it")
    return problems


def test_every_pin_of_versions_yaml_is_rewritten_by_a_manager() -> None:
    assert uncovered(ROOT) == []


def test_the_pin_list_is_the_whole_of_versions_yaml() -> None:
    paths = {p.path for p in pinned.pins_of((ROOT / "versions.yaml").read_text())}
    # one of each kind the pins checks read (gitops.manifests.pins)
    for path in ("kubernetes.version", "tools.kind.url", "tools.kind.sha256", "tools.k3s.image",
                 "kind.node_image", "images.postgres.digest", "platform.traefik.version",
                 "schemas.kubernetes.package", "schemas.crds.bitnami.com.version", "tools.kubectl.pypi",
                 "platform.argocd.url", "base_images.images[python:3.13-slim-trixie]"):
        assert path in paths, path
    assert not any(p.startswith(("repository.", "tools.docker.")) for p in paths)


def test_every_custom_manager_matches_something() -> None:
    hits = {m.manager for m in renovate.matches(CONFIG, ROOT, FILES)}
    for index, manager in enumerate(CONFIG["customManagers"]):
        assert index in hits, f"customManagers[{index}] ({manager['description'][:60]}) matches nothing"


def test_every_match_names_a_dependency_a_datasource_and_a_value() -> None:
    for match in renovate.matches(CONFIG, ROOT, FILES):
        manager = CONFIG["customManagers"][match.manager]
        assert match.template(manager, "depName"), (match.file, match.groups)
        assert match.template(manager, "datasource") in (
            "docker", "github-releases", "github-release-attachments", "pypi", "helm"), match.groups
        assert match.groups.get("currentValue"), (match.file, match.groups)


def test_a_version_and_its_checksum_are_one_dependency() -> None:
    """versions.yaml tools.<binary>: version, url and sha256 in one match, so one update rewrites
    all three (auto-replace rewrites currentValue and currentDigest inside the matched text)."""
    text = (ROOT / "versions.yaml").read_text()
    binaries = [p for p in pinned.pins_of(text) if p.key == "sha256"]
    assert binaries
    matches = list(renovate.matches(CONFIG, ROOT, ["versions.yaml"]))
    for checksum in binaries:
        tool = checksum.path.rsplit(".", 1)[0]
        wanted = (f"{tool}.version", f"{tool}.url", checksum.path)
        parts = [p for p in pinned.pins_of(text) if p.path in wanted]
        assert len(parts) == 3, tool
        one = [m for m in matches if all(m.start <= p.start and p.end <= m.end for p in parts)]
        assert one and CONFIG["customManagers"][one[0].manager]["datasourceTemplate"] == \
            "github-release-attachments", tool
        assert one[0].groups["currentValue"] in parts[1].value, f"{tool}.url does not spell the version"


def test_kind_config_node_images_are_tracked() -> None:
    text = (ROOT / "clusters" / "kind" / "kind-config.yaml").read_text()
    images = text.count("image: kindest/node:")
    found = [m for m in renovate.matches(CONFIG, ROOT, ["clusters/kind/kind-config.yaml"])]
    assert images and len(found) == images
    assert all(m.groups.get("currentDigest", "").startswith("sha256:") for m in found)


@pytest.mark.parametrize(("manager", "files"), [
    ("argocd", ["argocd/platform/common/argocd.yaml", "argocd/platform/common/sealed-secrets.yaml",
                "argocd/platform/k3s/traefik.yaml", "argocd/platform/kind/ingress-nginx.yaml"]),
    ("kubernetes", ["base/tasknote/postgres.yaml", "base/tasknote/redis.yaml"]),
    ("dockerfile", ["apps/tasknote/Dockerfile", "airgap/postgres/Dockerfile", "airgap/python/Dockerfile"]),
    ("docker-compose", ["apps/tasknote/compose.yaml"]),
    ("github-actions", [".github/workflows/pull-request.yaml", ".github/workflows/nightly.yaml"]),
    ("pip-compile", ["requirements.lock"]),
])
def test_builtin_managers_are_pointed_at_the_pinned_files(manager: str, files: list[str]) -> None:
    """The argocd and kubernetes managers match no file by default (docs.renovatebot.com/modules/
    manager/argocd/ and .../kubernetes/); the others are given their files explicitly too."""
    patterns = CONFIG[manager]["managerFilePatterns"]
    for relative in files:
        assert (ROOT / relative).is_file(), relative
        assert renovate.file_matches(patterns, relative), (manager, relative)
    assert not any(renovate.file_matches(patterns, f) for f in ("overlays/prod/kustomization.yaml",)
                   if manager in ("argocd", "kubernetes"))


def test_overlays_stay_with_the_release_tasks() -> None:
    assert "overlays/**" in CONFIG["ignorePaths"] and "tasknote" in CONFIG["ignoreDeps"]


def test_re2_limits_are_enforced_when_reading_a_pattern() -> None:
    with pytest.raises(ValueError, match="lookaround"):
        renovate.to_python(r"version: (?!0)(?<currentValue>\d+)")
    found = renovate.to_python(r"(?<currentValue>\d+)").match("12")
    assert found is not None and found.groupdict() == {"currentValue": "12"}


# ---- data-driven: entries other issues add are checked without touching this test --------------

def copy_versions(tmp_path: Path, extra: str) -> Path:
    shutil.copy2(ROOT / "versions.yaml", tmp_path / "versions.yaml")
    with (tmp_path / "versions.yaml").open("a") as handle:
        handle.write(extra)
    return tmp_path


def test_new_entries_in_the_known_layouts_are_covered(tmp_path: Path) -> None:
    root = copy_versions(tmp_path, """
more_tools:
  helm:
    version: "3.19.0"
    url: https://github.com/helm/helm/releases/download/v3.19.0/helm-v3.19.0-linux-amd64.tar.gz
    sha256: 0000000000000000000000000000000000000000000000000000000000000001
more_images:
  gitserver:
    ref: docker.io/gitea/gitea:1.24.6
    digest: sha256:0000000000000000000000000000000000000000000000000000000000000002
more_platform:
  cert_manager:
    repo: https://charts.jetstack.io
    chart: cert-manager
    version: "1.19.1"
""")
    assert uncovered(root) == []


def test_a_new_entry_in_an_unknown_layout_is_reported(tmp_path: Path) -> None:
    root = copy_versions(tmp_path, """
more_tools:
  helm:
    url: https://github.com/helm/helm/releases/download/v3.19.0/helm-v3.19.0-linux-amd64.tar.gz
    sha256: 0000000000000000000000000000000000000000000000000000000000000001
    version: "3.19.0"
""")
    assert uncovered(root) == [
        "more_tools.helm.url = 'https://github.com/helm/helm/releases/download/v3.19.0/helm-v3.19.0-linux-"
        "amd64.tar.gz': no renovate.json manager rewrites it",
        "more_tools.helm.sha256 = '0000000000000000000000000000000000000000000000000000000000000001': "
        "no renovate.json manager rewrites it",
        "more_tools.helm.version = '3.19.0': no renovate.json manager rewrites it",
    ]
