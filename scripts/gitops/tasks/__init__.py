"""Assembles the invoke namespaces; each module holds one namespace and no domain logic."""

from __future__ import annotations

from invoke.collection import Collection

from gitops.tasks import app, cluster, dev, images, lifecycle, manifests, release, secrets, stack


def build() -> Collection:
    root = Collection()
    for top_level in (*dev.TASKS, *lifecycle.TASKS):
        root.add_task(top_level)
    for module in (cluster, manifests, secrets, images, release, app, stack, dev):
        root.add_collection(module.ns)
    return root


namespace = build()
