"""The checkout the automation works on: its root, its well-known paths and its versions.yaml.

The task layer makes one Repo (`Repo.discover()`) and passes it down; nothing below the task
layer knows where the repository is on its own, so every function can run against another
checkout (tests make a Repo on a temporary copy instead of patching a global).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitops.core.config import CRD_DIR, check_cluster, check_environment, load_versions, lookup
from gitops.core.errors import GitOpsError

# The two files that mark the root of a TaskNote GitOps checkout.
MARKERS = ("versions.yaml", "tasks.py")
ROOT_ENV = "TASKNOTE_ROOT"  # another checkout to work on (a test's copy, a second clone)


@dataclass(frozen=True)
class Repo:
    root: Path
    versions: dict[str, Any] = field(compare=False, repr=False)

    @classmethod
    def at(cls, root: Path) -> Repo:
        """The checkout at root, its versions.yaml parsed once."""
        root = root.resolve()
        return cls(root, load_versions(root / "versions.yaml"))

    @classmethod
    def discover(cls, start: Path | None = None) -> Repo:
        """The checkout holding start (default: the working directory, where ./inv runs)."""
        here = (start or Path.cwd()).resolve()
        for candidate in (here, *here.parents):
            if all((candidate / marker).is_file() for marker in MARKERS):
                return cls.at(candidate)
        raise GitOpsError(f"{here} is not inside a TaskNote GitOps checkout (no versions.yaml and "
                          "tasks.py above it); run ./inv from the repository.")

    @classmethod
    def chosen(cls, root: str = "") -> Repo:
        """--root, else $TASKNOTE_ROOT, else the checkout holding the working directory."""
        given = root or os.environ.get(ROOT_ENV, "")
        if not given:
            return cls.discover()
        path = Path(given).resolve()
        if not (path / "versions.yaml").is_file():
            raise GitOpsError(f"{path} has no versions.yaml; point --root (or {ROOT_ENV}) at a TaskNote "
                              "checkout.")
        return cls.at(path)

    @property
    def versions_file(self) -> Path:
        return self.root / "versions.yaml"

    @property
    def base(self) -> Path:
        return self.root / "base"

    @property
    def overlays(self) -> Path:
        return self.root / "overlays"

    @property
    def argocd(self) -> Path:
        return self.root / "argocd"

    @property
    def clusters(self) -> Path:
        return self.root / "clusters"

    @property
    def app(self) -> Path:
        return self.root / "apps" / "tasknote"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def crd_dir(self) -> Path:
        """Custom resource schemas: schemas/crds/<group>/<version>/<Kind>.yaml."""
        return self.root / CRD_DIR

    def overlay(self, env: str) -> Path:
        return self.overlays / check_environment(env)

    def cluster(self, name: str) -> Path:
        return self.clusters / check_cluster(name)

    def version_of(self, *keys: str) -> Any:
        """A value from versions.yaml by its key path, e.g. version_of("tools", "kind", "version")."""
        value = lookup(self.versions, *keys)
        if value is None:
            depth = next(i for i in range(1, len(keys) + 1) if lookup(self.versions, *keys[:i]) is None)
            raise GitOpsError(f"versions.yaml has no entry {'.'.join(keys[:depth])}; add it.")
        return value
