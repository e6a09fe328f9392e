"""Air-gapped base images: build, from a Debian mirror, the images our Dockerfiles, compose
file and tests reference, into the local image store under those same references.

`debian:trixie-slim` comes from `debootstrap --variant=minbase` and `docker import`; every
other image is a `docker buildx build` of a context under `airgap/` FROM that base. Each
image carries `org.tasknote.airgap=true` and a hash of its build inputs, so an unchanged
image is skipped after one `docker image inspect` and a changed Dockerfile rebuilds.
Users who can pull from a registry never need any of this.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from gitops.core import run, tools
from gitops.core.errors import GitOpsError
from gitops.core.repo import Repo
from gitops.images.aptsources import pick_mirror, read_apt_sources, sources_file

LABEL = "org.tasknote.airgap"
HASH_LABEL = "org.tasknote.airgap.inputs"
# Bump when the build recipe in this module changes in a way the context files do not show.
RECIPE = "3"
# debootstrap lives in /usr/sbin, which is not on a normal user's PATH.
DEBOOTSTRAP_FALLBACKS = (Path("/usr/sbin/debootstrap"), Path("/sbin/debootstrap"))
# Trimmed from the debootstrapped tree, like the upstream -slim images (paths relative to /).
TRIM = (
    "var/lib/apt/lists", "var/cache/apt", "var/cache/debconf/*-old", "var/lib/dpkg/*-old",
    "usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/groff", "usr/share/lintian",
    "usr/share/locale", "var/log/*", "etc/hostname", "etc/resolv.conf", "etc/apt/sources.list",
    "etc/machine-id", "var/lib/dbus/machine-id", "debootstrap",
)
KEEP_AFTER_TRIM = ("usr/share/doc/*/copyright", "usr/share/locale/locale.alias")
BASE_CHANGES = (
    'CMD ["bash"]',
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
)

Action = Literal["build", "skip"]


@dataclass(frozen=True)
class Image:
    """One air-gapped image: its reference, build context and the image it is built FROM."""

    ref: str
    context: Path
    suite: str
    base: str | None  # None: the debootstrapped root of every other image

    @property
    def debootstrapped(self) -> bool:
        return self.base is None


@dataclass(frozen=True)
class Step:
    ref: str
    action: Action
    reason: str


@dataclass(frozen=True)
class Built:
    ref: str
    action: Action
    reason: str
    seconds: float


@dataclass(frozen=True)
class Present:
    """An image found in the local store: its ID and labels."""

    id: str
    labels: Mapping[str, str]


# --- versions.yaml ---------------------------------------------------------------------------


def images_from(versions: Mapping[str, Any], contexts: Path) -> tuple[Image, ...]:
    """The images of versions.yaml `base_images.images`, in build order (bases first)."""
    section = versions.get("base_images")
    if not isinstance(section, dict) or not isinstance(section.get("images"), dict):
        raise GitOpsError("versions.yaml has no base_images.images mapping; restore it from Git.")
    images: list[Image] = []
    for ref, entry in section["images"].items():
        if not isinstance(entry, dict) or "context" not in entry or "suite" not in entry:
            raise GitOpsError(f"versions.yaml base_images.images.{ref} needs context and suite; add them.")
        images.append(Image(str(ref), contexts / str(entry["context"]), str(entry["suite"]),
                            entry.get("from")))
    return order(images)


def order(images: Sequence[Image]) -> tuple[Image, ...]:
    """Bases before the images built FROM them; an unknown or circular base is an error."""
    by_ref = {image.ref: image for image in images}
    done: list[Image] = []
    seen: set[str] = set()

    def visit(image: Image, path: tuple[str, ...]) -> None:
        if image.ref in seen:
            return
        if image.ref in path:
            raise GitOpsError(f"base_images has a cycle through {image.ref}; fix the from: entries.")
        if image.base is not None:
            if image.base not in by_ref:
                raise GitOpsError(
                    f"base_images.images.{image.ref} is built from {image.base}, which is not "
                    "in base_images.images; add it or fix from:."
                )
            visit(by_ref[image.base], (*path, image.ref))
        seen.add(image.ref)
        done.append(image)

    for image in images:
        visit(image, ())
    return tuple(done)


def default_mirror(versions: Mapping[str, Any]) -> str:
    return str(versions.get("base_images", {}).get("mirror", {}).get("default",
                                                                     "http://deb.debian.org/debian"))


# --- content hashes and the plan --------------------------------------------------------------


def context_digest(context: Path) -> str:
    """sha256 over every file of a build context: relative path, executable bit, bytes."""
    if not context.is_dir():
        raise GitOpsError(f"build context {context} is missing; restore it from Git.")
    digest = hashlib.sha256()
    for path in sorted(p for p in context.rglob("*") if p.is_file() or p.is_symlink()):
        rel = path.relative_to(context).as_posix()
        executable = os.access(path, os.X_OK)
        body = os.readlink(path).encode() if path.is_symlink() else path.read_bytes()
        digest.update(f"{rel}\0{int(executable)}\0{len(body)}\0".encode())
        digest.update(body)
    return digest.hexdigest()


def input_hash(image: Image, context: str, base_hash: str | None) -> str:
    """The label value: the context's digest, the suite, the recipe and the base's own hash,
    so a rebuilt base with new inputs rebuilds everything FROM it."""
    material = json.dumps(
        {"ref": image.ref, "suite": image.suite, "recipe": RECIPE, "context": context,
         "base": base_hash, "changes": BASE_CHANGES if image.debootstrapped else None,
         "trim": TRIM if image.debootstrapped else None},
        sort_keys=True,
    )
    return hashlib.sha256(material.encode()).hexdigest()


def wanted_hashes(images: Sequence[Image], digests: Mapping[str, str]) -> dict[str, str]:
    """Each image's input hash, given each context's digest (images in build order)."""
    hashes: dict[str, str] = {}
    for image in images:
        base = hashes[image.base] if image.base is not None else None
        hashes[image.ref] = input_hash(image, digests[image.ref], base)
    return hashes


def with_bases(images: Sequence[Image], refs: Iterable[str]) -> set[str]:
    """The references plus every image they are (transitively) built FROM."""
    by_ref = {image.ref: image for image in images}
    chosen: set[str] = set()
    for ref in refs:
        current: str | None = ref
        while current is not None and current not in chosen:
            chosen.add(current)
            current = by_ref[current].base if current in by_ref else None
    return chosen


def plan(images: Sequence[Image], want: Mapping[str, str], present: Mapping[str, Present], *,
         force: bool = False, only: Sequence[str] = ()) -> list[Step]:
    """What to build: an image is skipped only when it is present, was built here and carries
    the hash of today's inputs; everything else (or everything, with force) is built. With
    `only`, the rest is left alone, except missing or stale bases the selection needs."""
    selected = with_bases(images, only) if only else {image.ref for image in images}
    steps: list[Step] = []
    for image in images:
        found = present.get(image.ref)
        labels = found.labels if found else {}
        if image.ref not in selected:
            steps.append(Step(image.ref, "skip", "not selected"))
        elif force and (not only or image.ref in only):
            steps.append(Step(image.ref, "build", "forced"))
        elif found is None:
            steps.append(Step(image.ref, "build", "missing"))
        elif labels.get(LABEL) != "true":
            steps.append(Step(image.ref, "build", "present but not built by images.airgap"))
        elif labels.get(HASH_LABEL) != want[image.ref]:
            steps.append(Step(image.ref, "build", "build inputs changed"))
        else:
            steps.append(Step(image.ref, "skip", "up to date"))
    return steps


INSPECT_FORMAT = "{{.Id}}\t{{json .RepoTags}}\t{{json .Config.Labels}}"


def parse_inspect(stdout: str, refs: Iterable[str]) -> dict[str, Present]:
    """Images by reference from `docker image inspect --format INSPECT_FORMAT ref...` (one line
    per image found; missing ones are simply absent)."""
    wanted = set(refs)
    present: dict[str, Present] = {}
    for line in stdout.splitlines():
        fields = line.split("\t")
        if len(fields) != 3:
            continue
        image_id, tags_json, labels_json = fields
        labels = {str(k): str(v) for k, v in (json.loads(labels_json) or {}).items()}
        for tag in json.loads(tags_json) or []:
            if tag in wanted:
                present[tag] = Present(image_id, labels)
    return present


def inspect_present(docker: Path, refs: Sequence[str]) -> dict[str, Present]:
    """One `docker image inspect` for every reference; exit 1 only means some are missing."""
    result = run.run([str(docker), "image", "inspect", "--format", INSPECT_FORMAT, *refs],
                     check=False, timeout=60)
    if result.returncode != 0 and "No such image" not in result.stderr:
        reason = run.tail(result.stderr, 1)
        raise GitOpsError(f"docker image inspect failed ({reason}); check the Docker daemon.")
    return parse_inspect(result.stdout, refs)


# --- the debootstrapped base --------------------------------------------------------------------


def require_debootstrap(which: Callable[[str], str | None] = shutil.which,
                        euid: Callable[[], int] = os.geteuid) -> Path:
    """debootstrap on PATH (or /usr/sbin) and root, or one sentence saying how to get them."""
    found = which("debootstrap") or next((str(p) for p in DEBOOTSTRAP_FALLBACKS if p.is_file()), None)
    if found is None:
        raise GitOpsError("debootstrap is not installed; it builds debian:trixie-slim: "
                          "install it with `sudo apt-get install debootstrap` and retry.")
    if euid() != 0:
        raise GitOpsError("debootstrap must run as root to build debian:trixie-slim; "
                          "run `sudo ./inv images.airgap`.")
    return Path(found)


def mounts_below(mountinfo: str, root: Path) -> list[str]:
    """Mount points at or below root in /proc/self/mountinfo text, deepest first."""
    prefix = str(root).rstrip("/")
    points = []
    for line in mountinfo.splitlines():
        fields = line.split()
        if len(fields) < 5:
            continue
        point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[4])
        if point == prefix or point.startswith(prefix + "/"):
            points.append(point)
    return sorted(points, key=lambda p: p.count("/"), reverse=True)


def remove_tree(workdir: Path) -> None:
    """Remove a debootstrap work dir, first unmounting anything debootstrap left mounted
    (a failed run can leave /proc or /sys mounted there; deleting through them is harmful)."""
    mountinfo = Path("/proc/self/mountinfo")
    for point in mounts_below(mountinfo.read_text(), workdir) if mountinfo.exists() else []:
        run.run(["umount", "--lazy", point], check=False, timeout=60)
    left = mounts_below(mountinfo.read_text(), workdir) if mountinfo.exists() else []
    if left:
        raise GitOpsError(f"{left[0]} is still mounted; unmount it and remove {workdir} by hand.")
    shutil.rmtree(workdir, ignore_errors=True)


def trim(rootfs: Path) -> None:
    """Drop what a container base never needs (package lists, caches, docs, man pages,
    translations, logs, the host's hostname/resolv.conf) but keep copyright files."""
    keep: dict[Path, bytes] = {}
    for pattern in KEEP_AFTER_TRIM:
        for path in rootfs.glob(pattern):
            if path.is_file() and not path.is_symlink():
                keep[path] = path.read_bytes()
    for pattern in TRIM:
        for path in rootfs.glob(pattern):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            elif path.exists() or path.is_symlink():
                path.unlink()
    for path, body in keep.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
    for empty in ("var/lib/apt/lists/partial", "var/cache/apt/archives/partial", "var/log"):
        (rootfs / empty).mkdir(parents=True, exist_ok=True)


def overlay(rootfs: Path, files: Path) -> None:
    """Copy airgap/debian/rootfs (dpkg/apt slim config, policy-rc.d) into the tree."""
    if files.is_dir():
        shutil.copytree(files, rootfs, dirs_exist_ok=True, symlinks=True)


def build_debian(docker: Path, image: Image, inputs: str, mirror: str,
                 progress: Callable[[str], None]) -> None:
    debootstrap = require_debootstrap()
    workdir = Path(tempfile.mkdtemp(prefix="airgap-debian-"))
    try:
        rootfs = workdir / "rootfs"
        progress(f"  debootstrap --variant=minbase {image.suite} from {mirror}")
        try:  # streamed: its I: lines are the progress of the longest step
            run.stream([str(debootstrap), "--variant=minbase", image.suite, str(rootfs), mirror],
                       timeout=1800)
        except run.CommandError as exc:
            log = rootfs / "debootstrap" / "debootstrap.log"
            detail = run.tail(log.read_text(errors="replace"), 8) if log.is_file() else ""
            raise GitOpsError(f"{exc}\n{detail}".rstrip() + f"\ncheck that {mirror} serves "
                              f"{image.suite} or pass --mirror.") from None
        trim(rootfs)
        overlay(rootfs, image.context / "rootfs")
        sources = rootfs / "etc/apt/sources.list.d/debian.sources"
        sources.parent.mkdir(parents=True, exist_ok=True)
        sources.write_text(sources_file(mirror, image.suite), encoding="utf-8")
        tarball = workdir / "rootfs.tar"
        run.run(["tar", "--numeric-owner", "--xattrs", "-C", str(rootfs),
                 "--exclude=./dev/*", "--exclude=./proc/*", "--exclude=./sys/*",
                 "-cf", str(tarball), "."], timeout=600)
        changes = [*BASE_CHANGES, f"LABEL {LABEL}=true", f"LABEL {HASH_LABEL}={inputs}"]
        run.run([str(docker), "import", *(a for c in changes for a in ("--change", c)),
                 str(tarball), image.ref], timeout=600)
    finally:
        remove_tree(workdir)


def build_argv(docker: Path, image: Image, inputs: str, *, no_cache: bool) -> list[str]:
    """`docker buildx build --load` of a context under airgap/ with the daemon's own BuildKit
    (the docker driver resolves FROM debian:trixie-slim in the local store, never a
    registry). A forced build skips BuildKit's cache so it takes the mirror's newest packages."""
    return [str(docker), "buildx", "build", "--load", "--progress=plain",
            *(["--no-cache"] if no_cache else []),
            "--label", f"{LABEL}=true", "--label", f"{HASH_LABEL}={inputs}",
            "--tag", image.ref, str(image.context)]


def drop_replaced(docker: Path, old: Present | None, ref: str) -> None:
    """Remove the image a rebuild replaced, so rebuilds do not pile up dangling images. Only
    one we built (it has our label); without --force docker refuses while a container or
    another tag still uses it, which is what we want."""
    if old is None or old.labels.get(LABEL) != "true":
        return
    now = inspect_present(docker, [ref]).get(ref)
    if now is not None and now.id != old.id:
        run.run([str(docker), "image", "rm", old.id], check=False, timeout=120)


# --- the task's entry point ---------------------------------------------------------------------


def ensure(repo: Repo, *, force: bool = False, mirror: str | None = None, only: Sequence[str] = (),
           progress: Callable[[str], None] = print) -> list[Built]:
    """Build every air-gapped image that is missing or stale (all of them with force)."""
    docker = tools.docker_engine(repo)
    versions = repo.versions
    images = images_from(versions, repo.root / "airgap")
    unknown = [ref for ref in only if ref not in {i.ref for i in images}]
    if unknown:
        raise GitOpsError(f"{unknown[0]} is not an air-gapped image; use one of "
                          f"{', '.join(i.ref for i in images)}.")
    want = wanted_hashes(images, {i.ref: context_digest(i.context) for i in images})
    present = inspect_present(docker, [i.ref for i in images])
    steps = plan(images, want, present, force=force, only=only)
    by_ref = {i.ref: i for i in images}
    done: list[Built] = []
    for step in steps:
        if step.action == "skip":
            done.append(Built(step.ref, "skip", step.reason, 0.0))
            continue
        image = by_ref[step.ref]
        progress(f"building {image.ref} ({step.reason}) ...")
        started = time.monotonic()
        if image.debootstrapped:
            chosen = mirror or pick_mirror(read_apt_sources(), image.suite) or default_mirror(versions)
            build_debian(docker, image, want[image.ref], chosen, progress)
        else:
            run.stream(build_argv(docker, image, want[image.ref], no_cache=force), timeout=1800)
        drop_replaced(docker, present.get(image.ref), image.ref)
        seconds = time.monotonic() - started
        progress(f"built {image.ref} in {seconds:.0f} s")
        done.append(Built(step.ref, "build", step.reason, seconds))
    return done
