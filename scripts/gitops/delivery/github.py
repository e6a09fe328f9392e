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


@dataclass(frozen=True)
class GitHub:
    api_url: str
    token: str
    repository: str

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
    return GitHub(env.get("GITHUB_API_URL") or DEFAULT_API, token, slug)


def open_pull_request(gh: GitHub, *, head: str, base: str, title: str, body: str,
                      session: requests.Session | None = None, timeout_s: float = 30) -> PullRequest:
    url = f"{gh.api_url.rstrip('/')}/repos/{gh.repository}/pulls"
    headers = {
        "Accept": "application/vnd.github+json",
        "Authorization": f"Bearer {gh.token}",
        "X-GitHub-Api-Version": "2022-11-28",
    }
    payload = {"title": title, "head": head, "base": base, "body": body, "maintainer_can_modify": True}
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
