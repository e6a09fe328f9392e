"""Reaching the sealed-secrets controller through the API server's service proxy, as kubeseal does:
read the Service, take the name of its first port, proxy to http:<service>:<port name>.

No API server can run here, so `StandInApiServer` is a loopback HTTP stand-in that the real
cluster port (gitops.cluster.port.Port, the kubernetes client with a kubeconfig) talks to. It
serves only what these calls need and enforces the rule that broke fetch-cert: the service proxy
picks the endpoint port whose name equals the port part of "scheme:name:port" (kubernetes
pkg/registry/core/service/storage ResourceLocation: `if ss.Ports[i].Name == portStr`; endpoint
ports carry the Service's port names) and answers 503 "no endpoints available for service"
otherwise, the answer users of the old path got (bitnami-labs/sealed-secrets issues #397, #694).
Error bodies are shaped like the API server's metav1.Status (kind, apiVersion, status, message,
reason, code); /api/v1 is a metav1.APIResourceList as `kubectl get --raw /api/v1` prints it,
reduced to the resources used here.

The Service object is the chart's (bitnami-labs/sealed-secrets helm/sealed-secrets/templates/
service.yaml: name from fullnameOverride, port .Values.service.port = 8080, targetPort http) as
argocd/platform/common/sealed-secrets.yaml installs it, with the port named `http` as the chart
versions of issue #694 name it; the index's copy of the template names no port, which the
second case covers: both work because the name is read, never assumed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

import pytest
import yaml
from gitops.cluster.port import Port
from gitops.cluster.target import Target
from gitops.core.errors import GitOpsError
from gitops.core.repo import Repo
from gitops.secrets import controller, crypto, keys, sealing
from support import localhttp
from support import sealing_testlib as lib
from support.checkout import ROOT, this_repo

NAMESPACE, SERVICE = "kube-system", "sealed-secrets-controller"


def chart_service(port_name: str | None) -> dict[str, Any]:
    port: dict[str, Any] = {"port": 8080, "protocol": "TCP", "targetPort": "http"}
    if port_name is not None:
        port = {"name": port_name, **port}
    labels = {"app.kubernetes.io/name": "sealed-secrets", "app.kubernetes.io/instance": SERVICE}
    return {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": SERVICE, "namespace": NAMESPACE, "labels": labels},
        "spec": {"type": "ClusterIP", "ports": [port], "selector": labels},
    }


def status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": reason, "code": code}


CORE_V1 = {
    "kind": "APIResourceList", "groupVersion": "v1",
    "resources": [
        {"name": "secrets", "singularName": "secret", "namespaced": True, "kind": "Secret",
         "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]},
        {"name": "services", "singularName": "service", "namespaced": True, "kind": "Service",
         "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"], "shortNames": ["svc"]},
        {"name": "services/proxy", "singularName": "", "namespaced": True, "kind": "ServiceProxyOptions",
         "verbs": ["create", "delete", "get", "patch", "update"]},
    ],
}
_PROXY = re.compile(r"^/api/v1/namespaces/([^/]+)/services/([^/:]*):([^/:]+):([^/]*)/proxy(/.*)$")
_SERVICE = re.compile(r"^/api/v1/namespaces/([^/]+)/services/([^/:]+)$")


class StandInApiServer(localhttp.QuietHandler):
    # Set per test by the `api` fixture (the handler class is what http.server instantiates).
    services: ClassVar[dict[tuple[str, str], dict[str, Any]]] = {}
    controller: lib.RecordedController
    seen: ClassVar[list[tuple[str, str]]] = []

    def _route(self, method: str, body: bytes) -> None:
        path = urlsplit(self.path).path
        self.seen.append((method, path))
        if path == "/api/v1" and method == "GET":
            return self.reply_json(200, CORE_V1)
        if (m := _SERVICE.match(path)) and method == "GET":
            svc = self.services.get((m[1], m[2]))
            if svc is None:
                return self.reply_json(404, status(404, "NotFound", f'services "{m[2]}" not found'))
            return self.reply_json(200, svc)
        if m := _PROXY.match(path):
            namespace, name, port, target = m[1], m[3], m[4], m[5]
            svc = self.services.get((namespace, name))
            if svc is None:
                return self.reply_json(404, status(404, "NotFound", f'services "{name}" not found'))
            endpoint_ports = [p.get("name", "") for p in svc["spec"]["ports"]]  # = the Service's names
            if port not in endpoint_ports:
                msg = f'no endpoints available for service "{m[2]}:{name}:{port}"'
                return self.reply_json(503, status(503, "ServiceUnavailable", msg))
            if method == "GET":
                pem = self.controller.get(target)
                return self.reply(200, pem, {"Content-Type": "application/x-pem-file"})
            return self.reply(200, self.controller.post(target, body), {"Content-Type": "application/json"})
        return self.reply_json(404, status(404, "NotFound", "the server could not find the resource"))

    def do_GET(self) -> None:
        self._route("GET", b"")

    def do_POST(self) -> None:
        self._route("POST", self._body())

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() != "chunked":
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = b""
        while size := int(self.rfile.readline().split(b";")[0], 16):
            body += self.rfile.read(size)
            self.rfile.readline()
        self.rfile.readline()
        return body


@pytest.fixture(scope="module")
def pair():
    return crypto.generate_key_pair(key_size=2048)


@pytest.fixture
def target(tmp_path, pair):
    StandInApiServer.services = {(NAMESPACE, SERVICE): chart_service("http")}
    StandInApiServer.controller = lib.RecordedController([pair])
    StandInApiServer.seen = []
    with localhttp.serve(StandInApiServer) as url:
        kubeconfig = tmp_path / "kubeconfig"
        # The current context points at a dead address: the port must use the one it was given.
        kubeconfig.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "somebody-elses",
            "clusters": [{"name": "stand-in", "cluster": {"server": url}},
                         {"name": "elsewhere", "cluster": {"server": "http://127.0.0.1:9"}}],
            "users": [{"name": "anonymous", "user": {}}],
            "contexts": [
                {"name": "stand-in", "context": {"cluster": "stand-in", "user": "anonymous"}},
                {"name": "somebody-elses", "context": {"cluster": "elsewhere", "user": "anonymous"}},
            ],
        }))
        yield Target("kind", "stand-in", kubeconfig, managed=False)


def access(target: Target) -> controller.ControllerAccess:
    repo = this_repo()
    return controller.ControllerAccess(Port(repo, target), keys.controller_namespace(repo),
                                       keys.controller_service(repo))


def scratch(root: Path, cert: Any) -> Repo:
    return Repo(lib.make_repo(root, cert), this_repo().versions)


PROXY = "/api/v1/namespaces/kube-system/services/http:sealed-secrets-controller:http/proxy"


def test_proxy_path_uses_the_port_name_of_the_charts_service() -> None:
    name = controller.service_port_name(chart_service("http"), f"{NAMESPACE}/{SERVICE}")
    assert name == "http"
    assert controller.proxy_path(NAMESPACE, SERVICE, name, "/v1/cert.pem") == f"{PROXY}/v1/cert.pem"
    with pytest.raises(GitOpsError, match="has no ports"):
        controller.service_port_name({"spec": {"ports": []}}, "x/y")


def test_namespace_and_service_come_from_versions_and_match_the_application() -> None:
    app = yaml.safe_load((ROOT / "argocd/platform/common/sealed-secrets.yaml").read_text())
    repo = this_repo()
    assert keys.controller_namespace(repo) == app["spec"]["destination"]["namespace"] == NAMESPACE
    assert keys.controller_service(repo) == app["spec"]["source"]["helm"]["valuesObject"]["fullnameOverride"]


def test_fetch_cert_through_the_stand_in_api_server(target, pair, tmp_path) -> None:
    repo = Repo(tmp_path / "repo", this_repo().versions)
    (repo.root / "clusters").mkdir(parents=True)
    result = controller.fetch_cert(repo, "kind", access(target))
    assert result.changed
    assert (repo.root / "clusters/kind/sealed-secrets-cert.pem").read_bytes() == crypto.cert_pem(pair[1])
    assert ("GET", f"{PROXY}/v1/cert.pem") in StandInApiServer.seen


def test_an_unnamed_port_is_proxied_by_its_empty_name(target) -> None:
    StandInApiServer.services = {(NAMESPACE, SERVICE): chart_service(None)}
    assert controller.cluster_certificate(access(target)).fingerprint is not None
    assert StandInApiServer.seen[-1][1].endswith("/http:sealed-secrets-controller:/proxy/v1/cert.pem")


def test_the_stand_in_refuses_the_old_empty_port_path_like_the_api_server(target) -> None:
    """Guards the stand-in itself: the path the old code built gets the 503 users saw."""
    old = access(target)
    old.__dict__["port_name"] = ""  # what the old proxy_path hard-wired
    with pytest.raises(GitOpsError, match=r"503 Service Unavailable .* no endpoints available for service"):
        old.get("/v1/cert.pem")


def test_reencrypt_posts_through_the_proxy(target, pair, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(sealing, "find_kubeseal", lambda repo: None)
    repo = scratch(tmp_path / "repo", pair[1])
    sealing.seal("dev", "tasknote-db", {"PASSWORD": b"kept"}, repo=repo)
    result = controller.reencrypt(repo, "kind", access(target))
    assert result.objects == 1
    [doc] = lib.sealed_docs(repo.root / "overlays/dev/sealed-secrets.yaml")
    assert lib.unseal(pair[0], doc) == {"PASSWORD": b"kept"}
    assert [p for m, p in StandInApiServer.seen if m == "POST"] == [f"{PROXY}/v1/rotate"]
    services = [p for m, p in StandInApiServer.seen if p.endswith("/services/sealed-secrets-controller")]
    assert len(services) == 1  # the port name is looked up once per access


def test_a_missing_service_is_one_sentence_and_writes_nothing(target, tmp_path) -> None:
    StandInApiServer.services = {}
    repo = Repo(tmp_path / "repo", this_repo().versions)
    (repo.root / "clusters").mkdir(parents=True)
    with pytest.raises(GitOpsError) as err:
        controller.fetch_cert(repo, "kind", access(target))
    assert str(err.value) == (
        "existing context stand-in (running argocd/clusters/kind) has no Service "
        "kube-system/sealed-secrets-controller; check platform.sealed_secrets namespace and service in "
        "versions.yaml (or --namespace/--service) and that the controller is installed.")
    assert not list(repo.root.rglob("*.pem"))
