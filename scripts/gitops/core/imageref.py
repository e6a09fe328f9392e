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


# --- the canonical form containerd stores -----------------------------------------------------
# Image references in the canonical form containerd stores them, so a short name and what a
# node lists compare equal.
#
# The rules are the Docker/OCI reference grammar's normalisation (distribution/reference
# normalize.go, ParseDockerRef and splitDockerDomain): a first path component is a registry
# host only when it contains "." or ":" or is "localhost" (or has upper case); otherwise the
# image is on docker.io, and a single-component name on docker.io lives under "library/"; no tag
# and no digest means ":latest"; a reference with both a tag and a digest is the digest alone.
# kind normalises `kind load docker-image` names the same way for the same reason (containerd
# lists `tasknote:dev` as `docker.io/library/tasknote:dev`): kubernetes-sigs/kind
# pkg/cmd/kind/load/docker-image.

DEFAULT_DOMAIN = "docker.io"
LEGACY_DEFAULT_DOMAIN = "index.docker.io"
OFFICIAL_PREFIX = "library/"
DEFAULT_TAG = "latest"


def split_domain(name: str) -> tuple[str, str]:
    """(domain, remote name) of a repository name without tag or digest."""
    first, slash, rest = name.partition("/")
    if not slash:
        return DEFAULT_DOMAIN, OFFICIAL_PREFIX + name
    if first == "localhost" or any(c in first for c in ".:") or first.lower() != first:
        domain, remote = first, rest
    else:
        domain, remote = DEFAULT_DOMAIN, name
    if domain == LEGACY_DEFAULT_DOMAIN:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in remote:
        remote = OFFICIAL_PREFIX + remote
    return domain, remote


def split(ref: str) -> tuple[str, str, str]:
    """(canonical repository name, tag, digest) of a reference; tag and digest may be empty."""
    rest, _, digest = ref.strip().partition("@")
    slash, colon = rest.rfind("/"), rest.rfind(":")
    tag = ""
    if colon > slash:
        rest, tag = rest[:colon], rest[colon + 1:]
    domain, remote = split_domain(rest)
    return f"{domain}/{remote}", tag, digest


def normalize(ref: str) -> str:
    """`tasknote:dev` -> `docker.io/library/tasknote:dev`; tag@digest -> name@digest (ParseDockerRef)."""
    name, tag, digest = split(ref)
    if digest:
        return f"{name}@{digest}"
    return f"{name}:{tag or DEFAULT_TAG}"


def node_forms(ref: str) -> set[str]:
    """How a node may list an image loaded as `ref`: by its tag (crictl repoTags; `kind load`
    imports a `docker save` archive, which carries the tag but not a registry's manifest digest)
    and, when the reference has a digest, by name@digest (repoDigests)."""
    name, tag, digest = split(ref)
    forms = set()
    if tag or not digest:
        forms.add(f"{name}:{tag or DEFAULT_TAG}")
    if digest:
        forms.add(f"{name}@{digest}")
    return forms


def all_present(wanted: list[str] | tuple[str, ...], present: set[str]) -> bool:
    """Every wanted reference is among those a node lists, both sides normalised."""
    have = {normalize(ref) for ref in present}
    return all(node_forms(ref) & have for ref in wanted)
