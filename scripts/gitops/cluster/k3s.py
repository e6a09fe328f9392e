"""k3s on a VPS over SSH: install the pinned, sha256-verified binary with clusters/k3s config,
adopt its kubeconfig (mode 0600, outside the repo), or remove it again."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from gitops.cluster.target import K3S_CONTEXT, k3s_kubeconfig_path
from gitops.core import files, run
from gitops.core.download import fetch_verified
from gitops.core.errors import GitOpsError
from gitops.core.repo import Repo

UNIT = """[Unit]
Description=Lightweight Kubernetes (k3s, pinned by TaskNote versions.yaml)
Wants=network-online.target
After=network-online.target

[Service]
Type=notify
ExecStart=/usr/local/bin/k3s server
KillMode=process
Delegate=yes
LimitNOFILE=1048576
Restart=always
RestartSec=5s

[Install]
WantedBy=multi-user.target
"""


def ssh(host: str, *remote: str, input_text: str | None = None, timeout: float = 300) -> run.Result:
    # BatchMode: never hang on a password prompt; the user's ssh-agent or key must work.
    return run.run(["ssh", "-o", "BatchMode=yes", host, *remote], input_text=input_text,
                   timeout=timeout)


def install(repo: Repo, host: str) -> Path:
    """Install k3s on host (user@address) and return the adopted kubeconfig path."""
    entry = repo.version_of("tools", "k3s")
    cluster_dir = repo.cluster("k3s")
    with tempfile.TemporaryDirectory(prefix="tasknote-k3s-") as tmp:
        binary = fetch_verified(str(entry["url"]), str(entry["sha256"]), Path(tmp) / "k3s")
        # The home directory, not /tmp: no other user can swap the binary before install.
        run.run(["scp", "-o", "BatchMode=yes", str(binary), f"{host}:k3s.tasknote"], timeout=600)
    ssh(host, "sudo", "install", "-m", "0755", "k3s.tasknote", "/usr/local/bin/k3s")
    ssh(host, "rm", "-f", "k3s.tasknote")
    ssh(host, "sudo", "mkdir", "-p", "/etc/rancher/k3s")
    for name in ("config.yaml", "registries.yaml"):
        text = (cluster_dir / name).read_text(encoding="utf-8")
        ssh(host, "sudo", "tee", f"/etc/rancher/k3s/{name}", input_text=text)
    ssh(host, "sudo", "tee", "/etc/systemd/system/k3s.service", input_text=UNIT)
    ssh(host, "sudo", "systemctl", "daemon-reload")
    ssh(host, "sudo", "systemctl", "enable", "--now", "k3s")
    return adopt(host)


def rewrite_kubeconfig(text: str, address: str, context: str = K3S_CONTEXT) -> str:
    """k3s writes a kubeconfig for 127.0.0.1 named `default`; point it at the host and rename it."""
    text = re.sub(r"server: https://127\.0\.0\.1:", f"server: https://{address}:", text)
    return re.sub(r"(?m)^(\s*(?:- )?(?:name|cluster|user|current-context)): default$",
                  rf"\1: {context}", text)


def adopt(host: str) -> Path:
    """Fetch an existing k3s server's kubeconfig; the key goes over ssh's stdout, never argv."""
    address = host.rsplit("@", 1)[-1]
    text = ssh(host, "sudo", "cat", "/etc/rancher/k3s/k3s.yaml", timeout=60).stdout
    if "clusters:" not in text:
        raise GitOpsError(f"{host} has no /etc/rancher/k3s/k3s.yaml; install k3s first.")
    # A kubeconfig carries client credentials: 0600 from its first byte.
    return files.write_private(k3s_kubeconfig_path(), rewrite_kubeconfig(text, address).encode())


def uninstall(host: str) -> None:
    ssh(host, "sudo", "systemctl", "disable", "--now", "k3s")
    ssh(host, "sudo", "rm", "-rf", "/etc/systemd/system/k3s.service", "/var/lib/rancher/k3s",
        "/etc/rancher/k3s", "/usr/local/bin/k3s")
    k3s_kubeconfig_path().unlink(missing_ok=True)
