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
    from gitops import airgap as domain

    results = domain.ensure(force=force, mirror=mirror or None, only=only or ())
    for item in results:
        took = f" in {item.seconds:.0f} s" if item.action == "build" else ""
        print(f"{item.ref:45} {'built' if item.action == 'build' else 'skipped'} ({item.reason}){took}")


ns.add_task(airgap)
