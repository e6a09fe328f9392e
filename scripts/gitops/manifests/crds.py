"""Vendored upstream CRD files: their provenance record and their conversion to JSON Schema.

A group's upstream CustomResourceDefinition files live, byte for byte as the project publishes
them, under schemas/upstream/<group>/, beside a source.yaml that records the release they are of,
where each came from and its sha256 (gitops.manifests.pins fails when a file was edited or its release is
not the pinned one). The validator never reads a hand-copied schema for such a group: it asks
`vendored_schemas`, which converts each served version's `openAPIV3Schema` by code, the way the
API server reads a structural schema:

- an object schema with `properties` and neither `additionalProperties` nor
  `x-kubernetes-preserve-unknown-fields: true` rejects unknown fields: every apiextensions v1 CRD
  prunes fields its schema does not name, except under that extension (KEP-2332,
  https://www.kubernetes.dev/resources/keps/2332/), and `kubectl apply --validate=strict`, the
  default, fails the request on an unknown field rather than dropping it
  (https://kubernetes.io/docs/reference/kubectl/generated/kubectl_apply/);
- `nullable: true` admits null; `x-kubernetes-int-or-string: true` admits an integer or a string;
- `metadata` is Kubernetes' ObjectMeta (the API server validates it as such, whatever the CRD says);
- `apiVersion` and `kind` must name this group/version and kind;
- CEL rules (`x-kubernetes-validations`) are not evaluated: they need a CEL engine. That is a
  known gap, not a silent pass: the README of schemas/ lists it.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gitops.core.errors import GitOpsError
from gitops.manifests.render import parse_stream  # libyaml's loader: large CRDs parse 10x faster

UPSTREAM_DIR = Path("schemas") / "upstream"
SOURCE_FILE = "source.yaml"
OBJECT_META_REF = "https://kubernetes.io/api/_definitions.json#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
# Keywords whose meaning is the same in OpenAPI v3 (as CRDs use it) and JSON Schema 2020-12.
SAME_MEANING = ("type", "format", "enum", "pattern", "minimum", "maximum", "exclusiveMinimum",
                "exclusiveMaximum", "multipleOf", "minLength", "maxLength", "minItems", "maxItems",
                "uniqueItems", "minProperties", "maxProperties", "required")
SchemaKey = tuple[str, str, str]  # (group, version, Kind)


@dataclass(frozen=True)
class VendoredFile:
    """One upstream file as source.yaml records it."""

    name: str  # file name under schemas/upstream/<group>/
    upstream_path: str  # path in the upstream repository
    sha256: str
    fetched_from: str  # the Git ref (tag) or commit the bytes came from
    exact: bool  # True when fetched_from is the pinned release's tag itself
    note: str = ""


@dataclass(frozen=True)
class VendoredGroup:
    group: str
    version: str  # the upstream release these files are of
    repo: str  # https://github.com/<owner>/<name>
    tag: str  # the release tag, "v{version}" filled in: what a refresh downloads
    directory: Path
    files: tuple[VendoredFile, ...]

    def tag_for(self, version: str) -> str:
        return self.tag.replace("{version}", version)


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def read_group(directory: Path) -> VendoredGroup:
    """A group's source.yaml; a broken one is a one-sentence error naming the file."""
    path = directory / SOURCE_FILE
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise GitOpsError(f"{path} cannot be read ({exc}); restore it from Git.") from None
    if not isinstance(data, dict) or not isinstance(data.get("files"), list):
        raise GitOpsError(f"{path} needs group, version, repo, tag and a files list; see schemas/README.md.")
    files = []
    for entry in data["files"]:
        if not isinstance(entry, dict) or not entry.get("file") or not entry.get("path"):
            raise GitOpsError(f"{path} has a files entry without file and path; fix it.")
        files.append(VendoredFile(str(entry["file"]), str(entry["path"]), _text(entry.get("sha256")),
                                  _text(entry.get("fetched_from")), entry.get("exact") is True,
                                  " ".join(_text(entry.get("note")).split())))
    return VendoredGroup(_text(data.get("group")) or directory.name, _text(data.get("version")),
                         _text(data.get("repo")), _text(data.get("tag")) or "v{version}", directory,
                         tuple(files))


def groups(root: Path) -> list[VendoredGroup]:
    """Every vendored group of a checkout, by directory name."""
    base = root / UPSTREAM_DIR
    if not base.is_dir():
        return []
    return [read_group(d) for d in sorted(base.iterdir()) if (d / SOURCE_FILE).is_file()]


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def crd_documents(text: str, where: str) -> list[dict[str, Any]]:
    """The CustomResourceDefinitions of a YAML stream (other documents are an error)."""
    docs = parse_stream(text, where)
    for doc in docs:
        if not isinstance(doc, dict) or doc.get("kind") != "CustomResourceDefinition":
            raise GitOpsError(f"{where} holds something that is not a CustomResourceDefinition; "
                              "vendor only upstream CRD files.")
        if not str(doc.get("apiVersion", "")).startswith("apiextensions.k8s.io/v1") or \
                not isinstance((doc.get("spec") or {}).get("versions"), list):
            raise GitOpsError(f"{where} is not an apiextensions.k8s.io/v1 CRD with spec.versions; "
                              "vendor the v1 form the release publishes.")
    return docs


def convert(node: Any) -> Any:
    """One OpenAPI v3 structural schema node as JSON Schema 2020-12 (see the module docstring)."""
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {k: node[k] for k in SAME_MEANING if k in node}
    if isinstance(node.get("properties"), dict):
        out["properties"] = {name: convert(sub) for name, sub in node["properties"].items()}
    if "items" in node:
        out["items"] = convert(node["items"])
    for key in ("allOf", "anyOf", "oneOf"):
        if isinstance(node.get(key), list):
            out[key] = [convert(sub) for sub in node[key]]
    if "not" in node:
        out["not"] = convert(node["not"])
    extra = node.get("additionalProperties")
    preserve = node.get("x-kubernetes-preserve-unknown-fields") is True
    if isinstance(extra, dict):
        out["additionalProperties"] = convert(extra)
    elif isinstance(extra, bool):
        out["additionalProperties"] = extra
    elif "properties" in node and not preserve:
        out["additionalProperties"] = False  # pruned by the API server; strict validation refuses it
    if node.get("x-kubernetes-int-or-string") is True and "anyOf" not in out:
        out["type"] = ["integer", "string"]
    if node.get("nullable") is True and "type" in out:
        types = out["type"] if isinstance(out["type"], list) else [out["type"]]
        out["type"] = [*types, "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    return out


def root_schema(openapi: dict[str, Any], group: str, version: str, kind: str) -> dict[str, Any]:
    """The validator's schema for one kind and version: the converted openAPIV3Schema, with
    apiVersion/kind pinned to this kind and metadata checked as ObjectMeta."""
    schema: dict[str, Any] = dict(convert(openapi))
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    properties = schema.setdefault("properties", {})
    properties["apiVersion"] = {"enum": [f"{group}/{version}"]}
    properties["kind"] = {"enum": [kind]}
    properties["metadata"] = {"$ref": OBJECT_META_REF}
    schema["required"] = sorted({*schema.get("required", []), "apiVersion", "kind", "metadata"})
    return schema


def schemas_of(crd: dict[str, Any]) -> Iterator[tuple[SchemaKey, dict[str, Any]]]:
    """(group, version, Kind) and schema of every served version of one CRD."""
    spec = crd.get("spec") or {}
    group, kind = str(spec.get("group", "")), str((spec.get("names") or {}).get("kind", ""))
    for entry in spec.get("versions") or []:
        openapi = ((entry.get("schema") or {}).get("openAPIV3Schema")) if isinstance(entry, dict) else None
        if entry.get("served") is False or not isinstance(openapi, dict):
            continue
        version = str(entry.get("name", ""))
        yield (group, version, kind), root_schema(openapi, group, version, kind)


@functools.cache
def _converted_file(path: Path, mtime_ns: int, size: int) -> dict[SchemaKey, dict[str, Any]]:
    # keyed by stat so an edited or refreshed file is converted again within one process
    docs = crd_documents(path.read_text(encoding="utf-8"), str(path))
    return {key: schema for crd in docs for key, schema in schemas_of(crd)}


def converted_file(path: Path) -> dict[SchemaKey, dict[str, Any]]:
    stat = path.stat()
    return _converted_file(path, stat.st_mtime_ns, stat.st_size)


def vendored_schemas(root: Path) -> dict[SchemaKey, dict[str, Any]]:
    """Every schema the vendored CRD files of a checkout define, converted."""
    found: dict[SchemaKey, dict[str, Any]] = {}
    for vendored in groups(root):
        for entry in vendored.files:
            path = vendored.directory / entry.name
            if not path.is_file():
                raise GitOpsError(f"{path} is listed in {vendored.directory / SOURCE_FILE} but missing; "
                                  "run ./inv manifests.crds-refresh or restore it from Git.")
            found.update(converted_file(path))
    return found


def declared_version(crd: dict[str, Any]) -> str | None:
    """The release a CRD file says it belongs to, where the project stamps one (Gateway API's
    gateway.networking.k8s.io/bundle-version annotation); None when the file carries no version."""
    annotations = ((crd.get("metadata") or {}).get("annotations")) or {}
    value = annotations.get("gateway.networking.k8s.io/bundle-version")
    return str(value).lstrip("v") if value else None


def provenance_problems(vendored: VendoredGroup, pinned: str | None) -> Iterator[tuple[str, str, str, str]]:
    """(file, what, found, expected) for each way a vendored group disagrees with its record or pin:
    a release other than the pinned one, a file whose bytes differ from the recorded sha256 (edited
    by hand), a file of another group, a file that says it is of another release."""
    where = f"{UPSTREAM_DIR}/{vendored.directory.name}"
    if pinned is not None and vendored.version.lstrip("v") != str(pinned).lstrip("v"):
        yield f"{where}/{SOURCE_FILE}", "version", vendored.version, str(pinned)
    for entry in vendored.files:
        path = vendored.directory / entry.name
        if not path.is_file():
            yield f"{where}/{entry.name}", "file", "missing", f"the upstream file {entry.upstream_path}"
            continue
        actual = sha256_of(path)
        if actual != entry.sha256:
            yield f"{where}/{entry.name}", "sha256 (refresh, never edit)", actual, entry.sha256
        for crd in crd_documents(path.read_text(encoding="utf-8"), str(path)):
            group = str((crd.get("spec") or {}).get("group", ""))
            if group != vendored.group:
                yield f"{where}/{entry.name}", "spec.group", group, vendored.group
            stamped = declared_version(crd)
            if stamped is not None and pinned is not None and stamped != str(pinned).lstrip("v"):
                yield f"{where}/{entry.name}", "bundle-version", stamped, str(pinned)
