"""Push a built image and pin what the registry serves: the digest is read back from the registry.

`push` pushes every tag, then asks the registry which digest the version tag now points to: the
digest we pin is the registry's answer, cross-checked against what `docker push` printed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from gitops.core import imageref, run, tools
from gitops.core.errors import GitOpsError
from gitops.core.repo import Repo
from gitops.images import app, registry

# kind's local registry as image references name it, on the host and in the nodes
# (clusters/kind/kind-config.yaml; gitops.cluster.kind wires it up).
LOCAL_REGISTRY = "localhost:5001"
DEFAULT_IMAGE = f"{LOCAL_REGISTRY}/tasknote"

PUSH_DIGEST_RE = re.compile(r"digest: (sha256:[0-9a-f]{64})")


def revision_of(ref: str) -> str:
    """The commit a locally built image says it was built from (its OCI revision label)."""
    labels = app.inspect(ref).labels
    revision = labels.get(f"{app.LABEL_PREFIX}revision", "")
    if not re.fullmatch(r"[0-9a-f]{40}", revision):
        raise GitOpsError(
            f"image {ref} has no git commit in its revision label; build it with {app.BUILD_TASK}.")
    return revision


def push(repo: Repo, image: str, tags: Sequence[str]) -> str:
    """Push image:tag for every tag; return the digest the registry now serves for the first tag."""
    if not tags:
        raise GitOpsError("nothing to push: give at least one tag.")
    docker = str(tools.docker_engine(repo))
    printed: set[str] = set()
    for tag in tags:
        imageref.check_tag(tag)
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

