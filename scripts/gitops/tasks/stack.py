"""invoke tasks of the `stack` namespace: thin wrappers that parse arguments and call one function."""

from __future__ import annotations

from typing import Any

from invoke.collection import Collection

from gitops.images import app
from gitops.tasks._task import task

# gitops.stack.compose is imported inside each task (defaults come from the import-free
# gitops.images.app): `./inv --list` and the other namespaces should not pay for it.

PROJECT_HELP = ("compose project name, so several stacks can share one engine "
                f"(default {app.STACK_PROJECT})")


@task(help={
    "port": f"loopback port the API is published on (default {app.STACK_PORT})",
    "project": PROJECT_HELP,
    "build": "build the image first, as images.build does (default: on; --no-build uses the existing image)",
    "timeout": "seconds to wait for every service to be healthy (default 300)",
})
def up(c: Any, port: int = app.STACK_PORT, project: str = app.STACK_PROJECT,
       build: bool = True, timeout: int = 300) -> None:
    """Build the image and start api, worker, db, cache and the migrate one-shot; wait until healthy.
    The credentials are generated (or kept from an earlier up) as files in a 0700 directory on
    /dev/shm that compose mounts as secrets; none is in compose's environment or any argv."""
    from gitops.core.repo import Repo
    from gitops.stack import compose as domain

    stack = domain.Stack(Repo.discover(), project=project, port=port)
    domain.up(stack, build=build, timeout_s=timeout)
    print(f"stack {project} is healthy: API at {stack.url} (smoke it: TASKNOTE_COMPOSE_URL={stack.url} "
          f"./inv smoke --target compose)")


@task(help={
    "project": PROJECT_HELP,
    "volumes": "also remove the database volume (all tasks and images are lost) and the stack's "
               "generated credentials",
})
def down(c: Any, project: str = app.STACK_PROJECT, volumes: bool = False) -> None:
    """Stop and remove the stack's containers and network; the database volume stays unless --volumes."""
    from gitops.core.repo import Repo
    from gitops.stack import compose as domain

    domain.down(domain.Stack(Repo.discover(), project=project), volumes=volumes)


@task(iterable=["service"], help={
    "service": "only this service (repeatable): api, worker, migrate, db or cache (default: all)",
    "tail": "how many recent lines per service to show first (default 100)",
    "follow": "keep streaming new lines until Ctrl-C",
    "project": PROJECT_HELP,
})
def logs(c: Any, service: list[str] | None = None, tail: int = 100, follow: bool = False,
         project: str = app.STACK_PROJECT) -> None:
    """Show the stack's logs, optionally following them."""
    from gitops.core.repo import Repo
    from gitops.stack import compose as domain

    stack = domain.Stack(Repo.discover(), project=project)
    domain.logs(stack, services=service or (), tail=tail, follow=follow)


ns = Collection("stack", up, down, logs)
