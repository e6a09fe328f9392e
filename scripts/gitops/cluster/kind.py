"""kind clusters from clusters/kind/kind-config.yaml: create, delete, load images."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from gitops import config, run, tools
from gitops.cluster import KIND_CLUSTER_NAME
from gitops.errors import GitOpsError


def config_file() -> Path:
    return config.PATHS.cluster("kind") / "kind-config.yaml"


def clusters() -> list[str]:
    kind = tools.require("kind")
    result = run.run([str(kind), "get", "clusters"], timeout=30)
    return [line.strip() for line in result.stdout.splitlines() if line.strip()]


def exists(name: str = KIND_CLUSTER_NAME) -> bool:
    return name in clusters()


def create_argv(kind: Path, name: str, config_path: Path, node_image: str) -> list[str]:
    # --image repeats the pinned node image so a config without one still gets the digest.
    return [str(kind), "create", "cluster", "--name", name, "--config", str(config_path),
            "--image", node_image, "--wait", "120s"]


def create(name: str = KIND_CLUSTER_NAME) -> str:
    """Create the cluster unless it exists; returns its kubeconfig context."""
    kind = tools.require("kind")
    if not exists(name):
        node_image = str(config.version_of("kind", "node_image"))
        if "@sha256:" not in node_image:
            raise GitOpsError(f"versions.yaml kind.node_image {node_image!r} has no digest; pin it.")
        run.stream(create_argv(kind, name, config_file(), node_image), timeout=900)
    return f"kind-{name}"


def delete(name: str = KIND_CLUSTER_NAME) -> bool:
    """Delete the cluster; False when there was none (deleting twice is not an error)."""
    kind = tools.require("kind")
    if not exists(name):
        return False
    run.run([str(kind), "delete", "cluster", "--name", name], timeout=300)
    return True


def node_images(name: str = KIND_CLUSTER_NAME) -> set[str]:
    """Image references present on the control-plane node (what `kind load` already put there)."""
    docker = tools.require("docker")
    result = run.run([str(docker), "exec", f"{name}-control-plane", "crictl", "images", "-o", "json"],
                     timeout=60)

    refs: set[str] = set()
    for image in json.loads(result.stdout).get("images", []):
        refs.update(image.get("repoTags") or [])
        refs.update(image.get("repoDigests") or [])
    return refs


def load_images(refs: Iterable[str], name: str = KIND_CLUSTER_NAME) -> list[str]:
    """Load local images into the nodes (no registry needed for a laptop cluster)."""
    kind = tools.require("kind")
    loaded = []
    for ref in refs:
        run.run([str(kind), "load", "docker-image", "--name", name, ref], timeout=600)
        loaded.append(ref)
    return loaded
