"""Container image references: registry/repository, tag and digest, parsed and checked without guessing."""

from __future__ import annotations

import re
from dataclasses import dataclass

from gitops.core.errors import GitOpsError

DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
# distribution/reference grammar: tag, and the lower-case path components of a repository.
TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
REPOSITORY_RE = re.compile(r"^[a-z0-9]+(?:[._-]+[a-z0-9]+|__)*(?:/[a-z0-9]+(?:[._-]+[a-z0-9]+)*)*$")
DOCKER_HUB = "registry-1.docker.io"


@dataclass(frozen=True)
class ImageRef:
    repository: str  # everything before the tag and digest, registry (and port) included
    tag: str | None
    digest: str | None

    @property
    def name(self) -> str:
        """The last path component: `postgres` of docker.io/library/postgres."""
        return self.repository.rsplit("/", 1)[-1]

    @property
    def pinned(self) -> bool:
        return self.digest is not None and bool(DIGEST.match(self.digest))


def parse(ref: str) -> ImageRef:
    """Split `host:port/path/name:tag@sha256:...`; a colon before the last slash is a port."""
    rest, _, digest = ref.partition("@")
    slash = rest.rfind("/")
    colon = rest.rfind(":")
    tag = None
    if colon > slash:
        rest, tag = rest[:colon], rest[colon + 1:]
    return ImageRef(rest, tag or None, digest or None)


def check_digest(digest: str) -> str:
    """Return digest when it is `sha256:` and 64 lower-case hex digits; otherwise one sentence."""
    if not DIGEST.match(digest):
        raise GitOpsError(
            f"{digest!r} is not a sha256 digest; expected sha256: followed by 64 lower-case hex digits."
        )
    return digest


def check_tag(tag: str) -> str:
    if not TAG_RE.match(tag):
        raise GitOpsError(
            f"{tag!r} is not a valid image tag; use letters, digits, '_', '.', '-' (at most 128)."
        )
    return tag


@dataclass(frozen=True)
class ImageName:
    """An image name split into registry host and repository: `localhost:5000/team/tasknote`."""

    registry: str
    repository: str

    def __str__(self) -> str:
        return f"{self.registry}/{self.repository}"


def parse_image_name(name: str) -> ImageName:
    """Split `host[:port]/repo` like Docker does: a first part with '.', ':' or 'localhost' is a host."""
    if "@" in name or (":" in name.rsplit("/", 1)[-1]):
        raise GitOpsError(f"{name!r} must be an image name without tag or digest, e.g. ghcr.io/org/tasknote.")
    first, _, rest = name.partition("/")
    if first in ("docker.io", "index.docker.io") and rest:
        registry, repository = DOCKER_HUB, rest if "/" in rest else f"library/{rest}"
    elif rest and ("." in first or ":" in first or first == "localhost"):
        registry, repository = first, rest
    else:
        registry, repository = DOCKER_HUB, name if "/" in name else f"library/{name}"
    if not REPOSITORY_RE.match(repository):
        raise GitOpsError(f"{repository!r} is not a valid repository name; use lower-case path components.")
    return ImageName(registry, repository)

