"""What the pinned kubectl makes of Secret inputs, for differential tests against our parsing.

`kubectl create secret ... --dry-run=client -o json` needs no cluster (create_secret.go skips
the API call for client dry runs), so the tests can ask the real binary, not a copy of its rules.
Test values only: they go on kubectl's argv here, which our own code never does.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from gitops.core import tools

from support.checkout import this_repo


@dataclass(frozen=True)
class KubectlSecret:
    ok: bool
    data: dict[str, bytes]
    type: str
    error: str


def kubectl() -> Path:
    return tools.require("kubectl", this_repo())


def create_secret(args: Sequence[str | bytes], env: Mapping[str, str] | None = None,
                  cwd: Path | None = None) -> KubectlSecret:
    """Run `kubectl create secret ARGS --dry-run=client -o json` and decode its data."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("KUBE")}
    environ["KUBECONFIG"] = os.devnull  # no cluster, no user config: the client dry run needs none
    environ.update(env or {})
    argv: list[str | bytes] = [str(kubectl()), "create", "secret", *args, "--dry-run=client", "-o", "json"]
    proc = subprocess.run(argv, capture_output=True, env=environ, cwd=cwd, timeout=60, check=False)
    if proc.returncode != 0:
        return KubectlSecret(False, {}, "", proc.stderr.decode(errors="replace").strip())
    obj = json.loads(proc.stdout)
    data = {k: base64.b64decode(v) for k, v in (obj.get("data") or {}).items()}
    return KubectlSecret(True, data, obj.get("type", ""), "")
