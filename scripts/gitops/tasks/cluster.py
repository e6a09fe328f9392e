"""invoke tasks of the `cluster` namespace: thin wrappers that parse arguments and call one function."""

from __future__ import annotations

from invoke.collection import Collection

ns = Collection("cluster")
