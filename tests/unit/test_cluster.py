"""Cluster targets, the kind/k3s configuration files, kubeconfig handling, port-forward, and the
cluster port's request building and error mapping (the API server itself is the e2e boundary)."""

import json
import stat
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
import yaml
from gitops.cluster import k3s, kind, port, portforward
from gitops.cluster.target import Target, parse, resolve
from gitops.core import files
from gitops.core.errors import GitOpsError
from gitops.verify import smoke_targets as cluster_smoke
from support.checkout import this_repo
from support.fakeport import FakePort
from support.localhttp import QuietHandler, serve

REPO = this_repo()


def test_targets() -> None:
    assert resolve().context == "kind-tasknote" and resolve().managed
    k3s_target = resolve("k3s")
    assert k3s_target.context == "tasknote-k3s"
    assert k3s_target.kubeconfig is not None and not k3s_target.kubeconfig.is_relative_to(REPO.root)
    adopted = resolve("k3s", context="vps-prod")
    assert (adopted.cluster, adopted.context, adopted.managed) == ("k3s", "vps-prod", False)
    with pytest.raises(GitOpsError, match="unknown cluster 'minikube'; use one of kind, k3s"):
        resolve("minikube")


def test_target_spellings() -> None:
    assert parse("kind") == resolve("kind") and parse("k3s") == resolve("k3s")
    assert parse("context:prod-eu") == Target("kind", "prod-eu", None, managed=False)
    assert parse("context:prod-eu", "k3s") == Target("k3s", "prod-eu", None, managed=False)
    assert parse("context:prod-eu", "k3s").spec == "context:prod-eu" and parse("k3s").spec == "k3s"
    with pytest.raises(GitOpsError, match=r"unknown target 'prod-eu'; use kind, k3s or context:NAME\."):
        parse("prod-eu")
    with pytest.raises(GitOpsError, match="contradicts --target kind"):
        parse("kind", "k3s")
    with pytest.raises(GitOpsError, match="needs a context name"):
        parse("context:")


def test_kind_config_pins_the_node_image_from_versions_and_maps_ingress_ports() -> None:
    data = yaml.safe_load(kind.config_file(REPO).read_text())
    pinned = REPO.version_of("kind", "node_image")
    assert "@sha256:" in pinned and len(pinned.split("@sha256:")[1]) == 64
    assert {node["image"] for node in data["nodes"]} == {pinned}
    control = data["nodes"][0]
    assert control["role"] == "control-plane" and control["labels"]["ingress-ready"] == "true"
    ports = {(m["containerPort"], m["hostPort"]) for m in control["extraPortMappings"]}
    assert ports == {(80, 80), (443, 443)}
    argv = kind.create_argv(Path("/bin/kind"), "tasknote", kind.config_file(REPO), pinned)
    assert argv[argv.index("--image") + 1] == pinned and argv[argv.index("--name") + 1] == "tasknote"


def test_k3s_files_disable_the_bundled_ingress_and_leave_mirrors_opt_in() -> None:
    server = yaml.safe_load((REPO.cluster("k3s") / "config.yaml").read_text())
    assert {"traefik", "servicelb"} <= set(server["disable"])
    assert server["write-kubeconfig-mode"] == "0600"
    # containerd tries every mirror endpoint before upstream on each pull: none unless asked for.
    assert yaml.safe_load((REPO.cluster("k3s") / "registries.yaml").read_text()) == {"mirrors": {}}


K3S_YAML = (Path(__file__).parents[1] / "fixtures" / "cluster" / "k3s-kubeconfig.yaml").read_text()


def test_k3s_kubeconfig_is_pointed_at_the_host_and_renamed() -> None:
    text = k3s.rewrite_kubeconfig(K3S_YAML, "203.0.113.7")
    data = yaml.safe_load(text)
    assert data["clusters"][0]["cluster"]["server"] == "https://203.0.113.7:6443"
    assert data["current-context"] == "tasknote-k3s"
    assert data["contexts"][0] == {"context": {"cluster": "tasknote-k3s", "user": "tasknote-k3s"},
                                   "name": "tasknote-k3s"}
    assert data["users"][0]["name"] == "tasknote-k3s"


def test_kubeconfig_is_written_atomically_and_private(tmp_path: Path) -> None:
    path = files.write_private(tmp_path / "kube" / "config", b"apiVersion: v1\n")
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
        report = cluster_smoke.run_smoke(REPO, None, suite=tiny_suite, progress=lambda _: None)
    assert report == {"url": url, "status": 200}


def test_smoke_against_a_context_goes_through_the_ports_port_forward() -> None:
    fake = FakePort(parse("context:vps-prod", "k3s"))
    with serve(Healthz) as url:
        fake.forward_url = url
        report = cluster_smoke.run_smoke(REPO, fake.target, "staging", suite=tiny_suite,
                                         progress=lambda _: None, port=fake)
    assert report["status"] == 200
    # Then the environment's Ingress is read: with a tls section the chain is checked too (no TLS here).
    assert fake.calls == [("port-forward", "tasknote-staging", "tasknote-api", "80"),
                          ("get", "Ingress", "tasknote-staging", "tasknote")]
    with pytest.raises(GitOpsError, match="unknown environment 'qa'"):
        cluster_smoke.run_smoke(REPO, resolve(), "qa", suite=tiny_suite, port=fake)


def test_kind_nodes_read_per_registry_config_and_point_localhost_at_the_registry() -> None:
    data = yaml.safe_load(kind.config_file(REPO).read_text())
    assert 'config_path = "/etc/containerd/certs.d"' in data["containerdConfigPatches"][0]
    assert kind.registry_hosts_toml() == '[host."http://tasknote-kind-registry:5000"]\n'
    configmap = kind.registry_configmap()
    hosting = yaml.safe_load(configmap["data"]["localRegistryHosting.v1"])  # type: ignore[index]
    assert hosting["host"] == "localhost:5001"
    assert configmap["metadata"] == {"name": "local-registry-hosting", "namespace": "kube-public"}


def summary_cronjob() -> dict[str, Any]:
    """The CronJob of this repository's base (base/tasknote), as the API server returns it."""
    for doc in yaml.safe_load_all((REPO.base / "tasknote" / "summary-cronjob.yaml").read_text()):
        if doc and doc.get("kind") == "CronJob":
            doc["metadata"].update(namespace="tasknote-dev", uid="0b6f3c1e-2a44-4d7e-9c55-1f1f2d3e4a5b")
            return dict(doc)
    raise AssertionError("base/tasknote/summary-cronjob.yaml holds no CronJob")


def test_summary_job_is_created_from_the_cronjob_and_awaited() -> None:
    fake = FakePort()
    cronjob = summary_cronjob()
    fake.seed(cronjob)

    def complete(job: dict[str, Any]) -> None:  # the Job controller, as far as the wait reads it
        if job["kind"] == "Job":
            job["status"] = {"conditions": [{"type": "Complete", "status": "True"}]}

    fake.on_apply = complete
    outcome = cluster_smoke.trigger_summary_job(fake, "tasknote-dev", progress=lambda _: None, now=lambda: 1)
    assert outcome.ok and outcome.step == "summary job tasknote-summary-smoke-1"
    [job] = fake.applied
    assert job["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"] == "manual"
    assert job["metadata"]["ownerReferences"][0]["name"] == cronjob["metadata"]["name"]
    assert job["spec"] == cronjob["spec"]["jobTemplate"]["spec"]
    fake.on_apply = lambda job: None  # a Job nobody completes fails at the deadline, as one step
    late = cluster_smoke.trigger_summary_job(fake, "tasknote-dev", deadline_s=10, progress=lambda _: None,
                                             now=lambda: 2)
    assert not late.ok and "did not happen within 10 s" in late.detail


def test_local_registry_references() -> None:
    assert kind.local_reference("tasknote:next") == "localhost:5001/tasknote:next"
    assert kind.local_reference("ghcr.io/acme/tasknote:1.2") == "localhost:5001/acme/tasknote:1.2"
    assert kind.local_reference("acme/tasknote") == "localhost:5001/acme/tasknote:latest"
    assert kind.local_reference("localhost:5001/tasknote:x") == "localhost:5001/tasknote:x"


def test_resource_paths_and_the_one_kubectl_argv() -> None:
    assert port.resource_path("v1", "secrets", namespace="kube-system") == \
        "/api/v1/namespaces/kube-system/secrets"
    assert port.resource_path("apps/v1", "deployments", namespace="tasknote-dev", name="tasknote-api") == \
        "/apis/apps/v1/namespaces/tasknote-dev/deployments/tasknote-api"
    assert port.resource_path("apiextensions.k8s.io/v1", "customresourcedefinitions") == \
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
    assert port.port_forward_argv("kubectl", resolve("k3s"), "tasknote-dev", "tasknote-api", 80) == [
        "kubectl", "--context", "tasknote-k3s", "--kubeconfig", str(resolve("k3s").kubeconfig),
        "port-forward", "--address", "127.0.0.1", "-n", "tasknote-dev", "svc/tasknote-api", ":80"]


class RecordedClient:
    """Stands in for kubernetes.client.ApiClient (the API server is not runnable here): records
    each request and answers with (status, body) pairs shaped like the API server's."""

    def __init__(self, answers: dict[tuple[str, str], tuple[int, bytes]]) -> None:
        self.answers, self.sent = answers, []  # type: ignore[var-annotated]

    def param_serialize(self, *, method: str, resource_path: str, query_params: list[tuple[str, str]],
                        header_params: dict[str, str], body: Any, auth_settings: list[str]
                        ) -> tuple[str, str, dict[str, str], Any, Any]:
        query = ("?" + urlencode(query_params)) if query_params else ""
        return method, "https://127.0.0.1:6443" + resource_path + query, header_params, body, None

    def call_api(self, method: str, url: str, headers: dict[str, str], body: Any, post: Any,
                 _request_timeout: float) -> Any:
        path = url.removeprefix("https://127.0.0.1:6443")
        self.sent.append((method, path, headers.get("Content-Type"), body))
        status, data = self.answers.get((method, path.split("?")[0]), (404, b'{"kind":"Status","code":404}'))

        class Response:
            reason = {200: "OK", 403: "Forbidden", 404: "Not Found"}.get(status, "")

            def read(self) -> bytes:
                return data

        answer = Response()
        answer.status = status  # type: ignore[attr-defined]
        return answer


# apps/v1 discovery as `kubectl get --raw /apis/apps/v1` prints it (trimmed to two resources).
APPS_V1 = (b'{"kind":"APIResourceList","apiVersion":"v1","groupVersion":"apps/v1","resources":['
           b'{"name":"deployments","singularName":"deployment","namespaced":true,"kind":"Deployment"},'
           b'{"name":"deployments/scale","singularName":"","namespaced":true,"group":"autoscaling",'
           b'"version":"v1","kind":"Scale"}]}')


def recorded_port(answers: dict[tuple[str, str], tuple[int, bytes]]) -> tuple[port.Port, RecordedClient]:
    client = RecordedClient(answers)
    real = port.Port.__new__(port.Port)  # no kubeconfig needed: the transport is recorded
    real.target, real.client, real._resources = resolve(), client, {}
    return real, client


def test_apply_is_a_server_side_apply_patch_with_the_object_in_the_body() -> None:
    deployment = json.loads((FIXTURES / "deployment-ready.json").read_text())
    deployment.update(apiVersion="apps/v1", kind="Deployment")
    path = "/apis/apps/v1/namespaces/tasknote-dev/deployments/tasknote-api"
    real, client = recorded_port({("GET", "/apis/apps/v1"): (200, APPS_V1),
                                  ("PATCH", path): (200, json.dumps(deployment).encode())})
    [applied] = real.apply([deployment])
    assert applied["metadata"]["name"] == "tasknote-api"
    method, sent_path, content_type, body = client.sent[-1]
    assert (method, content_type) == ("PATCH", "application/apply-patch+yaml")
    assert sent_path == path + "?fieldManager=tasknote-gitops&force=true"
    assert body["metadata"]["namespace"] == "tasknote-dev"


def test_api_errors_become_none_or_one_sentence() -> None:
    real, _ = recorded_port({("GET", "/apis/apps/v1"): (200, APPS_V1),
                             ("GET", "/apis/apps/v1/namespaces/x/deployments/y"):
                                 (403, b'{"kind":"Status","message":"deployments.apps is forbidden"}')})
    assert real.get("apps/v1", "Deployment", "gone", "x") is None
    with pytest.raises(GitOpsError, match=r"403 Forbidden to GET .*: deployments\.apps is forbidden;"):
        real.get("apps/v1", "Deployment", "y", "x")
    with pytest.raises(GitOpsError, match="serves no kind Widget in apps/v1; install its CustomResource"):
        real.get("apps/v1", "Widget", "y", "x")


def test_an_unreachable_server_is_one_sentence() -> None:
    from urllib3.exceptions import MaxRetryError

    real, client = recorded_port({})

    def unreachable(*args: Any, **kwargs: Any) -> Any:
        raise MaxRetryError(None, "https://127.0.0.1:6443/version")  # type: ignore[arg-type]

    client.call_api = unreachable  # type: ignore[method-assign]
    with pytest.raises(GitOpsError, match="context 'kind-tasknote' does not answer; start the cluster"):
        real.raw("GET", "/version")
    assert not real.reachable()


def test_lists_carry_their_items_kind_like_kubectl_prints_them() -> None:
    item = json.loads((FIXTURES / "deployment-ready.json").read_text())
    for field in ("apiVersion", "kind"):  # a list's items come without them
        item.pop(field, None)
    body = json.dumps({"kind": "DeploymentList", "apiVersion": "apps/v1", "items": [item]}).encode()
    real, _ = recorded_port({("GET", "/apis/apps/v1"): (200, APPS_V1),
                             ("GET", "/apis/apps/v1/namespaces/tasknote-dev/deployments"): (200, body)})
    [item] = real.list("apps/v1", "Deployment", "tasknote-dev")
    assert (item["apiVersion"], item["kind"]) == ("apps/v1", "Deployment")


FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "cluster"
