"""invoke tasks of the `release` namespace: thin wrappers that parse arguments and call one function."""

from __future__ import annotations

from typing import TYPE_CHECKING

from invoke.collection import Collection
from invoke.context import Context

from gitops.tasks._task import task

if TYPE_CHECKING:
    from gitops.delivery.release import Options

# gitops.delivery.release (requests for the GitHub API, ruamel.yaml for the overlays) is imported inside
# each task: `./inv --list` and the other namespaces should not pay for it.

ns = Collection("release")

GIT_HELP = {
    "no_pr": "branch and commit locally only: no push, no pull request",
    "remote": "git remote to push the branch to (default: origin)",
    "base": "base branch of the pull request (default: the branch checked out now)",
    "repo": "GitHub repository owner/name (default: $GITHUB_REPOSITORY or the remote's URL)",
}


def _options(no_pr: bool, remote: str, base: str, repo: str) -> Options:
    from gitops.core.repo import Repo
    from gitops.delivery.release import Options

    return Options(repo=Repo.discover(), remote=remote, pull_request=not no_pr, base=base or None,
                   github_repository=repo or None)


@task(help={
    "env": "environment whose overlay to bump: dev, staging or prod",
    "image": "kustomize image name to pin (default: tasknote)",
    "tag": "image tag to resolve to a digest in the registry, e.g. 1.4.2",
    "registry": "registry and path the image lives under, e.g. ghcr.io/org (default: the overlay's newName)",
    **GIT_HELP,
})
def bump(c: Context, env: str, tag: str, image: str = "tasknote", registry: str = "", no_pr: bool = False,
         remote: str = "origin", base: str = "", repo: str = "") -> None:
    """Pin an environment to the digest a tag points to now: edit, branch, commit, push, open a PR."""
    from gitops.delivery import release

    outcome = release.bump(env, image, tag, registry or None, opts=_options(no_pr, remote, base, repo))
    print(outcome.summary())


@task(help={
    "from_": "environment to copy the pin from: dev or staging",
    "to": "environment to promote into, one step up: staging or prod",
    "image": "kustomize image name (default: tasknote)",
    "digest": "refuse unless the source environment runs exactly this sha256 digest",
    **GIT_HELP,
})
def promote(c: Context, from_: str, to: str, image: str = "tasknote", digest: str = "", no_pr: bool = False,
            remote: str = "origin", base: str = "", repo: str = "") -> None:
    """Copy the exact digest one environment runs into the next (dev → staging → prod) through a PR."""
    from gitops.delivery import release

    outcome = release.promote(from_, to, image, digest or None, opts=_options(no_pr, remote, base, repo))
    print(outcome.summary())


@task(help={
    "env": "environment to roll back: dev, staging or prod",
    "image": "kustomize image name (default: tasknote)",
    **GIT_HELP,
})
def rollback(c: Context, env: str, image: str = "tasknote", no_pr: bool = False, remote: str = "origin",
             base: str = "", repo: str = "") -> None:
    """Open a PR that puts back the pin an environment had before its last bump or promotion."""
    from gitops.delivery import release

    outcome = release.rollback(env, image, opts=_options(no_pr, remote, base, repo))
    print(outcome.summary())


ns.add_task(bump)
ns.add_task(promote)
ns.add_task(rollback)
