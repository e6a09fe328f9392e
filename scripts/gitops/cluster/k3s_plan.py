"""What installing, adopting and removing k3s on a VPS does, as data: the files written to the
server and the exact remote commands, in order. gitops.cluster.k3s runs them over SSH; tests
check them here, with the upstream source of each fact named beside it.

Install = upstream's installer (k3s-io/k3s install.sh, at the pinned release's tag) run with
INSTALL_K3S_SKIP_DOWNLOAD=true over the pinned, sha256-verified binary, so the systemd unit is
k3s's own (Type=notify with TimeoutStartSec=0, ExecStartPre modprobe br_netfilter/overlay,
EnvironmentFile=-/etc/systemd/system/k3s.service.env, KillMode=process, Delegate=yes ...) and the
installer leaves /usr/local/bin/k3s-killall.sh and /usr/local/bin/k3s-uninstall.sh.
Remove = that uninstall script: it runs k3s-killall.sh first, which stops the service and kills
the containerd shims (KillMode=process leaves every container running when only k3s stops),
unmounts /run/k3s and the kubelet's pod mounts, deletes cni0/flannel.1 and the KUBE-/CNI-
iptables rules; only then does it delete /var/lib/rancher/k3s, /etc/rancher/k3s and the binary.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from gitops.core.errors import GitOpsError

BIN_DIR = "/usr/local/bin"  # install.sh: BIN_DIR=/usr/local/bin when root can write it
CONFIG_DIR = "/etc/rancher/k3s"
# install.sh for a server: SYSTEM_NAME=k3s, UNINSTALL_K3S_SH=${BIN_DIR}/${SYSTEM_NAME}-uninstall.sh,
# KILLALL_K3S_SH=${BIN_DIR}/k3s-killall.sh.
UNINSTALL_SCRIPT = f"{BIN_DIR}/k3s-uninstall.sh"
KILLALL_SCRIPT = f"{BIN_DIR}/k3s-killall.sh"
KUBECONFIG = f"{CONFIG_DIR}/k3s.yaml"  # written by k3s (write-kubeconfig default path)
API_PORT = 6443
# Files of clusters/k3s that go to /etc/rancher/k3s; all readable by root only.
SERVER_FILES = ("config.yaml", "registries.yaml", "audit-policy.yaml")
# Staged in the SSH user's home, not /tmp: no other user can swap them before `sudo install`.
STAGED_BINARY = "k3s.tasknote"
STAGED_INSTALLER = "k3s-install.tasknote.sh"
# install.sh environment: SKIP_DOWNLOAD=true uses ${BIN_DIR}/k3s as is (and skips the SELinux RPM
# download); FORCE_RESTART=true restarts k3s even when binary, unit and env file are unchanged,
# so a changed config.yaml takes effect (its hash is not among those the installer compares).
INSTALLER_ENV = (("INSTALL_K3S_SKIP_DOWNLOAD", "true"), ("INSTALL_K3S_FORCE_RESTART", "true"))


@dataclass(frozen=True)
class Remote:
    """One command run on the server over SSH (argv, never a shell line), with optional stdin."""

    argv: tuple[str, ...]
    stdin: str | None = None
    what: str = ""


@dataclass(frozen=True)
class Upload:
    """A local file copied (scp) into the SSH user's home on the server."""

    local: str
    remote: str


@dataclass(frozen=True)
class Plan:
    steps: list[Remote | Upload] = field(default_factory=list)


def host_address(host: str) -> str:
    """`user@vps.example.com` -> `vps.example.com`; `[2001:db8::1]` -> `2001:db8::1`."""
    address = host.rsplit("@", 1)[-1].strip()
    if address.startswith("[") and address.endswith("]"):
        address = address[1:-1]
    if not address:
        raise GitOpsError(f"--host {host!r} names no server; pass USER@HOST.")
    return address


def subject_names(host: str, api_host: str = "") -> list[str]:
    """The names the API server certificate must cover: the SSH host's address and --api-host."""
    names = [host_address(host)]
    if api_host and api_host not in names:
        names.append(api_host)
    return names


def with_tls_sans(config_text: str, names: Iterable[str]) -> str:
    """config.yaml with `names` added to tls-san (existing entries kept, no duplicates).

    k3s signs the API server certificate for its own addresses plus tls-san, and by default
    refuses to add other names (tls-san-security); a kubeconfig naming any other host fails
    TLS verification (https://docs.k3s.io/cli/server, --tls-san)."""
    data: Any = yaml.safe_load(config_text) if config_text.strip() else {}
    if not isinstance(data, dict):
        raise GitOpsError("the k3s config.yaml is not a YAML mapping; fix it before adding tls-san.")
    current = data.get("tls-san") or []
    if isinstance(current, str):
        current = [part.strip() for part in current.split(",") if part.strip()]
    merged = list(dict.fromkeys([*map(str, current), *names]))
    if merged == current:
        return config_text
    data["tls-san"] = merged
    return ("# Written by ./inv cluster.create from clusters/k3s/config.yaml plus this server's names.\n"
            + yaml.safe_dump(data, sort_keys=False))


def write_root_file(path: str, text: str) -> list[Remote]:
    """Write a file as root, mode 0600, content on stdin (never in argv)."""
    return [Remote(("sudo", "install", "-m", "0600", "/dev/null", path), what=f"create {path}"),
            Remote(("sudo", "tee", path), stdin=text, what=f"write {path}")]


def install_plan(files: dict[str, str], binary: str, installer: str) -> Plan:
    """Config files first (k3s reads them at its first start), then binary, then the installer."""
    missing = [name for name in SERVER_FILES if name not in files]
    if missing:
        raise GitOpsError(f"clusters/k3s is missing {', '.join(missing)}; restore it from Git.")
    steps: list[Remote | Upload] = [Remote(("sudo", "mkdir", "-p", CONFIG_DIR), what=f"create {CONFIG_DIR}")]
    for name in SERVER_FILES:
        steps += write_root_file(f"{CONFIG_DIR}/{name}", files[name])
    steps += [
        Upload(binary, STAGED_BINARY),
        Remote(("sudo", "install", "-m", "0755", "-o", "root", "-g", "root", STAGED_BINARY, f"{BIN_DIR}/k3s"),
               what=f"install the pinned k3s binary to {BIN_DIR}/k3s"),
        Remote(("rm", "-f", STAGED_BINARY)),
        Upload(installer, STAGED_INSTALLER),
        Remote(("sudo", "env", *(f"{k}={v}" for k, v in INSTALLER_ENV), "sh", STAGED_INSTALLER, "server"),
               what="run k3s's installer (unit, env file, killall and uninstall scripts; starts k3s)"),
        Remote(("rm", "-f", STAGED_INSTALLER)),
    ]
    return Plan(steps)


def adopt_tls_san_plan(current_config: str, names: Sequence[str]) -> Plan:
    """On an adopted server: add the names to its own config.yaml's tls-san and restart k3s, but
    only when a name is missing (nothing is written or restarted otherwise)."""
    updated = with_tls_sans(current_config, names)
    if updated == current_config:
        return Plan([])
    return Plan([*write_root_file(f"{CONFIG_DIR}/config.yaml", updated),
                 Remote(("sudo", "systemctl", "restart", "k3s"),
                        what="restart k3s so its certificate covers the new tls-san names")])


def uninstall_plan() -> Plan:
    return Plan([Remote(("sudo", UNINSTALL_SCRIPT),
                        what="run k3s-uninstall.sh (killall: containers, mounts, interfaces, iptables; "
                             "then files)")])


# ---- node labels through the API ----------------------------------------------------------------

def label_patches(nodes: dict[str, Any], labels: dict[str, str]) -> list[tuple[str, dict[str, Any]]]:
    """(node name, merge patch) for every node of a v1 NodeList lacking one of `labels`.

    k3s applies --node-label only when a node registers, so an adopted server (or one whose
    config changed later) keeps the labels it had; the ingress controller's nodeSelector
    (ingress-ready=true) needs them now."""
    patches = []
    for node in nodes.get("items") or []:
        have = (node.get("metadata") or {}).get("labels") or {}
        missing = {k: v for k, v in labels.items() if have.get(k) != v}
        if missing:
            patches.append((str(node["metadata"]["name"]), {"metadata": {"labels": missing}}))
    return patches


def node_labels_of(config_text: str) -> dict[str, str]:
    """node-label entries (key=value) of a k3s config.yaml."""
    data = yaml.safe_load(config_text) or {}
    labels = {}
    for entry in data.get("node-label") or []:
        key, _, value = str(entry).partition("=")
        labels[key] = value
    return labels
