"""Existing kubeconfig contexts: list them, check one answers, and write one safely."""

from __future__ import annotations

from pathlib import Path

from gitops.cluster.target import Target
from gitops.core import run, tools
from gitops.core.errors import GitOpsError
from gitops.core.files import atomic_write


def contexts(kubeconfig: Path | None = None) -> list[str]:
    kubectl = tools.require("kubectl")
    argv = [str(kubectl), "config", "get-contexts", "-o", "name"]
    if kubeconfig is not None:
        argv += ["--kubeconfig", str(kubeconfig)]
    result = run.run(argv, check=False, timeout=15)
    return [line.strip() for line in result.stdout.splitlines() if line.strip()]


def require_reachable(target: Target) -> None:
    """One sentence naming the context and the fix when its API server does not answer."""
    if target.context not in contexts(target.kubeconfig):
        fix = (f"create it with ./inv cluster.create --cluster {target.cluster}" if target.managed
               else "see kubectl config get-contexts for the ones you have")
        raise GitOpsError(f"kubeconfig has no context {target.context!r}; {fix}.")
    if not reachable(target):
        raise GitOpsError(
            f"the API server of context {target.context!r} does not answer within 5 s; "
            "start the cluster or fix the kubeconfig."
        )


def reachable(target: Target, timeout_s: int = 5) -> bool:
    kubectl = tools.require("kubectl")
    result = run.run([str(kubectl), *target.kubectl_args(), f"--request-timeout={timeout_s}s",
                      "version", "-o", "yaml"], check=False, timeout=timeout_s + 5)
    return result.returncode == 0 and "serverVersion" in result.stdout


def write_private(path: Path, text: str) -> Path:
    """Atomic write with mode 0600: a kubeconfig carries client credentials."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    atomic_write(path, text.encode("utf-8"), mode=0o600)
    return path
