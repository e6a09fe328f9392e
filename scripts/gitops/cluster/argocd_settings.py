"""The argocd-cm settings bootstrap puts in place before it applies the root Application.

Argo CD 1.8 removed the health assessment of Application objects; without it an
app-of-apps counts a child Application Healthy as soon as it exists, so sync waves of child
Applications do not wait for each other. Argo CD's docs restore it with a
`resource.customizations.health.argoproj.io_Application` entry in argocd-cm ("Resource
Health", section "Argocd App": "You might need to restore it if you are using app-of-apps
pattern and orchestrating synchronization using sync waves",
https://argo-cd.readthedocs.io/en/release-3.3/operator-manual/health/).

The self-managed platform-argocd Application (argocd/platform/common/argocd.yaml) carries that
entry as a kustomize patch, but it only lands when platform-argocd syncs, which is after the
root's first wave. So bootstrap applies the same data first, read from that file: Git stays
the one source, and when platform-argocd later applies identical values the field managers
share ownership instead of conflicting (Kubernetes server-side apply: "If two or more
appliers set a field to the same value, they share ownership of that field",
https://kubernetes.io/docs/reference/using-api/server-side-apply/#field-management).

No restart is needed for the controller to use it: the application controller reads the
resource overrides from its settings manager on every comparison and sync (argoproj/argo-cd
controller/state.go getComparisonSettings and controller/sync.go SyncAppState call
settingsMgr.GetResourceOverrides()).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from gitops.core.errors import GitOpsError

CONFIGMAP = "argocd-cm"
APPLICATION_HEALTH_KEY = "resource.customizations.health.argoproj.io_Application"
SELF_MANAGED = Path("argocd") / "platform" / "common" / "argocd.yaml"


def settings_from_application(app: dict[str, Any], source: str = str(SELF_MANAGED)) -> dict[str, str]:
    """The argocd-cm `data` the self-managed Application patches in, as a plain mapping."""
    patches = (((app.get("spec") or {}).get("source") or {}).get("kustomize") or {}).get("patches") or []
    for entry in patches:
        target = entry.get("target") or {}
        if target.get("kind") == "ConfigMap" and target.get("name") == CONFIGMAP:
            patch = yaml.safe_load(str(entry.get("patch") or "")) or {}
            data = patch.get("data") or {}
            if APPLICATION_HEALTH_KEY not in data:
                break
            return {str(k): str(v) for k, v in data.items()}
    raise GitOpsError(f"{source} patches no {APPLICATION_HEALTH_KEY} into {CONFIGMAP}; restore that patch "
                      "(sync waves of child Applications depend on it).")


def settings_from_file(root: Path) -> dict[str, str]:
    path = root / SELF_MANAGED
    try:
        docs = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise GitOpsError(f"{SELF_MANAGED} is missing; restore it from Git.") from None
    app = next((d for d in docs if isinstance(d, dict) and d.get("kind") == "Application"), None)
    if app is None:
        raise GitOpsError(f"{SELF_MANAGED} holds no Application; restore it from Git.")
    return settings_from_application(app, str(SELF_MANAGED))


def configmap(settings: dict[str, str], namespace: str = "argocd") -> dict[str, Any]:
    """Only the keys bootstrap owns: applied server-side, everything else in argocd-cm stays."""
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": CONFIGMAP, "namespace": namespace,
                         "labels": {"app.kubernetes.io/name": CONFIGMAP,
                                    "app.kubernetes.io/part-of": "argocd"}},
            "data": dict(settings)}


def missing(live: dict[str, Any] | None, settings: dict[str, str]) -> list[str]:
    """Keys of `settings` the live argocd-cm lacks or holds with another value."""
    data = ((live or {}).get("data") or {})
    return sorted(key for key, value in settings.items() if data.get(key) != value)
