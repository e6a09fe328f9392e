"""Facts every area shares: the environments and clusters, versions.yaml parsing, key lookups.

Where the repository is lives in gitops.core.repo (the Repo value), not here.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from gitops.core.errors import GitOpsError

CRD_DIR = Path("schemas") / "crds"  # custom resource schemas: <group>/<version>/<Kind>.yaml
ENVIRONMENTS = ("dev", "staging", "prod")
CLUSTERS = ("kind", "k3s")


def check_environment(env: str) -> str:
    if env not in ENVIRONMENTS:
        raise GitOpsError(f"unknown environment {env!r}; use one of {', '.join(ENVIRONMENTS)}.")
    return env


def check_cluster(name: str) -> str:
    if name not in CLUSTERS:
        raise GitOpsError(f"unknown cluster {name!r}; use one of {', '.join(CLUSTERS)}.")
    return name


def load_versions(path: Path) -> dict[str, Any]:
    """Parse a versions file; a broken one is a one-sentence error, not a traceback."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise GitOpsError(f"{path} is missing; restore it from Git.") from None
    except yaml.YAMLError as exc:
        raise GitOpsError(f"{path} is not valid YAML ({exc}); fix the file.") from None
    if not isinstance(data, dict):
        raise GitOpsError(f"{path} must be a mapping of sections; fix the file.")
    return data


def crd_schema_files(crd_dir: Path) -> dict[tuple[str, str, str], Path]:
    """(group, version, Kind) -> schema file, from schemas/crds/<group>/<version>/<Kind>.yaml."""
    if not crd_dir.is_dir():
        return {}
    return {(p.parent.parent.name, p.parent.name, p.stem): p for p in sorted(crd_dir.glob("*/*/*.yaml"))}


def minor(version: str) -> str:
    """major.minor of a version however it is written: v1.37.1, 1.37.0, v1.37.1+k3s1 -> 1.37."""
    return ".".join(re.findall(r"\d+", version)[:2])


def lookup(data: Any, *keys: str) -> Any:
    """The value at a key path of parsed YAML, or None when a key is missing (or the value null)."""
    node = data
    for key in keys:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node

