"""Build the TaskNote image (apps/tasknote/Dockerfile): the one build behind `./inv images.build`.

Two flavours of the same build: a local image (`tasknote:dev`, what compose and the tests run) and
a release image (`<image>:<version>` plus `<image>:git-<sha12>`, what a registry receives). Both
carry the OCI labels (source, revision, version) as build args for the Dockerfile's own LABEL
lines and as --label flags, so a Dockerfile without those lines is labelled too. The machine's CA
bundle goes to BuildKit as the secret `ca` (pip inside the build trusts a TLS-inspecting proxy
with it); it is mounted for one RUN and never stored in a layer.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from gitops.core import imageref, run, tools
from gitops.core.errors import GitOpsError
from gitops.core.repo import Repo
from gitops.images import base_pins

DEFAULT_CA = Path("/etc/ssl/certs/ca-certificates.crt")
LABEL_PREFIX = "org.opencontainers.image."
BUILD_TASK = "./inv images.build"

# Defaults of the local app image and compose stack (shown in task help strings).
IMAGE_TAG = "tasknote:dev"
STACK_PROJECT = "tasknote"
STACK_PORT = 8000

@dataclass(frozen=True)
class BuildSpec:
    refs: tuple[str, ...]
    version: str
    revision: str
    source: str
    context: Path
    ca_file: Path | None
    dockerfile: Path | None = None
    platforms: tuple[str, ...] = ()
    no_cache: bool = False
    # BUILDER_IMAGE/RUNTIME_IMAGE overrides: only for air-gapped stand-ins (gitops.images.base_pins).
    base_images: tuple[tuple[str, str], ...] = ()

    @property
    def tags(self) -> tuple[str, ...]:
        return tuple(ref.rsplit(":", 1)[1] for ref in self.refs)


def app_version(pyproject: Path) -> str:
    try:
        return str(tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["version"])
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        raise GitOpsError(f"{pyproject} has no readable [project] version; fix the file.") from None


def strip_credentials(url: str) -> str:
    """A remote URL without any user:token@ part: labels are public, credentials are not."""
    return re.sub(r"^([a-z][a-z0-9+.-]*://)[^/@]*@", r"\1", url.strip(), flags=re.I)


def git_revision(root: Path) -> str:
    """HEAD's commit, with -dirty when the app's files differ from it (the label must not lie)."""
    head = run.run(["git", "rev-parse", "HEAD"], cwd=root, check=False, timeout=10)
    if head.returncode != 0:
        return "unknown"
    status = run.run(["git", "status", "--porcelain", "--", "apps/tasknote"], cwd=root, check=False,
                     timeout=30)
    return head.stdout.strip() + ("-dirty" if status.stdout.strip() else "")


def git_commit(root: Path) -> str:
    """HEAD's full commit id: a release image names the exact commit it was built from."""
    result = run.run(["git", "rev-parse", "HEAD"], cwd=root, check=False)
    if result.returncode != 0:
        raise GitOpsError(f"{root} has no git commit to label the image with; commit first.")
    return result.stdout.strip()


def git_source(root: Path) -> str:
    remote = run.run(["git", "remote", "get-url", "origin"], cwd=root, check=False, timeout=10)
    return strip_credentials(remote.stdout) if remote.returncode == 0 and remote.stdout.strip() else "unknown"


def git_tag(revision: str) -> str:
    """The tag naming the commit an image was built from (a release build adds it, push pushes it)."""
    return f"git-{revision[:12]}"


def ca_file() -> Path | None:
    """$TASKNOTE_CA_FILE, else the system bundle when present; None builds without the secret."""
    chosen = os.environ.get("TASKNOTE_CA_FILE")
    if chosen:
        path = Path(chosen)
        if not path.is_file():
            raise GitOpsError(f"TASKNOTE_CA_FILE={chosen} is not a file; point it at a PEM CA bundle.")
        return path
    return DEFAULT_CA if DEFAULT_CA.is_file() else None


def standin_base_images() -> tuple[tuple[str, str], ...]:
    """BUILDER_IMAGE/RUNTIME_IMAGE build arguments for the air-gapped stand-ins this machine has
    (the Dockerfile's defaults are pinned by digest; gitops.images.base_pins says why)."""
    return tuple(sorted(base_pins.standin_overrides(base_pins.BUILD_ARGS).items()))


def local_spec(repo: Repo, tag: str = IMAGE_TAG, version: str = "", no_cache: bool = False) -> BuildSpec:
    """tasknote:dev (or `tag`) from the working tree, labelled with HEAD (-dirty when it differs)."""
    return BuildSpec(refs=(tag,), version=version or app_version(repo.app / "pyproject.toml"),
                     revision=git_revision(repo.root), source=git_source(repo.root), context=repo.app,
                     ca_file=ca_file(), no_cache=no_cache, base_images=standin_base_images())


def release_plan(image: str, version: str, revision: str, *, context: Path, source: str = "",
                 dockerfile: Path | None = None, platforms: Sequence[str] = (),
                 ca: Path | None = None) -> BuildSpec:
    """image:<version> and image:git-<sha12>, checked before anything is built."""
    imageref.parse_image_name(image)
    imageref.check_tag(version)
    if not re.fullmatch(r"[0-9a-f]{40}", revision):
        raise GitOpsError(f"{revision!r} is not a full git commit id.")
    refs = (f"{image}:{version}", f"{image}:{git_tag(revision)}")
    return BuildSpec(refs=refs, version=version, revision=revision, source=source, context=context,
                     ca_file=ca, dockerfile=dockerfile, platforms=tuple(platforms))


def release_spec(repo: Repo, image: str, version: str, *, context: Path | None = None,
                 dockerfile: Path | None = None, platforms: Sequence[str] = ()) -> BuildSpec:
    """The release build of the commit at HEAD."""
    context = context or repo.app
    if not (dockerfile or context / "Dockerfile").is_file():
        raise GitOpsError(f"{context} has no Dockerfile; add one or pass --context.")
    spec = release_plan(image, version, git_commit(repo.root), context=context, dockerfile=dockerfile,
                        platforms=platforms, ca=ca_file())
    return replace(spec, base_images=standin_base_images())


def build_argv(docker: str, spec: BuildSpec) -> list[str]:
    many = len(spec.platforms) > 1
    argv = [docker, "buildx", "build"] if many else [docker, "build"]
    argv.append("--progress=plain")
    if spec.ca_file is not None:
        argv += ["--secret", f"id=ca,src={spec.ca_file}"]
    labels = {"version": spec.version, "revision": spec.revision, "source": spec.source}
    for key, value in labels.items():
        if value:
            argv += ["--build-arg", f"{key.upper()}={value}", "--label", f"{LABEL_PREFIX}{key}={value}"]
    if spec.platforms:
        argv += ["--platform", ",".join(spec.platforms)]
    if many:
        # A multi-platform result cannot be loaded into the local store: the builder pushes it.
        argv.append("--push")
    for key, value in spec.base_images:
        argv += ["--build-arg", f"{key}={value}"]
    if spec.no_cache:
        argv.append("--no-cache")
    if spec.dockerfile is not None:
        argv += ["--file", str(spec.dockerfile)]
    for ref in spec.refs:
        argv += ["--tag", ref]
    return [*argv, str(spec.context)]


def build(repo: Repo, spec: BuildSpec, *, quiet: bool = False, timeout_s: float = 3600) -> BuildSpec:
    """docker build with BuildKit; output streams to the terminal unless quiet."""
    argv = build_argv(str(tools.docker_engine(repo)), spec)
    env = {"DOCKER_BUILDKIT": "1"}
    if quiet:
        run.run(argv, env=env, timeout=timeout_s)
    else:
        run.stream(argv, env=env, timeout=timeout_s)
    return spec


@dataclass(frozen=True)
class ImageInfo:
    ref: str
    id: str
    size_bytes: int
    user: str
    env: tuple[str, ...]
    labels: dict[str, str]
    entrypoint: tuple[str, ...]

    @property
    def size_mb(self) -> float:
        return self.size_bytes / 1_000_000


def inspect(ref: str, build_with: str = BUILD_TASK) -> ImageInfo:
    """The local image's id, size, user, env, labels and entrypoint; `build_with` names the task
    that makes it, for the error when it is missing."""
    result = run.run(["docker", "image", "inspect", ref], check=False, timeout=30)
    if result.returncode != 0:
        # `docker image inspect` fails the same way when the engine is down: ask the engine first.
        engine = run.run(["docker", "info", "--format", "{{.ServerVersion}}"], check=False, timeout=10)
        if engine.returncode != 0 or not engine.stdout.strip():
            raise GitOpsError("the Docker daemon is not answering; start it (sudo systemctl start docker) "
                              "and retry.")
        raise GitOpsError(f"image {ref} is not in the local store; build it with {build_with}.")
    data = json.loads(result.stdout)[0]
    cfg = data.get("Config") or {}
    return ImageInfo(ref=ref, id=data["Id"], size_bytes=int(data["Size"]), user=cfg.get("User") or "",
                     env=tuple(cfg.get("Env") or ()), labels=dict(cfg.get("Labels") or {}),
                     entrypoint=tuple(cfg.get("Entrypoint") or ()))
