"""Cluster targets, the kind/k3s configuration files, kubeconfig handling and port-forward."""

import stat
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from gitops.cluster import k3s, kind, kubeconfig, portforward
from gitops.cluster.target import resolve
from gitops.core import config
from gitops.core.errors import GitOpsError
from gitops.verify import smoke_targets as cluster_smoke
from support.localhttp import QuietHandler, serve


def test_targets() -> None:
    assert resolve().context == "kind-tasknote" and resolve().managed
    k3s_target = resolve("k3s")
    assert k3s_target.kubectl_args()[:2] == ["--context", "tasknote-k3s"]
    assert k3s_target.kubeconfig is not None and not k3s_target.kubeconfig.is_relative_to(config.ROOT)
    adopted = resolve("k3s", context="vps-prod")
    assert (adopted.cluster, adopted.context, adopted.managed) == ("k3s", "vps-prod", False)
    with pytest.raises(GitOpsError, match="unknown cluster 'minikube'; use one of kind, k3s"):
        resolve("minikube")


def test_kind_config_pins_the_node_image_from_versions_and_maps_ingress_ports() -> None:
    data = yaml.safe_load(kind.config_file().read_text())
    pinned = config.version_of("kind", "node_image")
    assert "@sha256:" in pinned and len(pinned.split("@sha256:")[1]) == 64
    assert {node["image"] for node in data["nodes"]} == {pinned}
    control = data["nodes"][0]
    assert control["role"] == "control-plane" and control["labels"]["ingress-ready"] == "true"
    ports = {(m["containerPort"], m["hostPort"]) for m in control["extraPortMappings"]}
    assert ports == {(80, 80), (443, 443)}
    argv = kind.create_argv(Path("/bin/kind"), "tasknote", kind.config_file(), pinned)
    assert argv[argv.index("--image") + 1] == pinned and argv[argv.index("--name") + 1] == "tasknote"


def test_k3s_files_disable_the_bundled_ingress_and_mirror_registries() -> None:
    server = yaml.safe_load((config.PATHS.cluster("k3s") / "config.yaml").read_text())
    assert {"traefik", "servicelb"} <= set(server["disable"])
    assert server["write-kubeconfig-mode"] == "0600"
    mirrors = yaml.safe_load((config.PATHS.cluster("k3s") / "registries.yaml").read_text())["mirrors"]
    assert "docker.io" in mirrors and mirrors["docker.io"]["endpoint"]


K3S_YAML = """apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: Y2E=
    server: https://127.0.0.1:6443
  name: default
contexts:
- context:
    cluster: default
    user: default
  name: default
current-context: default
kind: Config
preferences: {}
users:
- name: default
  user:
    client-certificate-data: Y2VydA==
    client-key-data: a2V5
"""


def test_k3s_kubeconfig_is_pointed_at_the_host_and_renamed() -> None:
    text = k3s.rewrite_kubeconfig(K3S_YAML, "203.0.113.7")
    data = yaml.safe_load(text)
    assert data["clusters"][0]["cluster"]["server"] == "https://203.0.113.7:6443"
    assert data["current-context"] == "tasknote-k3s"
    assert data["contexts"][0] == {"context": {"cluster": "tasknote-k3s", "user": "tasknote-k3s"},
                                   "name": "tasknote-k3s"}
    assert data["users"][0]["name"] == "tasknote-k3s"


def test_kubeconfig_is_written_atomically_and_private(tmp_path: Path) -> None:
    path = kubeconfig.write_private(tmp_path / "kube" / "config", "apiVersion: v1\n")
    assert path.read_text() == "apiVersion: v1\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["config"]


def fake_forward(tmp_path: Path, body: str) -> list[str]:
    script = tmp_path / "fake_port_forward.py"
    script.write_text(body)
    return [sys.executable, str(script)]


def test_forwarded_yields_the_reported_port_and_stops_the_child(tmp_path: Path) -> None:
    marker = tmp_path / "still-running"
    argv = fake_forward(tmp_path, f"""
import time
with open({str(marker)!r}, "a") as ticks:
    ticks.write("tick\\n"); ticks.flush()
    print("Forwarding from 127.0.0.1:43117 -> 8000", flush=True)
    print("Forwarding from [::1]:43117 -> 8000", flush=True)
    while True:
        ticks.write("tick\\n"); ticks.flush()
        time.sleep(0.05)
""")
    with portforward.forwarded(argv, what="svc/tasknote-api") as port:
        assert port == 43117
        time.sleep(0.2)
    ticks = marker.read_text().count("tick")
    assert ticks >= 2  # it was running while forwarded
    time.sleep(0.3)
    assert marker.read_text().count("tick") == ticks  # and stopped when the block ended


def test_forward_that_dies_names_its_last_output(tmp_path: Path) -> None:
    argv = fake_forward(tmp_path, 'print("error: services \\"tasknote-api\\" not found", flush=True)\n')
    with pytest.raises(GitOpsError, match=r'exited: error: services "tasknote-api" not found'), \
            portforward.forwarded(argv, what="svc/tasknote-api in tasknote-dev"):
        pass


def test_forward_that_never_gets_ready_times_out(tmp_path: Path) -> None:
    argv = fake_forward(tmp_path, "import time\nprint('starting', flush=True)\ntime.sleep(30)\n")
    with pytest.raises(GitOpsError, match=r"did not start within 0\.5 s: starting"), \
            portforward.forwarded(argv, what="svc/x", ready_timeout_s=0.5):
        pass


class Healthz(QuietHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/healthz" else 404)
        self.end_headers()
        self.wfile.write(b'{"status": "ok"}')


def tiny_suite(base_url: str, *, timeout_s: float, progress: Any) -> dict[str, Any]:
    response = requests.get(f"{base_url}/healthz", timeout=5)
    return {"url": base_url, "status": response.status_code}


def test_smoke_against_compose_uses_the_compose_url(monkeypatch: pytest.MonkeyPatch) -> None:
    with serve(Healthz) as url:
        monkeypatch.setenv("TASKNOTE_COMPOSE_URL", url)
        report = cluster_smoke.run_smoke("compose", suite=tiny_suite, progress=lambda _: None)
    assert report == {"url": url, "status": 200}


def test_smoke_against_a_context_goes_through_a_port_forward(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[tuple[str, str, str]] = []

    @contextmanager
    def forwarded_service(target: Any, namespace: str, service: str = "tasknote-api",
                          remote_port: int = 80) -> Iterator[str]:
        asked.append((target.context, namespace, service))
        with serve(Healthz) as url:
            yield url

    monkeypatch.setattr(portforward, "service_url", forwarded_service)
    report = cluster_smoke.run_smoke("vps-prod", "staging", suite=tiny_suite, progress=lambda _: None)
    assert report["status"] == 200
    assert asked == [("vps-prod", "tasknote-staging", "tasknote-api")]
    with pytest.raises(GitOpsError, match="unknown environment 'qa'"):
        cluster_smoke.run_smoke("kind", "qa", suite=tiny_suite)


def test_kind_nodes_read_per_registry_config_and_point_localhost_at_the_registry() -> None:
    data = yaml.safe_load(kind.config_file().read_text())
    assert 'config_path = "/etc/containerd/certs.d"' in data["containerdConfigPatches"][0]
    assert kind.registry_hosts_toml() == '[host."http://tasknote-kind-registry:5000"]\n'
    configmap = kind.registry_configmap()
    hosting = yaml.safe_load(configmap["data"]["localRegistryHosting.v1"])  # type: ignore[index]
    assert hosting["host"] == "localhost:5001"
    assert configmap["metadata"] == {"name": "local-registry-hosting", "namespace": "kube-public"}


def test_summary_job_is_created_from_the_cronjob_and_awaited() -> None:
    job = "tasknote-summary-smoke-1"
    create, wait_for = cluster_smoke.summary_job_argv("kubectl", resolve(), "tasknote-dev", job)
    assert create == ["kubectl", "--context", "kind-tasknote", "-n", "tasknote-dev", "create", "job",
                      "tasknote-summary-smoke-1", "--from=cronjob/tasknote-summary"]
    assert wait_for[-3:] == ["--for=condition=complete", "job/tasknote-summary-smoke-1", "--timeout=180s"]


def test_local_registry_references() -> None:
    assert kind.local_reference("tasknote:next") == "localhost:5001/tasknote:next"
    assert kind.local_reference("ghcr.io/acme/tasknote:1.2") == "localhost:5001/acme/tasknote:1.2"
    assert kind.local_reference("acme/tasknote") == "localhost:5001/acme/tasknote:latest"
    assert kind.local_reference("localhost:5001/tasknote:x") == "localhost:5001/tasknote:x"


def test_api_errors_become_none_or_one_sentence() -> None:
    from gitops.cluster.api import Api
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import MaxRetryError

    api = Api.__new__(Api)  # no kubeconfig needed: only the error mapping is under test
    api.target = resolve()

    def answer(status: int) -> Any:
        def method(*args: Any, **kwargs: Any) -> Any:
            assert kwargs["_preload_content"] is False and kwargs["_request_timeout"] == 10
            raise ApiException(status=status, reason="Forbidden" if status == 403 else "Not Found")

        return method

    def unreachable(*args: Any, **kwargs: Any) -> Any:
        raise MaxRetryError(None, "https://127.0.0.1:6443/version")  # type: ignore[arg-type]

    assert api.call(answer(404)) is None
    with pytest.raises(GitOpsError, match="answered 403 Forbidden; check your access"):
        api.call(answer(403))
    with pytest.raises(GitOpsError, match="context 'kind-tasknote' does not answer; start the cluster"):
        api.call(unreachable)


def test_api_returns_the_objects_json_as_sent() -> None:
    from gitops.cluster.api import Api

    class Response:
        data = b'{"kind": "DeploymentList", "items": [{"metadata": {"name": "tasknote-api"}}]}'

    api = Api.__new__(Api)
    api.target = resolve()
    assert api.items(lambda *a, **k: Response()) == [{"metadata": {"name": "tasknote-api"}}]
