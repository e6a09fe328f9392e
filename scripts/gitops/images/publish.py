"""Build and push the app image; the pushed digest is read back from the registry, not from docker's output.

`build` tags the image with its version and the git commit it was built from and sets the OCI
labels (revision, version, source). The CA bundle app.ca_file() picks goes in as a BuildKit
secret (pip inside the build needs it here; a secret mount never lands in a layer). `push` pushes
every tag, then asks the registry which digest the version tag now points to: the digest we pin
is the registry's answer, cross-checked against what `docker push` printed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from gitops.cluster.kind import REGISTRY_HOST
from gitops.core import config, run, tools
from gitops.core.errors import GitOpsError
from gitops.images import app, registry

PUSH_DIGEST_RE = re.compile(r"digest: (sha256:[0-9a-f]{64})")
DEFAULT_IMAGE = f"{REGISTRY_HOST}/tasknote"  # kind's local registry (see clusters/kind)


@dataclass(frozen=True)
class Build:
    image: str
    version: str
    revision: str
    tags: tuple[str, ...]

    @property
    def refs(self) -> tuple[str, ...]:
        return tuple(f"{self.image}:{tag}" for tag in self.tags)


def git_revision(repo: Path) -> str:
    result = run.run(["git", "rev-parse", "HEAD"], cwd=repo, check=False)
    if result.returncode != 0:
        raise GitOpsError(f"{repo} has no git commit to label the image with; commit first.")
    return result.stdout.strip()


def git_tag(revision: str) -> str:
    """The tag naming the commit an image was built from (build adds it, push pushes it)."""
    return f"git-{revision[:12]}"


def revision_of(ref: str) -> str:
    """The commit a locally built image says it was built from (its OCI revision label)."""
    labels = app.inspect(ref, build_with="./inv images.build").labels
    revision = labels.get(f"{app.LABEL_PREFIX}revision", "")
    if not re.fullmatch(r"[0-9a-f]{40}", revision):
        raise GitOpsError(
            f"image {ref} has no git commit in its revision label; build it with ./inv images.build.")
    return revision


def plan(image: str, version: str, revision: str) -> Build:
    registry.parse_image_name(image)
    registry.check_tag(version)
    if not re.fullmatch(r"[0-9a-f]{40}", revision):
        raise GitOpsError(f"{revision!r} is not a full git commit id.")
    return Build(image, version, revision, (version, git_tag(revision)))


def build_argv(docker: str, build: Build, context: Path, *, dockerfile: Path | None = None,
               platforms: Sequence[str] = (), ca_bundle: Path | None = None,
               source: str = "") -> list[str]:
    many = len(platforms) > 1
    argv = [docker, "buildx", "build"] if many else [docker, "build"]
    for ref in build.refs:
        argv += ["--tag", ref]
    labels = {
        "org.opencontainers.image.revision": build.revision,
        "org.opencontainers.image.version": build.version,
        "org.opencontainers.image.title": build.image.rsplit("/", 1)[-1],
    }
    if source:
        labels["org.opencontainers.image.source"] = source
    for key, value in labels.items():
        argv += ["--label", f"{key}={value}"]
    if platforms:
        argv += ["--platform", ",".join(platforms)]
    if many:
        # A multi-platform result cannot be loaded into the local store: the builder pushes it.
        argv += ["--push"]
    if ca_bundle is not None and ca_bundle.is_file():
        argv += ["--secret", f"id=ca,src={ca_bundle}"]
    if dockerfile is not None:
        argv += ["--file", str(dockerfile)]
    argv.append(str(context))
    return argv


def build(image: str, version: str, *, context: Path | None = None, dockerfile: Path | None = None,
          platforms: Sequence[str] = (), repo: Path | None = None) -> Build:
    """Build `image:<version>` and `image:git-<sha12>` from the app's Dockerfile."""
    repo = repo or config.ROOT
    context = context or config.PATHS.app
    if not (dockerfile or context / "Dockerfile").is_file():
        raise GitOpsError(f"{context} has no Dockerfile; add one or pass --context.")
    planned = plan(image, version, git_revision(repo))
    docker = str(tools.docker_engine())
    run.stream(build_argv(docker, planned, context, dockerfile=dockerfile, platforms=platforms,
                          ca_bundle=app.ca_file()), timeout=3600)
    return planned


def push(image: str, tags: Sequence[str]) -> str:
    """Push image:tag for every tag; return the digest the registry now serves for the first tag."""
    if not tags:
        raise GitOpsError("nothing to push: give at least one tag.")
    docker = str(tools.docker_engine())
    printed: set[str] = set()
    for tag in tags:
        registry.check_tag(tag)
        result = run.run([docker, "push", f"{image}:{tag}"], timeout=1800, check=False)
        if result.returncode != 0:
            raise GitOpsError(
                f"docker push {image}:{tag} failed ({run.tail(result.stderr or result.stdout, 1)}); "
                "build the image first and check the registry login."
            )
        printed.update(PUSH_DIGEST_RE.findall(result.stdout))
    digest = registry.resolve(image, tags[0])
    if printed and digest not in printed:
        raise GitOpsError(
            f"the registry serves {digest} for {image}:{tags[0]} but docker pushed "
            f"{', '.join(sorted(printed))}; another push raced this one, retry."
        )
    return digest
