"""The platform controllers run the image digests versions.yaml records: each digest under
platform.<name>.images is what the Application's Helm values set (cert-manager and ingress-nginx
take `image.digest`, "Setting a digest will override any tag": cert-manager's and ingress-nginx's
chart values). A digest changed in one place and not the other fails here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from support.checkout import this_repo

PLATFORM = this_repo().root / "argocd" / "platform"
# Where each chart takes a component's digest, as a path into the Application's valuesObject.
DIGEST_PATHS: dict[str, dict[str, tuple[str, ...]]] = {
    "cert_manager": {"controller": ("image", "digest"), "webhook": ("webhook", "image", "digest"),
                     "cainjector": ("cainjector", "image", "digest")},
    "ingress_nginx": {"controller": ("controller", "image", "digest")},
}


def applications_of(chart: str) -> list[tuple[Path, dict[str, Any]]]:
    found = []
    for path in sorted(PLATFORM.glob("*/*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if isinstance(doc, dict) and doc.get("kind") == "Application" and \
                    (doc["spec"].get("source") or {}).get("chart") == chart:
                found.append((path, doc))
    return found


def dig(values: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        values = (values or {}).get(key) or {}
    return values or None


@pytest.mark.parametrize("key", sorted(DIGEST_PATHS))
def test_platform_application_values_carry_the_pinned_digests(key: str) -> None:
    entry = this_repo().versions["platform"][key]
    apps = applications_of(entry["chart"])
    assert apps, f"no Application installs chart {entry['chart']}"
    for name, ref in entry["images"].items():
        tag_part, _, digest = ref.partition("@")
        assert digest.startswith("sha256:") and len(digest) == 71, ref
        if key == "cert_manager":
            assert tag_part.endswith(":" + entry["version"]), f"{ref} is not the chart's version"
        for path, app in apps:
            values = app["spec"]["source"]["helm"]["valuesObject"]
            assert dig(values, DIGEST_PATHS[key][name]) == digest, f"{path.name}: {name}"


def test_every_cert_manager_application_is_the_pinned_chart() -> None:
    entry = this_repo().versions["platform"]["cert_manager"]
    apps = applications_of("cert-manager")
    assert {p.parent.name for p, _ in apps} == {"kind", "k3s"}
    for _, app in apps:
        assert app["spec"]["source"]["repoURL"] == entry["repo"]
        assert app["spec"]["source"]["targetRevision"] == entry["version"]
