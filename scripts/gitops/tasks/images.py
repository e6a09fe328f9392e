"""invoke tasks of the `images` namespace: thin wrappers that parse arguments and call one function."""

from __future__ import annotations

from invoke.collection import Collection
from invoke.context import Context

from gitops.tasks._task import task

ns = Collection("images")


@task(iterable=["only"], help={
    "force": "rebuild every image even when its inputs are unchanged",
    "mirror": "Debian mirror URL for debootstrap (default: this machine's apt sources)",
    "only": "build just this reference (repeatable), e.g. --only redis:8-trixie",
})
def airgap(c: Context, force: bool = False, mirror: str = "", only: list[str] | None = None) -> None:
    """Build the air-gapped base images (Debian, Python, distroless, PostgreSQL, Redis, registry) locally."""
    from gitops.images import airgap as domain

    results = domain.ensure(force=force, mirror=mirror or None, only=only or ())
    for item in results:
        took = f" in {item.seconds:.0f} s" if item.action == "build" else ""
        print(f"{item.ref:45} {'built' if item.action == 'build' else 'skipped'} ({item.reason}){took}")


ns.add_task(airgap)


@task(iterable=["platform"], help={
    "version": "version tag for the image, e.g. 1.4.2 (a git-<sha12> tag is added)",
    "image": "image name to tag, registry included (default: localhost:5001/tasknote, kind's registry)",
    "context": "build context (default: apps/tasknote)",
    "platform": "target platform (repeatable; more than one builds with buildx and pushes)",
})
def build(c: Context, version: str, image: str = "", context: str = "",
          platform: list[str] | None = None) -> None:
    """Build the app image with OCI labels, tagged with its version and git commit."""
    from pathlib import Path

    from gitops.images import publish as domain

    built = domain.build(image or domain.DEFAULT_IMAGE, version, context=Path(context) if context else None,
                         platforms=platform or ())
    for ref in built.refs:
        print(f"built {ref}")


@task(help={
    "version": "version tag to push (the git-<sha12> tag of the commit it was built from is pushed too)",
    "image": "image name, registry included (default: localhost:5001/tasknote, kind's registry)",
})
def push(c: Context, version: str, image: str = "") -> None:
    """Push the image's tags, then print the digest the registry serves for the version tag."""
    from gitops.images import publish as domain

    name = image or domain.DEFAULT_IMAGE
    # The commit the image was built from (its label), not HEAD: HEAD may have moved since.
    revision = domain.revision_of(f"{name}:{version}")
    digest = domain.push(name, [version, domain.git_tag(revision)])
    print(f"{name}:{version}@{digest}")


ns.add_task(build)
ns.add_task(push)
