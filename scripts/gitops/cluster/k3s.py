"""k3s on a VPS over SSH: install the pinned, sha256-verified binary through k3s's own installer,
adopt an existing server's kubeconfig (mode 0600, outside the repo), or uninstall it the way
upstream does. What runs on the server is planned in gitops.cluster.k3s_plan."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gitops.cluster import k3s_plan
from gitops.cluster.port import Port
from gitops.cluster.target import K3S_CONTEXT, Target, k3s_kubeconfig_path
from gitops.core import files, run
from gitops.core.download import fetch_verified
from gitops.core.errors import GitOpsError
from gitops.core.repo import Repo

SSH_OPTIONS = ("-o", "BatchMode=yes", "-o", "ConnectTimeout=15")
Progress = Callable[[str], None]


def ssh(host: str, *remote: str, input_text: str | None = None, timeout: float = 300,
        check: bool = True) -> run.Result:
    # BatchMode: never hang on a password prompt; the user's ssh-agent or key must work.
    return run.run(["ssh", *SSH_OPTIONS, host, *remote], input_text=input_text, timeout=timeout,
                   check=check)


def require_reachable(host: str) -> None:
    """One sentence, before anything is downloaded, when SSH to the server does not work."""
    result = ssh(host, "true", timeout=30, check=False)
    if result.returncode != 0:
        why = (result.stderr.strip().splitlines() or ["no answer"])[-1]
        raise GitOpsError(f"cannot reach {host} over SSH ({why}); check the address, that your key "
                          "is loaded (ssh-add) and that `ssh " + host + " true` works.")


def run_plan(host: str, plan: k3s_plan.Plan, progress: Progress) -> None:
    for step in plan.steps:
        if isinstance(step, k3s_plan.Upload):
            run.run(["scp", *SSH_OPTIONS, step.local, f"{host}:{step.remote}"], timeout=900)
            continue
        if step.what:
            progress(f"   {host}: {step.what}")
        # The installer starts k3s and systemd waits for it (Type=notify, TimeoutStartSec=0).
        ssh(host, *step.argv, input_text=step.stdin, timeout=900)


def pinned_k3s(repo: Repo) -> dict[str, str]:
    entry = repo.version_of("tools", "k3s")
    pins = {key: str(entry.get(key) or "") for key in ("version", "url", "sha256", "installer_url",
                                                        "installer_sha256")}
    for key in ("url", "sha256", "installer_url", "installer_sha256"):
        if not pins[key]:
            raise GitOpsError(f"versions.yaml tools.k3s.{key} is not recorded; record it (the comment "
                              "there says how) before installing k3s.")
    return pins


def server_files(repo: Repo, names: list[str]) -> dict[str, str]:
    cluster_dir = repo.cluster("k3s")
    found = {}
    for name in k3s_plan.SERVER_FILES:
        path = cluster_dir / name
        if not path.is_file():
            raise GitOpsError(f"clusters/k3s/{name} is missing; restore it from Git.")
        found[name] = path.read_text(encoding="utf-8")
    found["config.yaml"] = k3s_plan.with_tls_sans(found["config.yaml"], names)
    return found


def install(repo: Repo, host: str, api_host: str = "", progress: Progress = print) -> Path:
    """Install k3s on host (user@address) and return the adopted kubeconfig path."""
    pins = pinned_k3s(repo)
    names = k3s_plan.subject_names(host, api_host)
    server = server_files(repo, names)
    require_reachable(host)
    with tempfile.TemporaryDirectory(prefix="tasknote-k3s-") as tmp:
        progress(f"   downloading k3s {pins['version']} and its installer (sha256-verified)")
        binary = fetch_verified(pins["url"], pins["sha256"], Path(tmp) / "k3s", timeout=120)
        installer = fetch_verified(pins["installer_url"], pins["installer_sha256"], Path(tmp) / "install.sh")
        run_plan(host, k3s_plan.install_plan(server, str(binary), str(installer)), progress)
    return adopt(repo, host, api_host, progress)


def rewrite_kubeconfig(text: str, address: str, context: str = K3S_CONTEXT) -> str:
    """k3s writes a kubeconfig for 127.0.0.1 named `default`; point it at the host and rename it."""
    server = f"[{address}]" if ":" in address else address
    text = re.sub(r"server: https://127\.0\.0\.1:", f"server: https://{server}:", text)
    return re.sub(r"(?m)^(\s*(?:- )?(?:name|cluster|user|current-context)): default$",
                  rf"\1: {context}", text)


def adopt(repo: Repo, host: str, api_host: str = "", progress: Progress = print) -> Path:
    """Fetch an existing k3s server's kubeconfig (the key comes over ssh's stdout, never argv),
    make its certificate cover the address the kubeconfig names, and label its nodes."""
    require_reachable(host)
    names = k3s_plan.subject_names(host, api_host)
    current = ssh(host, "sudo", "cat", f"{k3s_plan.CONFIG_DIR}/config.yaml", timeout=60, check=False)
    run_plan(host, k3s_plan.adopt_tls_san_plan(current.stdout if current.returncode == 0 else "", names),
             progress)
    text = ssh(host, "sudo", "cat", k3s_plan.KUBECONFIG, timeout=60, check=False).stdout
    if "clusters:" not in text:
        raise GitOpsError(f"{host} has no {k3s_plan.KUBECONFIG}; install k3s first "
                          f"(./inv cluster.create --cluster k3s --host {host}).")
    # A kubeconfig carries client credentials: 0600 from its first byte.
    path = files.write_private(k3s_kubeconfig_path(),
                               rewrite_kubeconfig(text, api_host or names[0]).encode("utf-8"))
    server_config = (repo.cluster("k3s") / "config.yaml").read_text(encoding="utf-8")
    wanted = k3s_plan.node_labels_of(server_config)
    label_nodes(port_for(repo, Target("k3s", K3S_CONTEXT, path)), wanted, progress)
    return path


def port_for(repo: Repo, target: Target) -> Any:
    """The cluster port (gitops.cluster.port) of the adopted server; tests pass a fake."""
    return Port(repo, target)


def label_nodes(port: Any, labels: dict[str, str], progress: Progress = print) -> list[str]:
    """Add the labels clusters/k3s/config.yaml gives nodes at registration to every node lacking
    them, through the Kubernetes API (node-label only applies when a node registers)."""
    nodes = {"items": port.list("v1", "Node")}
    labelled = []
    for name, patch in k3s_plan.label_patches(nodes, labels):
        port.patch("v1", "Node", name, "", patch)
        added = ", ".join(f"{k}={v}" for k, v in patch["metadata"]["labels"].items())
        progress(f"   labelled node {name}: {added}")
        labelled.append(name)
    return labelled


def uninstall(host: str, progress: Progress = print) -> None:
    """Run the uninstall script k3s's installer left: it stops every container and cleans up
    mounts, interfaces and iptables before deleting the data (k3s_plan says why)."""
    require_reachable(host)
    if ssh(host, "test", "-x", k3s_plan.UNINSTALL_SCRIPT, timeout=30, check=False).returncode != 0:
        raise GitOpsError(f"{host} has no {k3s_plan.UNINSTALL_SCRIPT}, so k3s was not installed by its "
                          "installer (or is already removed); run k3s-killall.sh there, or remove it "
                          "by hand.")
    run_plan(host, k3s_plan.uninstall_plan(), progress)
    k3s_kubeconfig_path().unlink(missing_ok=True)
