"""Which base and service images a build or the compose stack uses: the ones pinned by digest in
the Dockerfile and compose file (what every user builds and runs), except where this machine has
an air-gapped stand-in under the same tag (built by `./inv images.airgap`, labelled
org.tasknote.airgap=true), which cannot match a registry digest: then the tag itself.

The Dockerfile takes the images as build arguments with the digest-pinned references as
defaults; the compose file as variables with the same kind of default. Only a stand-in this
project built switches a reference to its tag, so a user's stale local pull never does."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping

from gitops.core import run
from gitops.images.airgap import LABEL as AIRGAP_LABEL

# Build argument of apps/tasknote/Dockerfile -> the tag its digest-pinned default names.
BUILD_ARGS = {"BUILDER_IMAGE": "python:3.13-slim-trixie",
              "RUNTIME_IMAGE": "gcr.io/distroless/python3-debian13:nonroot"}
# Variable of apps/tasknote/compose.yaml -> the tag its digest-pinned default names.
COMPOSE_VARS = {"POSTGRES_IMAGE": "postgres:17-trixie"}

LabelsOf = Callable[[str], Mapping[str, str] | None]


def local_labels(ref: str) -> Mapping[str, str] | None:
    """Labels of a local image, None when the local store has no such image (or no engine)."""
    result = run.run(["docker", "image", "inspect", "-f", "{{json .Config.Labels}}", ref], check=False,
                     timeout=30)
    if result.returncode != 0:
        return None
    labels = json.loads(result.stdout or "null") or {}
    return {str(k): str(v) for k, v in labels.items()}


def standin_overrides(names: Mapping[str, str], labels_of: LabelsOf = local_labels) -> dict[str, str]:
    """variable -> tag, for each image whose local copy is this project's air-gapped stand-in."""
    overrides = {}
    for variable, tag in names.items():
        labels = labels_of(tag)
        if labels is not None and labels.get(AIRGAP_LABEL) == "true":
            overrides[variable] = tag
    return overrides
