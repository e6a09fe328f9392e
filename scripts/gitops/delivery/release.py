"""Git-PR-driven deploys: bump, promote and roll back an environment's image pin through a pull request.

Every command follows one order so that a failure leaves the working tree byte-identical:
validate the inputs, read the overlay, check git (clean tree, branch free, remote and token known),
ask the registry (read-only) — and only then write. After the write, rendering the overlay,
`manifests.check` of that overlay (render, schemas, policy), branch, commit, push and pull
request each register an undo; any failure replays them newest
first, the overlay file included, and the error says what happened in one sentence.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitops.core import config, imageref
from gitops.core.errors import GitOpsError
from gitops.core.repo import Repo
from gitops.delivery import gitflow, github
from gitops.images import registry
from gitops.manifests import checks, overlays, policy, render, validate
from gitops.manifests.overlays import Pin

IMAGES = ("tasknote",)  # kustomize image names the overlays pin (containers say `image: tasknote`)


@dataclass(frozen=True)
class Options:
    """Where and how: the repository, its remote, whether to push and open a pull request."""

    repo: Repo
    remote: str = "origin"
    pull_request: bool = True
    base: str | None = None  # the pull request's base branch (default: the branch we started on)
    github_repository: str | None = None  # owner/name (default: GITHUB_REPOSITORY or the remote URL)
    env: Mapping[str, str] | None = None  # environment variables (tests pass their own)


@dataclass(frozen=True)
class Outcome:
    env: str
    old: Pin | None
    new: Pin
    noop: bool = False
    branch: str | None = None
    commit: str | None = None
    pull_request: github.PullRequest | None = None
    changed: tuple[str, ...] = field(default_factory=tuple)

    def summary(self) -> str:
        if self.noop:
            return f"{self.env} already runs {self.new.name} {self.new.tag}; nothing to do."
        was = self.old.tag if self.old else "unpinned"
        lines = [f"{self.env}: {self.new.name} {self.new.tag} (was {was})"]
        if self.branch:
            lines.append(f"branch {self.branch}, commit {(self.commit or '')[:12]}")
        if self.pull_request:
            lines.append(f"pull request #{self.pull_request.number}: {self.pull_request.url}")
        elif self.branch:
            lines.append("no pull request opened (--no-pr)")
        return "\n".join(lines)


def check_image(image: str) -> str:
    if image not in IMAGES:
        raise GitOpsError(f"unknown image {image!r}; the overlays pin {', '.join(IMAGES)}.")
    return image


def render_overlay(repo: Repo, env: str, *, use_cache: bool) -> list[render.Rendered]:
    """overlays/<env> of `repo` rendered the way `manifests.*` renders it (pinned kubectl)."""
    return checks.rendered(repo, f"overlays/{env}", use_cache=use_cache)


def check_rendered(repo: Repo, results: list[render.Rendered]) -> None:
    """What `./inv manifests.check --target overlays/<env>` does (schemas, policy), on a render
    already made: the edited overlay is rendered once, for this gate and the PR's object list."""
    report = checks.Report([r.target.name for r in results], problems=validate.validate(results, repo),
                           findings=policy.check(results))
    if not report.ok:
        raise GitOpsError(f"the bumped overlay fails manifests.check: {report.summary_error()}")


def docs_of(results: list[render.Rendered]) -> list[dict[str, Any]]:
    return [doc for result in results for doc in result.docs]


def changed_objects(before: Sequence[Any], after: Sequence[Any]) -> tuple[str, ...]:
    """`Kind namespace/name` of every rendered object that differs between two renders (parsed docs)."""
    def index(docs: Sequence[Any]) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for doc in docs:
            if isinstance(doc, dict):
                meta = doc.get("metadata") or {}
                where = f"{meta['namespace']}/" if meta.get("namespace") else ""
                found[f"{doc.get('kind')} {where}{meta.get('name')}"] = doc
        return found

    old, new = index(before), index(after)
    return tuple(sorted(key for key in old.keys() | new.keys() if old.get(key) != new.get(key)))


def pr_body(env: str, old: Pin | None, new: Pin, changed: tuple[str, ...], note: str = "") -> str:
    def row(label: str, pin: Pin | None) -> str:
        if pin is None:
            return f"| {label} | (unpinned) | | |"
        return f"| {label} | `{pin.version}` | `{pin.digest}` | `{pin.new_name}` |"

    objects = "\n".join(f"- {item}" for item in changed) or "- (no rendered object changes)"
    return "\n".join([
        f"Deploys `{new.name}` to **{env}**.{(' ' + note) if note else ''}",
        "",
        "| | version | digest | image |",
        "| --- | --- | --- | --- |",
        row("before", old),
        row("after", new),
        "",
        f"Objects that change (`kubectl kustomize overlays/{env}`):",
        objects,
        "",
        "Merging this pull request is the deploy; reverting it is the rollback.",
        "Opened by `./inv release.*`.",
    ])


@dataclass(frozen=True)
class Change:
    """One planned edit of one overlay, everything checked, nothing written yet."""

    env: str
    path: Path
    text: str
    new_text: str
    old: Pin | None
    new: Pin
    branch: str
    message: str
    note: str = ""


def _subject_pin(pin: Pin | None) -> str:
    return pin.short() + "…" if pin else "unpinned"


def _prepare_git(repo: Path, opts: Options) -> tuple[str, github.GitHub | None]:
    """Checks that need no network: clean tree, where the PR goes, token present."""
    gitflow.ensure_clean(repo)
    base = opts.base or gitflow.current_ref(repo)
    gh = None
    if opts.pull_request:
        url = gitflow.remote_url(repo, opts.remote)
        if url is None:
            raise GitOpsError(f"the repository has no remote named {opts.remote}; add it or use --no-pr.")
        gh = github.from_env(opts.github_repository or gitflow.remote_slug(url), opts.env)
    return base, gh


def _apply(repo: Path, change: Change, base: str, gh: github.GitHub | None, opts: Options) -> Outcome:
    gitflow.ensure_branch_absent(repo, change.branch, opts.remote if opts.pull_request else None)
    # Before the edit the overlay is what is committed: the render cache may answer.
    before = docs_of(render_overlay(opts.repo, change.env, use_cache=True))
    original = change.path.read_bytes()
    tx = gitflow.Transaction()
    overlays.write_file(change.path, change.new_text)
    tx.add(f"edit of {change.path}", lambda: overlays.write_file(change.path, original.decode("utf-8")))
    try:
        after = render_overlay(opts.repo, change.env, use_cache=False)
        changed = changed_objects(before, docs_of(after))
        check_rendered(opts.repo, after)
        gitflow.switch_new_branch(repo, change.branch, tx)
        sha = gitflow.commit(repo, [change.path], change.message, tx)
        pull = None
        if gh is not None:
            gitflow.push(repo, opts.remote, change.branch, tx)
            pull = github.open_pull_request(
                gh, head=change.branch, base=base, title=change.message,
                body=pr_body(change.env, change.old, change.new, changed, change.note))
    except BaseException as exc:
        leftovers = tx.rollback()
        reason = str(exc) if isinstance(exc, GitOpsError) else f"{type(exc).__name__}: {exc}"
        if leftovers:
            raise GitOpsError(f"{reason} Could not undo: {', '.join(leftovers)}; clean those up by hand.") \
                from None
        if isinstance(exc, GitOpsError):
            raise GitOpsError(f"{reason.rstrip('.')}; nothing was changed.") from None
        raise
    return Outcome(change.env, change.old, change.new, branch=change.branch, commit=sha,
                   pull_request=pull, changed=changed)


def _change(env: str, path: Path, text: str, old: Pin | None, new: Pin, kind: str, subject: str,
            note: str = "") -> Change:
    branch = f"{kind}/{env}/{new.name}-{new.version}-{new.digest[7:19]}"
    return Change(env, path, text, overlays.set_pin(text, new, str(path)), old, new, branch, subject, note)


def _overlay(repo: Path, env: str, image: str) -> tuple[Path, str, Pin | None]:
    path = overlays.kustomization_file(env, repo / "overlays")
    text = overlays.read_file(path)
    return path, text, overlays.read_pin(text, image, str(path))


def bump(env: str, image: str, tag: str, image_registry: str | None = None,
         *, opts: Options) -> Outcome:
    """Pin `image` in `env` to the digest `tag` points to now, through a branch, commit and PR."""
    config.check_environment(env)
    check_image(image)
    imageref.check_tag(tag)
    repo = gitflow.toplevel(opts.repo.root)
    path, text, old = _overlay(repo, env, image)
    if image_registry:
        new_name = f"{image_registry.rstrip('/')}/{image}"
    elif old is not None:
        new_name = old.new_name
    else:
        raise GitOpsError(f"overlays/{env} does not say which registry {image} comes from; pass --registry.")
    imageref.parse_image_name(new_name)
    base, gh = _prepare_git(repo, opts)
    digest = registry.resolve(new_name, tag, env=opts.env)
    new = Pin(image, new_name, tag, digest)
    if old == new:
        return Outcome(env, old, new, noop=True)
    subject = f"{env}: {image} {_subject_pin(new)} (was {_subject_pin(old)})"
    return _apply(repo, _change(env, path, text, old, new, "release", subject), base, gh, opts)


def promote(source: str, target: str, image: str = "tasknote", digest: str | None = None,
            *, opts: Options) -> Outcome:
    """Copy the exact pin `source` runs into `target` (one step up), never rebuilding."""
    overlays.check_promotion(source, target)
    check_image(image)
    if digest is not None:
        imageref.check_digest(digest)
    repo = gitflow.toplevel(opts.repo.root)
    _, _, running = _overlay(repo, source, image)
    if running is None:
        raise GitOpsError(f"{source} has no pinned {image} to promote; bump {source} first.")
    if digest is not None and digest != running.digest:
        raise GitOpsError(f"{source} runs {image} {running.digest}, not {digest}; only what {source} runs "
                          "can be promoted.")
    path, text, old = _overlay(repo, target, image)
    base, gh = _prepare_git(repo, opts)
    # Environments may pull from different registries (dev: kind's local one, staging/prod: ghcr.io):
    # the target keeps its own, and must already hold the very same digest (content-addressed,
    # so the same bytes) — promotion copies a pin, it never builds or pushes.
    new_name = old.new_name if old is not None else running.new_name
    registry.verify(new_name, running.digest, env=opts.env)
    new = Pin(image, new_name, running.version, running.digest)
    if old == new:
        return Outcome(target, old, new, noop=True)
    subject = f"{target}: {image} {_subject_pin(new)} from {source} (was {_subject_pin(old)})"
    return _apply(repo, _change(target, path, text, old, new, "promote", subject,
                                f"Promoted from {source}: the same digest, not a rebuild."),
                  base, gh, opts)


def rollback(env: str, image: str = "tasknote", *, opts: Options) -> Outcome:
    """Put back the pin `env` had before its last bump or promotion, through the same PR flow."""
    config.check_environment(env)
    check_image(image)
    repo = gitflow.toplevel(opts.repo.root)
    path, text, current = _overlay(repo, env, image)
    last = gitflow.last_commit_touching(repo, path, f"{env}: {image} ")
    if last is None or current is None:
        raise GitOpsError(f"found no bump of {image} in overlays/{env} to roll back.")
    rel = path.relative_to(repo).as_posix()
    previous_text = gitflow.git(repo, "show", f"{last}~1:{rel}", check=False)
    previous = (overlays.read_pin(previous_text.stdout, image, f"{rel} before {last[:12]}")
                if previous_text.returncode == 0 else None)
    if previous is None:
        raise GitOpsError(f"{rel} pinned no {image} before {last[:12]}; nothing to roll back to.")
    base, gh = _prepare_git(repo, opts)
    registry.verify(previous.new_name, previous.digest, env=opts.env)
    if previous == current:
        return Outcome(env, current, previous, noop=True)
    subject = f"{env}: {image} {_subject_pin(previous)} rollback of {last[:12]} (was {_subject_pin(current)})"
    return _apply(repo, _change(env, path, text, current, previous, "rollback", subject,
                                f"Rolls back {last[:12]}."), base, gh, opts)
