"""invoke tasks of the `images` namespace: thin wrappers that parse arguments and call one function."""

from __future__ import annotations

from invoke.collection import Collection
from invoke.context import Context

from gitops.images.app import IMAGE_TAG
from gitops.tasks._task import task

# The domain modules are imported inside each task: `./inv --list` should not pay for them.

ns = Collection("images")


@task(iterable=["only"], help={
    "force": "rebuild every image even when its inputs are unchanged",
    "mirror": "Debian mirror URL for debootstrap (default: this machine's apt sources)",
    "only": "build just this reference (repeatable), e.g. --only redis:8-trixie",
})
def airgap(c: Context, force: bool = False, mirror: str = "", only: list[str] | None = None) -> None:
    """Build the air-gapped base images (Debian, Python, distroless, PostgreSQL, Redis, registry) locally."""
    from gitops.core.repo import Repo
    from gitops.images import airgap as domain

    results = domain.ensure(Repo.discover(), force=force, mirror=mirror or None, only=only or ())
    for item in results:
        took = f" in {item.seconds:.0f} s" if item.action == "build" else ""
        print(f"{item.ref:45} {'built' if item.action == 'build' else 'skipped'} ({item.reason}){took}")


@task(iterable=["platform"], help={
    "version": "release build: tag <image>:<version> and <image>:git-<sha12> of HEAD, e.g. 1.4.2 "
               f"(without it: a local build tagged --tag, {IMAGE_TAG} by default)",
    "image": "image name of a release build, registry included (default: localhost:5001/tasknote, "
             "kind's registry)",
    "tag": f"image reference of a local build (default {IMAGE_TAG}); not used with --version",
    "context": "build context of a release build (default: apps/tasknote)",
    "platform": ("target platform of a release build (repeatable; more than one builds with buildx "
                 "and pushes)"),
    "no-cache": "build every layer again (BuildKit's pip cache mount still applies)",
})
def build(c: Context, version: str = "", image: str = "", tag: str = IMAGE_TAG, context: str = "",
          platform: list[str] | None = None, no_cache: bool = False) -> None:
    """Build the TaskNote image from apps/tasknote/Dockerfile with OCI labels (source, revision,
    version) and the machine CA as the BuildKit secret `ca` ($TASKNOTE_CA_FILE overrides it)."""
    from dataclasses import replace
    from pathlib import Path

    from gitops.core.repo import Repo
    from gitops.images import app
    from gitops.images import push as image_push

    repo = Repo.discover()
    if version:
        spec = replace(app.release_spec(repo, image or image_push.DEFAULT_IMAGE, version,
                                        context=Path(context) if context else None, platforms=platform or ()),
                       no_cache=no_cache)
    else:
        spec = app.local_spec(repo, tag=tag, no_cache=no_cache)
    app.build(repo, spec)
    for ref in spec.refs:
        info = app.inspect(ref) if len(spec.platforms) <= 1 else None
        size = f" ({info.id[7:19]}, {info.size_mb:.1f} MB)" if info else ""
        print(f"built {ref}{size} version {spec.version} revision {spec.revision}")


@task(help={
    "version": "version tag to push (the git-<sha12> tag of the commit it was built from is pushed too)",
    "image": "image name, registry included (default: localhost:5001/tasknote, kind's registry)",
})
def push(c: Context, version: str, image: str = "") -> None:
    """Push the image's tags, then print the digest the registry serves for the version tag."""
    from gitops.core.repo import Repo
    from gitops.images import app
    from gitops.images import push as image_push

    name = image or image_push.DEFAULT_IMAGE
    # The commit the image was built from (its label), not HEAD: HEAD may have moved since.
    revision = image_push.revision_of(f"{name}:{version}")
    digest = image_push.push(Repo.discover(), name, [version, app.git_tag(revision)])
    print(f"{name}:{version}@{digest}")


ns.add_task(airgap)
ns.add_task(build)
ns.add_task(push)
