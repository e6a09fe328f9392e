"""invoke tasks of the `app` namespace: thin wrappers that parse arguments and call one function."""

from __future__ import annotations

from typing import Any

from invoke.collection import Collection

from gitops.core import config
from gitops.images import app
from gitops.tasks._task import task

# The domain modules are imported inside each task (defaults come from the import-free
# gitops.images.app): `./inv --list` and the other namespaces should not pay for them.


@task(help={
    "tag": f"image reference to tag the build with (default {app.IMAGE_TAG})",
    "version": "the org.opencontainers.image.version label (default: apps/tasknote/pyproject.toml's version)",
    "no-cache": "build every layer again (BuildKit's pip cache mount still applies)",
})
def build(c: Any, tag: str = app.IMAGE_TAG, version: str = "", no_cache: bool = False) -> None:
    """Build the TaskNote image from apps/tasknote/Dockerfile with OCI labels (source, revision,
    version) and the machine CA as the BuildKit secret `ca` ($TASKNOTE_CA_FILE overrides it)."""
    from gitops.images import app

    spec = app.default_spec(tag=tag, version=version, no_cache=no_cache)
    app.build(spec)
    info = app.inspect(tag)
    print(f"built {tag} ({info.id[7:19]}, {info.size_mb:.1f} MB) "
          f"version {spec.version} revision {spec.revision}")


@task(help={
    "tier": "run only this tier of the app's tests: unit or integration (default: both)",
    "k": "only tests whose names match this pytest -k expression",
})
def test(c: Any, tier: str = "", k: str = "") -> None:
    """Run the app's own tests (apps/tasknote/tests); a tier whose prerequisite is missing skips."""
    from gitops.core import run
    from gitops.tasks.dev import pytest_argv

    argv = pytest_argv("apps/tasknote/tests", tier=tier, k=k, tiers=("unit", "integration"),
                       what="app test tier")
    # A failing run raises run.CommandError, itself a GitOpsError naming the command.
    run.stream(argv, cwd=config.ROOT, timeout=3600)


ns = Collection("app", build, test)
