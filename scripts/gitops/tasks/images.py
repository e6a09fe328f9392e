"""invoke tasks of the `images` namespace: thin wrappers that parse arguments and call one function."""

from __future__ import annotations

from invoke.collection import Collection

ns = Collection("images")
