"""Branch, commit and push one change through git (argv via gitops.core.run), with an undo for each step.

A release edits one overlay file and must leave nothing behind when a later step fails, so every
mutating step here returns what it takes to undo it, and `Transaction` replays those undos in
reverse order.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from gitops.core import run
from gitops.core.errors import GitOpsError

BRANCH_RE = re.compile(r"^(?!/)(?!.*//)(?!.*\.\.)(?!.*@\{)[A-Za-z0-9._/-]+(?<![/.])$")


def git(repo: Path, *args: str, check: bool = True, timeout: float = 120) -> run.Result:
    # Never ask for credentials on a terminal: a push without them must fail, not hang.
    return run.run(["git", *args], cwd=repo, check=check, timeout=timeout,
                   env={"GIT_TERMINAL_PROMPT": "0"})


def check_branch_name(name: str) -> str:
    if not BRANCH_RE.match(name) or name.endswith(".lock"):
        raise GitOpsError(f"{name!r} is not a valid git branch name.")
    return name


def toplevel(path: Path) -> Path:
    result = git(path, "rev-parse", "--show-toplevel", check=False)
    if result.returncode != 0:
        raise GitOpsError(f"{path} is not inside a git repository; run the release from a clone.")
    return Path(result.stdout.strip())


def ensure_clean(repo: Path) -> None:
    """Refuse to work on top of uncommitted changes: the release commit must hold only its edit."""
    status = git(repo, "status", "--porcelain", "--untracked-files=normal").stdout
    if status.strip():
        first = status.splitlines()[0][3:]
        raise GitOpsError(
            f"the working tree of {repo} has uncommitted changes ({first} and maybe more); "
            "commit or stash them first."
        )


def current_ref(repo: Path) -> str:
    """The branch checked out, or the commit when HEAD is detached."""
    result = git(repo, "symbolic-ref", "--quiet", "--short", "HEAD", check=False)
    if result.returncode == 0:
        return result.stdout.strip()
    return git(repo, "rev-parse", "HEAD").stdout.strip()


def remote_url(repo: Path, remote: str) -> str | None:
    """The remote's URL, None when the repository has no such remote."""
    result = git(repo, "remote", "get-url", remote, check=False)
    return result.stdout.strip() if result.returncode == 0 else None


def git_reason(stderr: str) -> str:
    """The line of git's stderr that says what went wrong: its first `fatal:` line (git ends
    with advice such as "...and the repository exists.", which is no reason)."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    fatal = [line for line in lines if line.startswith(("fatal:", "error:"))]
    return (fatal or lines or ["no output"])[0].rstrip(".")


def ensure_branch_absent(repo: Path, branch: str, remote: str | None) -> None:
    check_branch_name(branch)
    if git(repo, "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}", check=False).returncode == 0:
        raise GitOpsError(f"branch {branch} already exists locally; delete it or finish that release first.")
    if remote is None:
        return
    if remote_url(repo, remote) is None:
        raise GitOpsError(f"the repository has no remote named {remote}; add it "
                          f"(git remote add {remote} URL) or use --no-pr.")
    result = git(repo, "ls-remote", "--heads", remote, f"refs/heads/{branch}", check=False, timeout=60)
    if result.returncode != 0:
        raise GitOpsError(f"cannot reach remote {remote} ({git_reason(result.stderr)}); check its URL "
                          f"(git remote get-url {remote}), your access and the network.")
    if result.stdout.strip():
        raise GitOpsError(
            f"branch {branch} already exists on {remote}; delete it or finish that release first.")


@dataclass
class Transaction:
    """Undo steps recorded as the change goes; rollback() runs them newest first."""

    undo: list[tuple[str, Callable[[], None]]] = field(default_factory=list)

    def add(self, what: str, step: Callable[[], None]) -> None:
        self.undo.append((what, step))

    def rollback(self) -> list[str]:
        """Run every undo step even when one fails; return what could not be undone."""
        failed = []
        for what, step in reversed(self.undo):
            try:
                step()
            except Exception:  # keep undoing the rest; the caller reports the leftovers
                failed.append(what)
        self.undo.clear()
        return failed


def _later(repo: Path, *args: str, timeout: float = 120) -> Callable[[], None]:
    """A git command to run on rollback."""
    def step() -> None:
        git(repo, *args, timeout=timeout)
    return step


def switch_new_branch(repo: Path, branch: str, tx: Transaction) -> None:
    """`git switch -c branch`, carrying the working-tree edit along."""
    before = current_ref(repo)
    detached = ["--detach"] if re.fullmatch(r"[0-9a-f]{40}", before) else []
    git(repo, "switch", "--quiet", "-c", branch)
    tx.add(f"local branch {branch}", _later(repo, "branch", "--quiet", "-D", branch))
    tx.add(f"checkout of {before}", _later(repo, "switch", "--quiet", *detached, before))


def commit(repo: Path, paths: Sequence[Path], message: str, tx: Transaction) -> str:
    """Commit exactly `paths` with `message`; return the new commit id."""
    rel = [str(p.relative_to(repo)) if p.is_absolute() else str(p) for p in paths]
    git(repo, "add", "--", *rel)
    tx.add("staged edit", _later(repo, "reset", "--quiet", "--", *rel))
    git(repo, "commit", "--quiet", "--no-verify", "-m", message, "--", *rel)
    sha = git(repo, "rev-parse", "HEAD").stdout.strip()
    # Drop the commit but keep the edited file: the caller's own undo restores its bytes.
    tx.add(f"commit {sha[:12]}", _later(repo, "reset", "--quiet", "--mixed", "HEAD~1"))
    return sha


def push(repo: Path, remote: str, branch: str, tx: Transaction) -> None:
    refspec = f"refs/heads/{branch}:refs/heads/{branch}"
    result = git(repo, "push", "--quiet", "--set-upstream", remote, refspec, check=False, timeout=300)
    if result.returncode != 0:
        raise GitOpsError(f"git push of {branch} to {remote} failed ({run.tail(result.stderr, 1)}); "
                          "check the remote and your access, then retry.")
    tx.add(f"branch {branch} on {remote}", _later(repo, "push", "--quiet", remote, "--delete", branch,
                                                  timeout=300))


def remote_slug(url: str) -> str | None:
    """`owner/name` from a GitHub remote URL (https or ssh), None for any other remote."""
    match = re.search(r"github\.com[:/]([^/]+/[^/]+?)(?:\.git)?/?$", url.strip())
    return match.group(1) if match else None


def default_branch(repo: Path, remote: str) -> str | None:
    """The remote's HEAD branch when git knows it (clone sets refs/remotes/<remote>/HEAD)."""
    result = git(repo, "symbolic-ref", "--quiet", "--short", f"refs/remotes/{remote}/HEAD", check=False)
    if result.returncode != 0:
        return None
    return result.stdout.strip().split("/", 1)[-1]


def last_commit_touching(repo: Path, path: Path, subject_prefix: str) -> str | None:
    """The newest commit changing `path` whose subject starts with subject_prefix."""
    rel = str(path.relative_to(repo)) if path.is_absolute() else str(path)
    log = git(repo, "log", "--format=%H%x09%s", "--", rel).stdout
    for line in log.splitlines():
        sha, _, subject = line.partition("\t")
        if subject.startswith(subject_prefix):
            return sha
    return None
