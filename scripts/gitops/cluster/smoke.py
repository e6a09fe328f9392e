"""One smoke suite for every target: the compose stack, the kind cluster or any context."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from gitops import config, portforward
from gitops.cluster import resolve
from gitops.errors import GitOpsError

Suite = Callable[..., Any]
COMPOSE_URL = "http://127.0.0.1:8000"


def default_suite() -> Suite:
    try:
        from gitops import smoke  # type: ignore[attr-defined,unused-ignore]
    except ImportError:
        raise GitOpsError("gitops.smoke is not available in this checkout; update the repository.") from None
    suite: Suite = smoke.run_suite
    return suite


def run_smoke(target: str, env: str = "dev", *, suite: Suite | None = None, timeout_s: float = 180,
              progress: Callable[[str], None] = print, remote_port: int = 80) -> Any:
    """Run the suite against `compose`, `kind`, `k3s` or the name of a kubeconfig context."""
    config.check_environment(env)
    run_suite = suite or default_suite()
    if target == "compose":
        base_url = os.environ.get("TASKNOTE_COMPOSE_URL", COMPOSE_URL)
        progress(f"smoke: compose stack at {base_url}")
        return run_suite(base_url, timeout_s=timeout_s, progress=progress)
    cluster = resolve(target) if target in config.CLUSTERS else resolve("kind", context=target)
    namespace = f"tasknote-{env}"
    with portforward.service_url(cluster, namespace, remote_port=remote_port) as base_url:
        progress(f"smoke: {cluster.describe()}, svc/tasknote-api in {namespace} via {base_url}")
        return run_suite(base_url, timeout_s=timeout_s, progress=progress)


def report_ok(report: Any) -> bool:
    return bool(getattr(report, "ok", False))


def describe_report(report: Any) -> str:
    lines = []
    for step in getattr(report, "steps", []):
        mark = "ok  " if step.ok else "FAIL"
        detail = f"  {step.detail}" if getattr(step, "detail", "") else ""
        lines.append(f"{mark} {step.name:<28} {step.seconds:6.2f} s{detail}")
    return "\n".join(lines)
