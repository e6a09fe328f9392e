"""Image references in the canonical form containerd stores them, so a short name and what a
node lists compare equal.

The rules are the Docker/OCI reference grammar's normalisation (distribution/reference
normalize.go, ParseDockerRef and splitDockerDomain): a first path component is a registry
host only when it contains "." or ":" or is "localhost" (or has upper case); otherwise the
image is on docker.io, and a single-component name on docker.io lives under "library/"; no tag
and no digest means ":latest"; a reference with both a tag and a digest is the digest alone.
kind normalises `kind load docker-image` names the same way for the same reason (containerd
lists `tasknote:dev` as `docker.io/library/tasknote:dev`): kubernetes-sigs/kind
pkg/cmd/kind/load/docker-image.
"""

from __future__ import annotations

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
