"""Open a pull request through GitHub's REST API (POST /repos/{owner}/{repo}/pulls).

The token comes from GITHUB_TOKEN (what Actions provides) and goes only into the Authorization
header: never into argv, a log line, an error message or a repr. GITHUB_API_URL (set by Actions,
and by GitHub Enterprise users) overrides https://api.github.com.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

import requests

from gitops.core.errors import GitOpsError

DEFAULT_API = "https://api.github.com"
SLUG_RE = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
# Which token GITHUB_TOKEN holds, as the release workflow says: "workflow" for the job's own
# GITHUB_TOKEN, anything else for a GitHub App installation token or a personal access token.
# Events caused by the workflow's GITHUB_TOKEN start no workflow runs, so a pull request opened
# with it gets no CI (GitHub docs, "Triggering a workflow from a workflow":
# https://docs.github.com/en/actions/how-tos/write-workflows/choose-when-workflows-run/trigger-a-workflow).
TOKEN_KIND_ENV = "GITHUB_TOKEN_KIND"  # noqa: S105 - a variable name, not a secret
MANUAL_CHECKS_NOTE = (
    "**Checks were not started.** This pull request was opened with the workflow's GITHUB_TOKEN, "
    "and GitHub starts no workflow runs for events caused by that token. Start them by hand: close "
    "and reopen this pull request (or push a commit to its branch). To have them start by themselves, "
    "give the release workflow a GitHub App (variable RELEASE_APP_CLIENT_ID, secret "
    "RELEASE_APP_PRIVATE_KEY) or a fine-grained token (secret RELEASE_PR_TOKEN): README, "
    "\"Release pull requests and CI\"."
)


@dataclass(frozen=True)
class GitHub:
    api_url: str
    token: str
    repository: str
    # False when the token is the workflow's own GITHUB_TOKEN: its pull requests start no checks.
    starts_checks: bool = True

    def __repr__(self) -> str:
        return f"GitHub(api_url={self.api_url!r}, repository={self.repository!r}, token=<hidden>)"


@dataclass(frozen=True)
class PullRequest:
    number: int
    url: str


def from_env(repository: str | None, env: Mapping[str, str] | None = None) -> GitHub:
    """Check everything a pull request needs before anything is written: token, repository, API."""
    env = os.environ if env is None else env
    token = env.get("GITHUB_TOKEN", "")
    if not token:
        raise GitOpsError("GITHUB_TOKEN is not set; export a token with pull-request rights or use --no-pr.")
    slug = repository or env.get("GITHUB_REPOSITORY", "")
    if not slug or not SLUG_RE.match(slug):
        raise GitOpsError(
            "cannot tell which GitHub repository to open the pull request on; "
            "pass --repo owner/name (or set GITHUB_REPOSITORY) or use --no-pr."
        )
    starts_checks = env.get(TOKEN_KIND_ENV, "").strip().lower() != "workflow"
    return GitHub(env.get("GITHUB_API_URL") or DEFAULT_API, token, slug, starts_checks)


def with_checks_note(gh: GitHub, body: str) -> str:
    """The pull request body, plus how to start the checks when this token cannot."""
    return body if gh.starts_checks else f"{MANUAL_CHECKS_NOTE}\n\n{body}"


def open_pull_request(gh: GitHub, *, head: str, base: str, title: str, body: str,
                      session: requests.Session | None = None, timeout_s: float = 30) -> PullRequest:
    url = f"{gh.api_url.rstrip('/')}/repos/{gh.repository}/pulls"
    headers = {
        "Accept": "application/vnd.github+json",
        "Authorization": f"Bearer {gh.token}",
        "X-GitHub-Api-Version": "2022-11-28",
    }
    payload = {"title": title, "head": head, "base": base, "body": with_checks_note(gh, body),
               "maintainer_can_modify": True}
    try:
        response = (session or requests.Session()).post(url, json=payload, headers=headers, timeout=timeout_s)
    except requests.RequestException as exc:
        raise GitOpsError(
            f"cannot reach the GitHub API at {gh.api_url} ({type(exc).__name__}); "
            "check the network and retry."
        ) from None
    if response.status_code != 201:
        try:
            message = str(response.json().get("message", ""))
        except ValueError:
            message = ""
        raise GitOpsError(
            f"GitHub refused the pull request {head} → {base} on {gh.repository} "
            f"(HTTP {response.status_code}{': ' + message if message else ''})."
        )
    data = response.json()
    return PullRequest(int(data.get("number", 0)), str(data.get("html_url", "")))
