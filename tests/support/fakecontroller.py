"""The sealed-secrets controller behind the cluster port's test fake.

sealing_testlib.RecordedController plays back the controller's answers (its docstring says where
their shapes come from); this mounts it where the real port would reach it: /v1/cert.pem and
/v1/rotate on the API server's service-proxy path, its Service (the chart's: one port named
`http`, see tests/unit/test_sealing_controller_proxy.py for the shape's source) and its key Secrets
as objects in the fake's store, so gitops.secrets.controller.ControllerAccess runs unchanged
against it.
"""

from __future__ import annotations

import json

import yaml
from gitops.secrets.controller import CONTROLLER_SERVICE, ControllerAccess, proxy_path

from support.fakeport import FakePort
from support.sealing_testlib import RecordedController


def mount(recorded: RecordedController, namespace: str = "kube-system",
          service: str = CONTROLLER_SERVICE) -> tuple[FakePort, ControllerAccess]:
    port = FakePort()
    ports = [{"name": "http", "port": 8080, "targetPort": "http"}]
    port.seed({"apiVersion": "v1", "kind": "Service", "metadata": {"name": service, "namespace": namespace},
               "spec": {"type": "ClusterIP", "ports": ports}})
    base = proxy_path(namespace, service, "http", "")
    port.routes[("GET", base + "/v1/cert.pem")] = lambda body: recorded.get("/v1/cert.pem")
    port.routes[("POST", base + "/v1/rotate")] = lambda body: recorded.post("/v1/rotate",
                                                                           json.dumps(body).encode())
    listing = yaml.safe_load(recorded.key_secrets())
    recorded.calls.clear()  # seeding is not a call the code under test made
    port.seed(*listing["items"])
    return port, ControllerAccess(port, namespace, service)
