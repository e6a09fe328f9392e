"""invoke tasks of the `app` namespace: thin wrappers that parse arguments and call one function."""

from __future__ import annotations

from typing import Any

from invoke.collection import Collection

from gitops import app_image
from gitops.tasks._task import task


@task(help={
    "tag": f"image reference to tag the build with (default {app_image.DEFAULT_TAG})",
    "version": "the org.opencontainers.image.version label (default: apps/tasknote/pyproject.toml's version)",
    "no-cache": "build every layer again (BuildKit's pip cache mount still applies)",
})
def build(c: Any, tag: str = app_image.DEFAULT_TAG, version: str = "", no_cache: bool = False) -> None:
    """Build the TaskNote image from apps/tasknote/Dockerfile with OCI labels (source, revision,
    version) and the machine CA as the BuildKit secret `ca` ($TASKNOTE_CA_FILE overrides it)."""
    spec = app_image.default_spec(tag=tag, version=version, no_cache=no_cache)
    app_image.build(spec)
    info = app_image.inspect(tag)
    print(f"built {tag} ({info.id[7:19]}, {info.size_mb:.1f} MB) "
          f"version {spec.version} revision {spec.revision}")


ns = Collection("app", build)
