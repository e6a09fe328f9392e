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
    if k8s.split(".")[:2] != client.split(".")[:2]:
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
    refs = set((versions.get("base_images") or {}).get("images") or {})
    for entry in (versions.get("images") or {}).values():
        if isinstance(entry, dict) and "ref" in entry:
            refs.add(str(entry["ref"]))
            if entry.get("digest"):
                refs.add(f"{entry['ref']}@{entry['digest']}")
    return refs


def check_dockerfiles(root: Path, versions: dict[str, Any]) -> Iterator[Mismatch]:
    """Every image a Dockerfile builds FROM is one versions.yaml pins."""
    known = known_image_refs(versions)
    for path in sorted(root.rglob("Dockerfile*")):
        if ".venv" in path.parts or "tests" in path.parts:
            continue
        for image in dockerfile_images(path.read_text(encoding="utf-8")):
            if image not in known:
                yield Mismatch(rel(root, path), "base image", image, " or ".join(sorted(known)) or "(none)")


def compose_images(text: str) -> list[str]:
    data = yaml.safe_load(text) or {}
    return [str(svc["image"]) for svc in (data.get("services") or {}).values()
            if isinstance(svc, dict) and "image" in svc and "build" not in svc]


def check_compose(root: Path, versions: dict[str, Any]) -> Iterator[Mismatch]:
    """Third-party images a compose file runs are ones versions.yaml pins."""
    known = known_image_refs(versions)
    for path in sorted(root.glob("apps/*/compose*.y*ml")):
        for image in compose_images(path.read_text(encoding="utf-8")):
            if image not in known:
                yield Mismatch(rel(root, path), "service image", image, " or ".join(sorted(known)))


CHECKS: list[Check] = [check_kubectl, check_dockerfiles, check_compose]


def mismatches(root: Path, versions: dict[str, Any]) -> list[Mismatch]:
    return [m for check in CHECKS for m in check(root, versions)]
