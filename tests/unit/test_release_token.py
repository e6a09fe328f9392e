"""Release pull requests and CI (issue 14, defect 10): a pull request opened with the workflow's
own GITHUB_TOKEN starts no workflow runs (GitHub docs, "Triggering a workflow from a workflow"),
so the release workflow prefers a GitHub App or a fine-grained token and, on the GITHUB_TOKEN
fallback, the pull request body says the checks must be started by hand. The GitHub API is the
boundary: a recording session stands in for it."""

from __future__ import annotations

from typing import Any

import yaml
from gitops.delivery import github
from support.checkout import this_repo

WORKFLOW = this_repo().root / ".github" / "workflows" / "release.yaml"


class Recorder:
    """Stands in for requests.Session at the GitHub API boundary; records the payload."""

    def __init__(self) -> None:
        self.payloads: list[dict[str, Any]] = []

    def post(self, url: str, json: dict[str, Any], headers: dict[str, str], timeout: float) -> Any:
        self.payloads.append(json)

        class Created:
            status_code = 201

            @staticmethod
            def json() -> dict[str, Any]:
                return {"number": 7, "html_url": "https://github.example/acme/tasknote/pull/7"}

        return Created()


def opened_body(env: dict[str, str]) -> str:
    gh = github.from_env("acme/tasknote", {"GITHUB_TOKEN": "t0ken", **env})
    session = Recorder()
    github.open_pull_request(gh, head="release/dev", base="main", title="t", body="Deploys x.",
                             session=session)  # type: ignore[arg-type]
    return str(session.payloads[0]["body"])


def test_workflow_token_fallback_says_checks_must_be_started_by_hand() -> None:
    body = opened_body({"GITHUB_TOKEN_KIND": "workflow"})
    assert body.startswith(github.MANUAL_CHECKS_NOTE)
    assert "close and reopen this pull request" in body and body.endswith("Deploys x.")


def test_app_or_personal_token_opens_the_plain_body() -> None:
    assert opened_body({"GITHUB_TOKEN_KIND": "app-or-pat"}) == "Deploys x."
    assert opened_body({}) == "Deploys x."


def test_release_workflow_prefers_the_app_then_the_token_then_github_token() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    job = workflow["jobs"]["release"]
    # GITHUB_TOKEN is no longer handed to every step.
    assert "GITHUB_TOKEN" not in (job.get("env") or {})
    steps = {s.get("name", ""): s for s in job["steps"]}
    app = steps["Pull-request token from the release GitHub App"]
    assert app["uses"].startswith("actions/create-github-app-token@")
    assert app["if"] == "vars.RELEASE_APP_CLIENT_ID != ''"
    assert app["with"]["private-key"] == "${{ secrets.RELEASE_APP_PRIVATE_KEY }}"
    pr = steps["Pull request pinning dev to that digest"]
    assert pr["env"]["PR_TOKEN"] == "${{ steps.app-token.outputs.token || secrets.RELEASE_PR_TOKEN }}"
    assert pr["env"]["WORKFLOW_TOKEN"] == "${{ secrets.GITHUB_TOKEN }}"
    script = pr["run"]
    assert 'GITHUB_TOKEN="$PR_TOKEN" GITHUB_TOKEN_KIND=app-or-pat' in script
    assert 'GITHUB_TOKEN="$WORKFLOW_TOKEN" GITHUB_TOKEN_KIND=workflow' in script
    assert script.index("GITHUB_TOKEN_KIND") < script.index("./inv release.bump")
