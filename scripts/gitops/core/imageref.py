"""Container image references: registry/repository, tag and digest, parsed without guessing."""

from __future__ import annotations

import re
from dataclasses import dataclass

DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


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
