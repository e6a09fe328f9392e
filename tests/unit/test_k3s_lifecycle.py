"""k3s install, adopt and delete on a VPS (issue 14, defects 2-6), checked on the exact remote
commands and files. SSH/scp are the boundary we cannot cross here: gitops.core.run.run is
replaced by a recorder answering like a server would, the download by a stand-in returning a
local file (fetch_verified itself is tested against a loopback server), and the Kubernetes API by the
cluster port's fake (tests/support/fakeport) holding a v1 Node (metadata.name, metadata.labels).

Upstream facts, from k3s-io/k3s install.sh: a server's scripts are /usr/local/bin/k3s-uninstall.sh
and /usr/local/bin/k3s-killall.sh; INSTALL_K3S_SKIP_DOWNLOAD=true installs over an existing
${BIN_DIR}/k3s; its unit has Type=notify, TimeoutStartSec=0, ExecStartPre=-/sbin/modprobe
br_netfilter and overlay, EnvironmentFile=-/etc/systemd/system/k3s.service.env and KillMode=process
(so `systemctl stop k3s` leaves the containers running, which is why removal goes through
k3s-killall.sh)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from gitops.cluster import k3s, k3s_plan
from gitops.core import run
from gitops.core.errors import GitOpsError
from gitops.core.repo import Repo
from support.checkout import this_repo
from support.fakeport import FakePort

HOST = "admin@vps.example.com"
K3S_YAML = (Path(__file__).parents[1] / "fixtures" / "cluster" / "k3s-kubeconfig.yaml").read_text()


class Server:
    """Answers ssh/scp argv lists like a VPS with (or without) k3s would; records them."""

    def __init__(self, *, reachable: bool = True, config_yaml: str = "",
                 uninstall_script: bool = True) -> None:
        self.reachable, self.config_yaml, self.uninstall_script = reachable, config_yaml, uninstall_script
        self.commands: list[tuple[str, ...]] = []
        self.stdin: dict[str, str] = {}
        self.uploads: list[tuple[str, str]] = []

    def __call__(self, argv: list[str], *, input_text: str | None = None, check: bool = True,
                 **_: Any) -> run.Result:
        argv = [str(a) for a in argv]
        if argv[0] == "scp":
            self.uploads.append((Path(argv[-2]).name, argv[-1].split(":", 1)[1]))
            return run.Result(tuple(argv), 0, "", "")
        assert argv[0] == "ssh" and "BatchMode=yes" in argv
        remote = tuple(argv[argv.index(HOST) + 1:])
        self.commands.append(remote)
        if input_text is not None:
            self.stdin[remote[-1]] = input_text
            if remote == ("sudo", "tee", "/etc/rancher/k3s/config.yaml"):
                self.config_yaml = input_text  # what a later `sudo cat` reads back
        code, out = self.answer(remote)
        if check and code != 0:
            raise run.CommandError(f"{remote} failed")
        return run.Result(tuple(argv), code, out, "ssh: connect to host vps.example.com port 22: timed out"
                          if code == 255 else "")

    def answer(self, remote: tuple[str, ...]) -> tuple[int, str]:
        if not self.reachable:
            return 255, ""
        if remote == ("sudo", "cat", "/etc/rancher/k3s/config.yaml"):
            return (0, self.config_yaml) if self.config_yaml else (1, "")
        if remote == ("sudo", "cat", "/etc/rancher/k3s/k3s.yaml"):
            return 0, K3S_YAML
        if remote == ("test", "-x", "/usr/local/bin/k3s-uninstall.sh"):
            return (0, "") if self.uninstall_script else (1, "")
        return 0, ""


NODE = {"apiVersion": "v1", "kind": "Node",
        "metadata": {"name": "vps", "labels": {"kubernetes.io/hostname": "vps",
                                                "node-role.kubernetes.io/control-plane": "true"}}}


def pinned_repo() -> Repo:
    """This checkout with the installer's sha256 recorded (versions.yaml leaves it to be recorded)."""
    versions = copy.deepcopy(this_repo().versions)
    versions["tools"]["k3s"]["installer_sha256"] = "d" * 64
    return Repo(this_repo().root, versions)


@pytest.fixture()
def port(monkeypatch: pytest.MonkeyPatch) -> FakePort:
    fake = FakePort()
    fake.seed(copy.deepcopy(NODE))
    monkeypatch.setattr(k3s, "port_for", lambda repo, target: fake)
    return fake


@pytest.fixture()
def server(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, port: FakePort) -> Server:
    fake = Server()
    monkeypatch.setattr(run, "run", fake)
    monkeypatch.setattr(k3s, "k3s_kubeconfig_path", lambda: tmp_path / "kube" / "tasknote-k3s.yaml")
    return fake


@pytest.fixture()
def downloads(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    fetched: list[tuple[str, str]] = []

    def fetch(url: str, sha256: str, dest: Path, *, timeout: float = 60) -> Path:
        fetched.append((url, sha256))
        dest.write_text(url)
        return dest

    monkeypatch.setattr(k3s, "fetch_verified", fetch)
    return fetched


def quiet(_: str) -> None:
    pass


# ---- install ------------------------------------------------------------------------------------------

def test_install_runs_upstreams_installer_over_the_pinned_binary(server: Server,
                                                                  downloads: list[tuple[str, str]]) -> None:
    repo = pinned_repo()
    k3s.install(repo, HOST, progress=quiet)
    pins = repo.version_of("tools", "k3s")
    assert downloads == [(pins["url"], pins["sha256"]), (pins["installer_url"], pins["installer_sha256"])]
    assert server.uploads == [("k3s", "k3s.tasknote"), ("install.sh", "k3s-install.tasknote.sh")]
    commands = server.commands
    binary = commands.index(("sudo", "install", "-m", "0755", "-o", "root", "-g", "root", "k3s.tasknote",
                             "/usr/local/bin/k3s"))
    installer = commands.index(("sudo", "env", "INSTALL_K3S_SKIP_DOWNLOAD=true",
                                "INSTALL_K3S_FORCE_RESTART=true", "sh", "k3s-install.tasknote.sh", "server"))
    config_written = commands.index(("sudo", "tee", "/etc/rancher/k3s/config.yaml"))
    # Config before the first start, binary before the installer that expects it.
    assert config_written < binary < installer
    # No hand-written unit any more: the installer writes k3s's own.
    assert not any("/etc/systemd/system/k3s.service" in " ".join(c) for c in commands)
    assert ("rm", "-f", "k3s-install.tasknote.sh") in commands and ("rm", "-f", "k3s.tasknote") in commands


def test_install_writes_tls_san_for_the_host_and_api_host_and_the_kubeconfig_names_it(
        server: Server, downloads: list[tuple[str, str]]) -> None:
    path = k3s.install(pinned_repo(), HOST, api_host="k8s.example.net", progress=quiet)
    written = yaml.safe_load(server.stdin["/etc/rancher/k3s/config.yaml"])
    assert written["tls-san"] == ["k3s.tasknote.example.com", "vps.example.com", "k8s.example.net"]
    kubeconfig = yaml.safe_load(path.read_text())
    assert kubeconfig["clusters"][0]["cluster"]["server"] == "https://k8s.example.net:6443"
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_install_ships_an_audit_policy_the_api_server_reads(server: Server,
                                                            downloads: list[tuple[str, str]]) -> None:
    k3s.install(pinned_repo(), HOST, progress=quiet)
    written = yaml.safe_load(server.stdin["/etc/rancher/k3s/config.yaml"])
    assert "audit-policy-file=/etc/rancher/k3s/audit-policy.yaml" in written["kube-apiserver-arg"]
    assert any(a.startswith("audit-log-path=") for a in written["kube-apiserver-arg"])
    policy = yaml.safe_load(server.stdin["/etc/rancher/k3s/audit-policy.yaml"])
    assert (policy["apiVersion"], policy["kind"]) == ("audit.k8s.io/v1", "Policy")
    levels = [rule["level"] for rule in policy["rules"]]
    # Metadata for everything else, and never a body (Request/RequestResponse) of a Secret or anything.
    assert levels[-1] == "Metadata" and set(policy["rules"][-1]) == {"level"}
    assert not {"Request", "RequestResponse"} & set(levels)
    # Root-only files, created 0600 before their content arrives over stdin.
    created = ("sudo", "install", "-m", "0600", "/dev/null", "/etc/rancher/k3s/audit-policy.yaml")
    assert created in server.commands


def test_install_refuses_before_downloading_when_the_server_is_unreachable(
        server: Server, downloads: list[tuple[str, str]]) -> None:
    server.reachable = False
    with pytest.raises(GitOpsError) as error:
        k3s.install(pinned_repo(), HOST, progress=quiet)
    message = str(error.value)
    assert message.startswith(f"cannot reach {HOST} over SSH (ssh: connect to host") and "\n" not in message
    assert downloads == []


def test_install_refuses_without_a_recorded_installer_checksum(server: Server) -> None:
    # versions.yaml as committed: the installer's sha256 is still to be recorded.
    with pytest.raises(GitOpsError, match=r"tools\.k3s\.installer_sha256 is not recorded"):
        k3s.install(this_repo(), HOST, progress=quiet)
    assert server.commands == []


# ---- adopt ---------------------------------------------------------------------------------------------

def test_adopt_adds_missing_tls_san_restarts_k3s_and_labels_nodes_through_the_api(server: Server,
                                                                                    port: FakePort) -> None:
    server.config_yaml = "write-kubeconfig-mode: '0600'\ntls-san: [old.example.com]\n"
    k3s.adopt(this_repo(), HOST, progress=quiet)
    written = yaml.safe_load(server.stdin["/etc/rancher/k3s/config.yaml"])
    assert written["tls-san"] == ["old.example.com", "vps.example.com"]
    assert server.commands.index(("sudo", "tee", "/etc/rancher/k3s/config.yaml")) < \
        server.commands.index(("sudo", "systemctl", "restart", "k3s"))
    node = port.get("v1", "Node", "vps")
    assert node is not None and node["metadata"]["labels"]["ingress-ready"] == "true"
    assert node["metadata"]["labels"]["kubernetes.io/hostname"] == "vps"


def test_adopt_leaves_a_server_that_already_covers_the_host_alone(server: Server) -> None:
    server.config_yaml = "tls-san:\n  - vps.example.com\n"
    k3s.adopt(this_repo(), HOST, progress=quiet)
    assert ("sudo", "systemctl", "restart", "k3s") not in server.commands
    assert "/etc/rancher/k3s/config.yaml" not in server.stdin


# ---- delete --------------------------------------------------------------------------------------------

def test_delete_runs_the_uninstall_script_that_kills_containers_first(server: Server) -> None:
    k3s.uninstall(HOST, progress=quiet)
    assert server.commands[-1] == ("sudo", "/usr/local/bin/k3s-uninstall.sh")
    # Never stop only the service and delete the data under running pods.
    assert not any(c[:2] == ("sudo", "systemctl") for c in server.commands)
    assert not any("rm" in c and "/var/lib/rancher/k3s" in c for c in server.commands)


def test_delete_without_the_uninstall_script_is_one_sentence(server: Server) -> None:
    server.uninstall_script = False
    with pytest.raises(GitOpsError, match=r"has no /usr/local/bin/k3s-uninstall.sh, so k3s was not"):
        k3s.uninstall(HOST, progress=quiet)
    assert ("sudo", "/usr/local/bin/k3s-uninstall.sh") not in server.commands


# ---- pure parts ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("host,address", [("admin@vps.example.com", "vps.example.com"),
                                          ("203.0.113.7", "203.0.113.7"),
                                          ("root@[2001:db8::1]", "2001:db8::1")])
def test_host_address(host: str, address: str) -> None:
    assert k3s_plan.host_address(host) == address


def test_ipv6_kubeconfig_server_is_bracketed() -> None:
    text = k3s.rewrite_kubeconfig(K3S_YAML, "2001:db8::1")
    assert yaml.safe_load(text)["clusters"][0]["cluster"]["server"] == "https://[2001:db8::1]:6443"


def test_label_patches_only_for_nodes_missing_a_label() -> None:
    nodes = {"items": [{"metadata": {"name": "a", "labels": {"ingress-ready": "true"}}},
                       {"metadata": {"name": "b", "labels": {"ingress-ready": "false"}}},
                       {"metadata": {"name": "c"}}]}
    assert k3s_plan.label_patches(nodes, {"ingress-ready": "true"}) == [
        ("b", {"metadata": {"labels": {"ingress-ready": "true"}}}),
        ("c", {"metadata": {"labels": {"ingress-ready": "true"}}})]
