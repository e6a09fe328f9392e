"""Schema validation of rendered objects: Kubernetes kinds and custom resources alike.

Kubernetes kinds are checked against the strict JSON schemas (unknown fields rejected) that
the kubernetes-validate package ships per minor version, at the version versions.yaml
`schemas.kubernetes` names. Custom resources are checked against the schemas converted from
the vendored upstream CRD files under schemas/upstream/<group>/ (gitops.manifests.crds) and, for groups
not vendored yet, against hand-written schemas under schemas/crds/<group>/<version>/<Kind>.yaml;
versions.yaml `schemas.crds` records the release of each group. An object whose kind has no schema is a
problem, never skipped: a typo in `kind:` must not pass silently.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from referencing import Registry, Resource

from gitops.core import config
from gitops.core.config import CRD_DIR, crd_schema_files
from gitops.core.errors import GitOpsError
from gitops.core.repo import Repo
from gitops.manifests import crds, objects, render
from gitops.manifests.render import Rendered

K8S_DEFINITIONS_ID = "https://kubernetes.io/api/_definitions.json"
MAX_ERRORS_PER_OBJECT = 5
# Groups whose kinds Kubernetes itself serves; "" is the core group. Anything else needs a
# schema under schemas/crds (gateway.networking.k8s.io ends in k8s.io but is a CRD group, so
# the CRD store is consulted first).
BUILTIN_GROUPS = frozenset({"", "apps", "batch", "autoscaling", "policy"})


@dataclass(frozen=True)
class Problem:
    """One schema violation: where (target, object, field path) and what."""

    target: str
    ref: str
    path: str
    message: str

    def __str__(self) -> str:
        where = f" at {self.path}" if self.path else ""
        return f"{self.target}: {self.ref}{where}: {self.message}"

    def as_dict(self) -> dict[str, str]:
        return {"target": self.target, "object": self.ref, "path": self.path, "message": self.message}


def object_ref(doc: dict[str, Any]) -> str:
    """kind/namespace/name (kind/name for cluster-scoped or namespace-less objects)."""
    meta = doc.get("metadata")
    if not isinstance(meta, dict):
        meta = {}
    namespace = str(meta["namespace"]) if meta.get("namespace") else ""
    return objects.ref(str(doc.get("kind", "?")), namespace, str(meta.get("name", "?")))


def split_api_version(api_version: str) -> tuple[str, str]:
    group, _, version = api_version.rpartition("/")
    return group, version


def field_path(parts: Iterable[Any]) -> str:
    """jsonschema's path as people write it: spec.template.spec.containers[0].image."""
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


@dataclass(frozen=True)
class SchemaSource:
    """Where the schemas come from, read from versions.yaml `schemas`."""

    kubernetes_version: str
    variant: str
    crd_dir: Path
    root: Path | None = None  # the checkout whose schemas/upstream is read (None: none vendored)


def schema_source(root: Path, versions: dict[str, Any]) -> SchemaSource:
    entry = (versions.get("schemas") or {}).get("kubernetes") or {}
    version = str(entry.get("version") or "")
    if not version:
        raise GitOpsError("versions.yaml has no schemas.kubernetes.version; add the schema version to use.")
    wanted = str((versions.get("kubernetes") or {}).get("version", ""))
    if config.minor(wanted) != config.minor(version):
        raise GitOpsError(
            f"versions.yaml schemas.kubernetes.version {version} is not the minor of kubernetes.version "
            f"{wanted}; use schemas of the same minor."
        )
    return SchemaSource(version, str(entry.get("variant", "local-strict")), root / CRD_DIR, root)


@functools.cache
def _k8s_dir(version: str, variant: str) -> Path:
    base = importlib.resources.files("kubernetes_validate") / "kubernetes-json-schema"
    folder = Path(str(base)) / f"v{version}-{variant}"
    if not folder.is_dir():
        raise GitOpsError(
            f"the kubernetes-validate package in .venv has no {variant} schemas for v{version}; "
            "pin a kubernetes-validate release that ships them (./inv dev.lock)."
        )
    return folder


@functools.cache
def _k8s_registry(version: str, variant: str) -> Registry:
    definitions = json.loads((_k8s_dir(version, variant) / "_definitions.json").read_text(encoding="utf-8"))
    registry: Registry = Registry().with_resource(K8S_DEFINITIONS_ID, Resource.from_contents(definitions))
    return registry


@functools.cache
def _k8s_validator(version: str, variant: str, filename: str) -> Any:
    path = _k8s_dir(version, variant) / filename
    if not path.is_file():
        return None
    schema = json.loads(path.read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema, registry=_k8s_registry(version, variant))


@functools.cache
def _crd_validator(path: Path, version: str, variant: str, mtime_ns: int) -> Any:
    # render's loader: libyaml's when present (the pure-Python one was half of a cold check's
    # validate time), and JSON-like (no implicit timestamps), as a schema is JSON.
    schema = yaml.load(path.read_text(encoding="utf-8"), Loader=render.Loader)  # noqa: S506 (a safe loader)
    if not isinstance(schema, dict):
        raise GitOpsError(f"{path} is not a JSON schema mapping; fix the file.")
    return jsonschema.Draft202012Validator(schema, registry=_k8s_registry(version, variant))


@functools.cache
def _vendored_validator(key: crds.SchemaKey, path: Path, mtime_ns: int, size: int, version: str,
                        variant: str) -> Any:
    schema = crds.converted_file(path)[key]
    return jsonschema.Draft202012Validator(schema, registry=_k8s_registry(version, variant))


class Validators:
    """Finds the validator for an apiVersion and kind; None when no schema knows the kind.
    Vendored upstream CRDs come first, hand-written schemas second, Kubernetes kinds last."""

    def __init__(self, source: SchemaSource) -> None:
        self.source = source
        self.crds = crd_schema_files(source.crd_dir)
        self.vendored: dict[crds.SchemaKey, Path] = {}
        for group in crds.groups(source.root) if source.root is not None else []:
            for entry in group.files:
                path = group.directory / entry.name
                if not path.is_file():
                    raise GitOpsError(f"{path} is listed in {group.directory / crds.SOURCE_FILE} but "
                                      "missing; run ./inv manifests.crds-refresh or restore it from Git.")
                self.vendored.update(dict.fromkeys(crds.converted_file(path), path))

    def warm(self) -> None:
        """Load what every check needs before the first object arrives: the Kubernetes
        definitions registry and each custom resource's validator (run while kubectl renders)."""
        _k8s_registry(self.source.kubernetes_version, self.source.variant)
        for group, version, kind in [*self.vendored, *self.crds]:
            self.for_kind(f"{group}/{version}", kind)

    def for_kind(self, api_version: str, kind: str) -> Any:
        group, version = split_api_version(api_version)
        vendored = self.vendored.get((group, version, kind))
        if vendored is not None:
            stat = vendored.stat()
            return _vendored_validator((group, version, kind), vendored, stat.st_mtime_ns, stat.st_size,
                                       self.source.kubernetes_version, self.source.variant)
        crd = self.crds.get((group, version, kind))
        if crd is not None:
            return _crd_validator(crd, self.source.kubernetes_version, self.source.variant,
                                  crd.stat().st_mtime_ns)
        if group in BUILTIN_GROUPS or group.endswith(".k8s.io"):
            short = group.split(".")[0]
            filename = f"{kind.lower()}-{short}-{version}.json" if group else f"{kind.lower()}-{version}.json"
            return _k8s_validator(self.source.kubernetes_version, self.source.variant, filename)
        return None


def validate_doc(doc: dict[str, Any], target: str, validators: Validators) -> list[Problem]:
    ref = object_ref(doc)
    api_version, kind = doc.get("apiVersion"), doc.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str) or not api_version or not kind:
        return [Problem(target, ref, "", "has no apiVersion or kind; every object needs both")]
    meta = doc.get("metadata")
    if not isinstance(meta, dict) or not meta.get("name"):
        return [Problem(target, ref, "metadata.name", "is missing; every object needs a name")]
    validator = validators.for_kind(api_version, kind)
    if validator is None:
        return [Problem(
            target, ref, "kind",
            f"unknown kind {kind} of {api_version}: no Kubernetes {validators.source.kubernetes_version} "
            f"schema, no vendored CRD under {crds.UPSTREAM_DIR} and no {CRD_DIR}/{api_version}/{kind}.yaml; "
            "fix the kind or vendor its CRD (schemas/README.md)",
        )]
    problems = []
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))
    for error in errors[:MAX_ERRORS_PER_OBJECT]:
        message = " ".join(str(error.message).split())
        problems.append(Problem(target, ref, field_path(error.absolute_path), message[:300]))
    return problems


def validate_docs(docs: Sequence[dict[str, Any]], target: str, validators: Validators) -> list[Problem]:
    return [p for doc in docs for p in validate_doc(doc, target, validators)]


def validators_for(repo: Repo) -> Validators:
    return Validators(schema_source(repo.root, repo.versions))


def validate(rendered: Sequence[Rendered], repo: Repo) -> list[Problem]:
    """Every schema problem of every rendered target, in target order."""
    validators = validators_for(repo)
    return [p for r in rendered for p in validate_docs(r.docs, r.target.name, validators)]
