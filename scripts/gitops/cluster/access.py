"""Is there a Kubernetes API server to talk to? Answered quickly, without a traceback."""

from __future__ import annotations

from gitops.core import run, tools
from gitops.core.errors import GitOpsError
from gitops.core.repo import Repo


def cluster_unreachable(repo: Repo, context: str | None = None, timeout_s: int = 5) -> str | None:
    """None when the kubeconfig's current (or given) context answers, else why not, in one sentence."""
    try:
        kubectl = tools.require("kubectl", repo)
    except GitOpsError as exc:
        return str(exc)
    argv = [str(kubectl), f"--request-timeout={timeout_s}s"]
    if context:
        argv += ["--context", context]
    result = run.run([*argv, "version", "-o", "yaml"], check=False, timeout=timeout_s + 5)
    if result.returncode == 0 and "serverVersion" in result.stdout:
        return None
    return "no reachable API server in the current kubeconfig context (set KUBECONFIG or run ./inv bootstrap)"
