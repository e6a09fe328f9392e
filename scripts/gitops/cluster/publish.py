"""Publish the user's checkout to the local Git source without touching the checkout.

One published commit = the source tree (HEAD's tree, or HEAD plus uncommitted changes when
asked) with, in that commit only:
- overlays/dev/kustomization.yaml pinned to the digest the registry returned for the app image
  built from that same tree (gitops.manifests.overlays.set_pin, applied to the text, not to the file);
- overlays/dev/sealed-secrets.yaml sealed to this cluster's key (gitops.cluster.devsecrets) and
  clusters/kind/sealed-secrets-cert.pem set to this cluster's certificate, so the published
  tree says which key its secrets are for;
- every `repoURL`/`sourceRepos` naming versions.yaml repository.url (and that entry itself)
  pointed at the local Git source (gitops.manifests.repo_url.replace_scalar), so the self-managed root
  Application keeps reading the local source after its first sync.

It is made with git plumbing against a private index (GIT_INDEX_FILE) and a private object
directory (GIT_OBJECT_DIRECTORY, the checkout's own objects as read-only alternates), both in
a temporary directory removed afterwards: the checkout's working tree, index, HEAD, refs,
stash and object store are never written. Its parent is the previously published commit, and a
tree equal to that commit's tree makes no commit at all. The commit reaches the server's bare
repository with `git push <path> <commit>:refs/heads/main` (hooks skipped: nothing of the
user's runs).
"""

from __future__ import annotations

import os
import re
import tempfile
import tomllib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from cryptography import x509

from gitops.cluster import devsecrets
from gitops.core import run, tools
from gitops.core.errors import GitOpsError
from gitops.core.imageref import parse_image_name
from gitops.core.repo import Repo
from gitops.images import app as app_image
from gitops.images import push as image_push
from gitops.images import registry
from gitops.manifests import repo_url
from gitops.manifests.overlays import Pin, set_pin
from gitops.secrets.crypto import cert_pem

APP_DIR = "apps/tasknote"
APP_IMAGE = "tasknote"  # the placeholder name overlays pin (gitops.manifests.pins.OWN_IMAGE)
OVERLAY = "overlays/dev/kustomization.yaml"
BRANCH = "refs/heads/main"
# The published commits are the automation's, not the user's: a fixed identity, so publishing
# works without user.name configured and never signs or runs the user's hooks.
IDENTITY = {"GIT_AUTHOR_NAME": "tasknote publish", "GIT_AUTHOR_EMAIL": "publish@tasknote.invalid",
            "GIT_COMMITTER_NAME": "tasknote publish", "GIT_COMMITTER_EMAIL": "publish@tasknote.invalid"}


class Stage:
    """git against the checkout with a private index and object directory (see module doc)."""

    def __init__(self, repo: Path, scratch: Path, bare: Path) -> None:
        self.repo = repo
        self.scratch = scratch
        self._blobs: dict[tuple[str, str], str | None] = {}
        top = run.run(["git", "rev-parse", "--show-toplevel"], cwd=repo, check=False, timeout=30)
        if top.returncode != 0:
            raise GitOpsError(f"{repo} is not a Git checkout; publish runs from a clone of this repository.")
        objects = Path(run.run(["git", "rev-parse", "--git-path", "objects"], cwd=repo, timeout=30)
                       .stdout.strip())
        objects = objects if objects.is_absolute() else (repo / objects)
        (scratch / "objects").mkdir()
        alternates = [str(objects.resolve())]
        if (bare / "objects").is_dir():
            alternates.append(str((bare / "objects").resolve()))  # the previous published commit
        self.env = {
            "GIT_INDEX_FILE": str(scratch / "index"),
            "GIT_OBJECT_DIRECTORY": str(scratch / "objects"),
            "GIT_ALTERNATE_OBJECT_DIRECTORIES": os.pathsep.join(alternates),
            **IDENTITY,
        }

    def git(self, *args: str, input_text: str | None = None, check: bool = True) -> str:
        return run.run(["git", *args], cwd=self.repo, env=self.env, input_text=input_text, check=check,
                       timeout=300).stdout.strip()

    def blob(self, tree: str, path: str) -> str | None:
        """The text of `path` in `tree`, None when the tree has no such file (trees are immutable,
        so each is read once)."""
        if (tree, path) not in self._blobs:
            result = run.run(["git", "cat-file", "blob", f"{tree}:{path}"], cwd=self.repo, env=self.env,
                             check=False, timeout=60)
            self._blobs[tree, path] = result.stdout if result.returncode == 0 else None
        return self._blobs[tree, path]

    def paths(self, tree: str, prefix: str) -> list[str]:
        out = self.git("ls-tree", "-r", "--name-only", "-z", tree, "--", prefix)
        return [p for p in out.split("\0") if p]

    def write_blobs(self, edits: Mapping[str, str]) -> None:
        """Put each path's new text into the private index (mode kept, new files 100644)."""
        for path, text in sorted(edits.items()):
            sha = self.git("hash-object", "-w", "--stdin", input_text=text)
            listed = self.git("ls-files", "--stage", "--", path)
            mode = listed.split(" ", 1)[0] if listed else "100644"
            self.git("update-index", "--add", "--cacheinfo", f"{mode},{sha},{path}")


@dataclass(frozen=True)
class SourceTree:
    head: str  # the checkout's HEAD commit
    tree: str  # the tree published from (HEAD's, or HEAD plus uncommitted changes)
    app_tree: str  # the tree of apps/tasknote in it: what the image is built from
    uncommitted: bool  # the tree differs from HEAD's

    @property
    def revision(self) -> str:
        return self.head + ("-dirty" if self.uncommitted else "")


@contextmanager
def staging(repo: Path, bare: Path) -> Iterator[Stage]:
    with tempfile.TemporaryDirectory(prefix="tasknote-publish-") as scratch:
        yield Stage(repo, Path(scratch), bare)


def source_tree(stage: Stage, *, include_uncommitted: bool) -> SourceTree:
    """Load HEAD (and, when asked, every change `git add --all` would stage) into the private index."""
    head = stage.git("rev-parse", "--verify", "--quiet", "HEAD^{commit}", check=False)
    if not head:
        raise GitOpsError(f"{stage.repo} has no commit yet; commit once, then publish.")
    stage.git("read-tree", head)
    if include_uncommitted:
        # Tracked changes, deletions and new files not ignored by .gitignore, into OUR index only.
        stage.git("add", "--all", "--", ":/")
    tree = stage.git("write-tree")
    head_tree = stage.git("rev-parse", f"{head}^{{tree}}")
    app_tree = stage.git("rev-parse", "--verify", "--quiet", f"{tree}:{APP_DIR}", check=False)
    if not app_tree:
        raise GitOpsError(f"the published tree has no {APP_DIR}; publish from a checkout of this repository.")
    return SourceTree(head, tree, app_tree, tree != head_tree)


# --- the app image -------------------------------------------------------------------------------


def image_tag(app_tree: str) -> str:
    """Content-addressed: the same apps/tasknote tree always names the same image."""
    return f"src-{app_tree[:12]}"


def app_version(stage: Stage, tree: str) -> str:
    text = stage.blob(tree, f"{APP_DIR}/pyproject.toml") or ""
    try:
        return str(tomllib.loads(text)["project"]["version"])
    except (tomllib.TOMLDecodeError, KeyError):
        raise GitOpsError(f"{APP_DIR}/pyproject.toml has no readable [project] version; fix it.") from None


@dataclass(frozen=True)
class AppImage:
    reference: str  # name:tag pushed
    digest: str  # what the registry serves for it
    built: bool  # False: the registry already had the image of this exact tree
    version: str


def build_from_tree(repo: Repo, stage: Stage, source: SourceTree, ref: str, version: str) -> None:
    """docker build of exactly the source tree's apps/tasknote (a `git archive` tar on stdin),
    not of whatever the working tree holds."""
    tar = stage.scratch / "app.tar"
    stage.git("archive", "--format=tar", f"--output={tar}", source.app_tree)
    spec = app_image.BuildSpec(refs=(ref,), version=version, revision=source.revision,
                               source=app_image.git_source(stage.repo), context=Path("-"),
                               ca_file=app_image.ca_file(), base_images=app_image.standin_base_images())
    argv = app_image.build_argv(str(tools.docker_engine(repo)), spec)
    result = run.run(argv, env={"DOCKER_BUILDKIT": "1"}, input_bytes=tar.read_bytes(), check=False,
                     timeout=1800)
    if result.returncode != 0:
        why = run.tail(result.stderr or result.stdout, 3)
        raise GitOpsError(f"building the TaskNote image failed ({why}); "
                          "fix the build (./inv images.build shows the whole log) and publish again.")


def ensure_app_image(repo: Repo, stage: Stage, source: SourceTree, push_name: str,
                     progress: Callable[[str], None] = lambda _: None) -> AppImage:
    """The registry's digest for the image of this apps/tasknote tree; built and pushed only
    when the registry does not have that tree's image yet."""
    tag = image_tag(source.app_tree)
    version = app_version(stage, source.tree)
    try:
        return AppImage(f"{push_name}:{tag}", registry.resolve(push_name, tag), False, version)
    except GitOpsError:
        pass  # not there yet (or unreachable: then the push below says so in one sentence)
    ref = f"{push_name}:{tag}"
    # A first build installs the dependencies (minutes); after that BuildKit's cache keeps a
    # code-only change to seconds.
    changes = " plus uncommitted changes" if source.uncommitted else ""
    progress(f"   building {ref} from {APP_DIR} at {source.head[:12]}{changes}")
    build_from_tree(repo, stage, source, ref, version)
    progress(f"   pushing {ref}")
    return AppImage(ref, image_push.push(repo, push_name, [tag]), True, version)


# --- the published tree --------------------------------------------------------------------------


@dataclass(frozen=True)
class Previous:
    commit: str | None
    tree: str | None


def previous(bare: Path) -> Previous:
    if not (bare / "HEAD").is_file():
        raise GitOpsError(f"{bare} is not a bare Git repository; start the local Git source first "
                          "(./inv bootstrap does).")
    git = ["git", "--git-dir", str(bare), "rev-parse"]
    found = run.run([*git, "--verify", "--quiet", f"{BRANCH}^{{commit}}"], check=False, timeout=30)
    commit = found.stdout.strip() or None
    tree = run.run([*git, f"{commit}^{{tree}}"], timeout=30).stdout.strip() if commit else None
    return Previous(commit, tree)


def retargeted(texts: Mapping[str, str], old_url: str, new_url: str) -> dict[str, str]:
    """The texts whose repoURL/sourceRepos/repository.url named old_url, now naming new_url."""
    out = {}
    for path, text in texts.items():
        after = repo_url.replace_scalar(text, old_url, new_url)
        if after != text:
            out[path] = after
    return out


def repository_url(versions_text: str) -> str:
    url = ((yaml.safe_load(versions_text) or {}).get("repository") or {}).get("url")
    if not url:
        raise GitOpsError("versions.yaml has no repository.url; "
                          "add the URL Argo CD reads this repository from.")
    return str(url)


def tree_edits(stage: Stage, source: SourceTree, prior: Previous, *, pin: Pin, cert: x509.Certificate,
               source_url: str) -> dict[str, str]:
    """Every file the published tree changes, path → new text (pure but for reading blobs)."""
    edits: dict[str, str] = {}
    overlay = stage.blob(source.tree, OVERLAY)
    if overlay is None:
        raise GitOpsError(f"the published tree has no {OVERLAY}; restore it from Git.")
    edits[OVERLAY] = set_pin(overlay, pin, OVERLAY)

    sealed = stage.blob(source.tree, devsecrets.SEALED_PATH)
    if sealed is not None:
        source_cert = stage.blob(source.tree, devsecrets.CERT_PATH)
        prior_sealed = stage.blob(prior.tree, devsecrets.SEALED_PATH) if prior.tree else None
        prior_cert = stage.blob(prior.tree, devsecrets.CERT_PATH) if prior.tree else None
        edits[devsecrets.SEALED_PATH] = devsecrets.sealed_for_cluster(
            sealed, source_cert.encode() if source_cert else None, cert,
            prior_sealed, prior_cert.encode() if prior_cert else None)
    edits[devsecrets.CERT_PATH] = cert_pem(cert).decode("ascii")

    versions_text = stage.blob(source.tree, "versions.yaml") or ""
    old_url = repository_url(versions_text)
    if old_url != source_url:
        candidates = {"versions.yaml": versions_text}
        candidates.update({p: stage.blob(source.tree, p) or "" for p in stage.paths(source.tree, "argocd")
                           if p.endswith(".yaml")})
        edits.update(retargeted(candidates, old_url, source_url))
    # Only real changes: an unchanged text re-hashed would still be the same blob, but the
    # caller prints this list.
    return {p: t for p, t in edits.items() if stage.blob(source.tree, p) != t}


@dataclass(frozen=True)
class Published:
    commit: str  # what the server's main points at now
    created: bool  # False: the tree equalled the last published one, no commit was made
    source: SourceTree
    image: AppImage
    changed: tuple[str, ...] = field(default=())  # paths that differ from the previous publish
    parent: str | None = None  # the previously published commit (None: the first publish)


def message(source: SourceTree, image: AppImage) -> str:
    what = f"{source.head[:12]}" + (" plus uncommitted changes" if source.uncommitted else "")
    return (f"Publish {what} to the kind cluster\n\n"
            f"Source-Commit: {source.head}\nSource-Uncommitted: {'yes' if source.uncommitted else 'no'}\n"
            f"Image: {image.reference}@{image.digest}\n")


def commit_and_push(stage: Stage, source: SourceTree, prior: Previous, edits: Mapping[str, str],
                    image: AppImage, bare: Path) -> Published:
    stage.write_blobs(edits)
    tree = stage.git("write-tree")
    if tree == prior.tree and prior.commit:
        return Published(prior.commit, False, source, image)
    parents = ["-p", prior.commit] if prior.commit else []
    commit = stage.git("commit-tree", tree, *parents, "-F", "-", input_text=message(source, image))
    changed = stage.git("diff-tree", "-r", "--name-only", "-z", "--no-commit-id",
                        *([prior.commit, commit] if prior.commit else ["--root", commit]))
    # Local transport: git clears GIT_OBJECT_DIRECTORY & co. for the receive-pack it spawns in
    # the bare repository, so the objects land there; --no-verify: the user's pre-push hook is
    # about their remotes, not this one.
    stage.git("push", "--quiet", "--no-verify", str(bare.resolve()), f"{commit}:{BRANCH}")
    return Published(commit, True, source, image, tuple(p for p in changed.split("\0") if p), prior.commit)


def check_push_name(push_name: str) -> str:
    parse_image_name(push_name)
    if not re.search(r"/tasknote$", push_name):
        raise GitOpsError(f"{push_name!r} must name the tasknote repository of a registry, "
                          "e.g. localhost:5001/tasknote.")
    return push_name


def publish(repo: Repo, bare: Path, *, source_url: str, cert: x509.Certificate, push_name: str,
            pull_name: str | None = None, include_uncommitted: bool = False,
            progress: Callable[[str], None] = lambda _: None) -> Published:
    """Build and push the image of the source tree, then publish its commit to `bare`.

    `push_name` is the image name the host pushes to (localhost:5001/tasknote), `pull_name`
    the one the nodes pull (the same for kind; defaults to push_name).
    """
    check_push_name(push_name)
    with staging(repo.root, bare) as stage:
        prior = previous(bare)
        source = source_tree(stage, include_uncommitted=include_uncommitted)
        image = ensure_app_image(repo, stage, source, push_name, progress)
        pin = Pin(APP_IMAGE, pull_name or push_name, image.version, image.digest)
        edits = tree_edits(stage, source, prior, pin=pin, cert=cert, source_url=source_url)
        return commit_and_push(stage, source, prior, edits, image, bare)


def is_current(repo: Repo, bare: Path, *, source_url: str, cert: x509.Certificate, push_name: str,
               pull_name: str | None = None, include_uncommitted: bool = False) -> bool:
    """Whether publishing now would make no commit: the registry already serves this tree's
    image and the served main's tree is what publish would write. Builds and writes nothing
    (bootstrap's check before its publish step)."""
    check_push_name(push_name)
    with staging(repo.root, bare) as stage:
        prior = previous(bare)
        if prior.tree is None:
            return False
        source = source_tree(stage, include_uncommitted=include_uncommitted)
        try:
            digest = registry.resolve(push_name, image_tag(source.app_tree))
        except GitOpsError:
            return False
        pin = Pin(APP_IMAGE, pull_name or push_name, app_version(stage, source.tree), digest)
        stage.write_blobs(tree_edits(stage, source, prior, pin=pin, cert=cert, source_url=source_url))
        return stage.git("write-tree") == prior.tree
