"""What each cluster of the repository says about itself that a manifest rule needs: which
environments it runs (clusters/<name>/cluster.yaml) and whether it has a load-balancer
controller (a k3s server whose clusters/k3s/config.yaml `disable:` list names servicelb has none:
https://docs.k3s.io/networking/networking-services, "ServiceLB ... To disable it, start each
server with --disable=servicelb"; the config file takes the same options as the flags).

Pure reads of the checkout; the policy rules get the result as data through their Context.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


@dataclass(frozen=True)
class ClusterFacts:
    name: str
    environments: tuple[str, ...]
    # Why a LoadBalancer Service never gets an address there ("" when the cluster has a
    # controller or says nothing about it).
    no_load_balancer: str = ""


def _yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None


def k3s_disabled(config: Any) -> list[str]:
    """Components a k3s config.yaml disables: `disable` as a list or a comma-separated string."""
    value = config.get("disable") if isinstance(config, dict) else None
    items = value if isinstance(value, list) else str(value or "").split(",")
    return [str(item).strip() for item in items if str(item).strip()]


def read(root: Path, name: str) -> ClusterFacts:
    directory = root / "clusters" / name
    described = _yaml(directory / "cluster.yaml")
    described = described if isinstance(described, dict) else {}
    environments = tuple(str(e) for e in described.get("environments") or [])
    reason = ""
    if described.get("kind") == "k3s" and "servicelb" in k3s_disabled(_yaml(directory / "config.yaml")):
        reason = f"clusters/{name}/config.yaml disables servicelb, k3s's built-in load-balancer controller"
    return ClusterFacts(name, environments, reason)


def load(root: Path) -> dict[str, ClusterFacts]:
    """Every cluster under clusters/ that has a cluster.yaml."""
    base = root / "clusters"
    if not base.is_dir():
        return {}
    return {d.name: read(root, d.name) for d in sorted(base.iterdir()) if (d / "cluster.yaml").is_file()}


def running(facts: dict[str, ClusterFacts], environment: str | None,
            cluster: str | None) -> tuple[ClusterFacts, ...]:
    """The clusters a target's objects land on: the named cluster (a cluster root) or every
    cluster that runs the environment (an overlay)."""
    return tuple(f for f in facts.values()
                 if (cluster is not None and f.name == cluster)
                 or (environment is not None and environment in f.environments))
