"""Build the TaskNote image (apps/tasknote/Dockerfile) with its OCI labels and the CA secret.

The machine's CA bundle goes to BuildKit as the secret `ca` (pip inside the build trusts a
TLS-inspecting proxy with it); it is mounted for one RUN and never stored in a layer.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from gitops.core import config, run, tools
from gitops.core.errors import GitOpsError

DEFAULT_CA = Path("/etc/ssl/certs/ca-certificates.crt")
LABEL_PREFIX = "org.opencontainers.image."

# Defaults of the local app image and compose stack (shown in task help strings).
IMAGE_TAG = "tasknote:dev"
DEFAULT_TAG = IMAGE_TAG
STACK_PROJECT = "tasknote"
STACK_PORT = 8000


@dataclass(frozen=True)
class BuildSpec:
    tag: str
    version: str
    revision: str
    source: str
    ca_file: Path | None
    no_cache: bool = False
    context: Path = config.PATHS.app


def app_version(pyproject: Path = config.PATHS.app / "pyproject.toml") -> str:
    try:
        return str(tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["version"])
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        raise GitOpsError(f"{pyproject} has no readable [project] version; fix the file.") from None


def strip_credentials(url: str) -> str:
    """A remote URL without any user:token@ part: labels are public, credentials are not."""
    return re.sub(r"^([a-z][a-z0-9+.-]*://)[^/@]*@", r"\1", url.strip(), flags=re.I)


def git_revision(root: Path = config.ROOT) -> str:
    """HEAD's commit, with -dirty when the app's files differ from it (the label must not lie)."""
    head = run.run(["git", "rev-parse", "HEAD"], cwd=root, check=False, timeout=10)
    if head.returncode != 0:
        return "unknown"
    status = run.run(["git", "status", "--porcelain", "--", "apps/tasknote"], cwd=root, check=False,
                     timeout=30)
    return head.stdout.strip() + ("-dirty" if status.stdout.strip() else "")


def git_source(root: Path = config.ROOT) -> str:
    remote = run.run(["git", "remote", "get-url", "origin"], cwd=root, check=False, timeout=10)
    return strip_credentials(remote.stdout) if remote.returncode == 0 and remote.stdout.strip() else "unknown"


def ca_file() -> Path | None:
    """$TASKNOTE_CA_FILE, else the system bundle when present; None builds without the secret."""
    chosen = os.environ.get("TASKNOTE_CA_FILE")
    if chosen:
        path = Path(chosen)
        if not path.is_file():
            raise GitOpsError(f"TASKNOTE_CA_FILE={chosen} is not a file; point it at a PEM CA bundle.")
        return path
    return DEFAULT_CA if DEFAULT_CA.is_file() else None


def default_spec(tag: str = DEFAULT_TAG, version: str = "", no_cache: bool = False) -> BuildSpec:
    return BuildSpec(tag=tag, version=version or app_version(), revision=git_revision(),
                     source=git_source(), ca_file=ca_file(), no_cache=no_cache)


def build_argv(docker: str, spec: BuildSpec) -> list[str]:
    argv = [docker, "build", "--progress=plain"]
    if spec.ca_file is not None:
        argv += ["--secret", f"id=ca,src={spec.ca_file}"]
    for key, value in (("VERSION", spec.version), ("REVISION", spec.revision), ("SOURCE", spec.source)):
        argv += ["--build-arg", f"{key}={value}"]
    if spec.no_cache:
        argv.append("--no-cache")
    return [*argv, "--tag", spec.tag, str(spec.context)]


def build(spec: BuildSpec, *, quiet: bool = False, timeout_s: float = 1800) -> None:
    """docker build with BuildKit; output streams to the terminal unless quiet."""
    docker = str(tools.docker_engine())
    argv = build_argv(docker, spec)
    env = {"DOCKER_BUILDKIT": "1"}
    if quiet:
        run.run(argv, env=env, timeout=timeout_s)
    else:
        run.stream(argv, env=env, timeout=timeout_s)


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


def inspect(ref: str, build_with: str = "./inv app.build") -> ImageInfo:
    """The local image's id, size, user, env, labels and entrypoint; `build_with` names the task
    that makes it, for the error when it is missing."""
    result = run.run(["docker", "image", "inspect", ref], check=False, timeout=30)
    if result.returncode != 0:
        raise GitOpsError(f"image {ref} is not in the local store; build it with {build_with}.")
    data = json.loads(result.stdout)[0]
    cfg = data.get("Config") or {}
    return ImageInfo(ref=ref, id=data["Id"], size_bytes=int(data["Size"]), user=cfg.get("User") or "",
                     env=tuple(cfg.get("Env") or ()), labels=dict(cfg.get("Labels") or {}),
                     entrypoint=tuple(cfg.get("Entrypoint") or ()))
