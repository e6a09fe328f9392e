"""Issue 14's manifest guarantees: HTTPS for staging and prod (a cert-manager Certificate for the
public host, served by the Ingress and the Gateway, plain HTTP only redirecting), data that
survives an Argo CD prune (Delete=false,Prune=false), and cert-manager installed before anything
that uses its kinds. Breaking each one on a copy of the repository makes `./inv manifests.check`
fail naming the rule. Needs the pinned kubectl from .venv (the manifests tier)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from gitops.manifests import checks
from support import repocopy
from support.checkout import this_repo

COPIED = ("base", "overlays", "argocd", "clusters", "schemas", "versions.yaml")
WAVE = "argocd.argoproj.io/sync-wave"
CERT_MANAGER_GROUP = "cert-manager.io"


def copy_repo(dest: Path) -> Path:
    return Path(repocopy.copy_repo(dest, COPIED))


def invoke_check(root: Path, target: str) -> subprocess.CompletedProcess[str]:
    """The real CLI (python -m invoke manifests.check) on the copy."""
    env = {**os.environ, "TASKNOTE_ROOT": str(root)}
    return subprocess.run([sys.executable, "-m", "invoke", "manifests.check", "--target", target],
                          cwd=this_repo().root, env=env, capture_output=True, text=True, timeout=300,
                          check=False)


def edit_kustomization(path: Path, edit: Any) -> None:
    data = yaml.safe_load(path.read_text())
    edit(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def add_patch(target: dict[str, str], ops: list[dict[str, object]]) -> Any:
    patch = {"target": target, "patch": yaml.safe_dump(ops)}
    return lambda data: data.setdefault("patches", []).append(patch)


def rendered_docs(target: str) -> list[dict[str, Any]]:
    (result,) = checks.rendered(this_repo(), target)
    return list(result.docs)


def of_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d.get("kind") == kind]


def wave(doc: dict[str, Any]) -> int:
    return int(((doc.get("metadata") or {}).get("annotations") or {}).get(WAVE, "0"))


# ---- data survives a prune ------------------------------------------------------------------

@pytest.mark.parametrize("env", ["staging", "prod"])
def test_namespace_without_delete_false_fails_the_check(tmp_path: Path, env: str) -> None:
    root = copy_repo(tmp_path / "repo")
    edit_kustomization(root / "overlays" / env / "kustomization.yaml", lambda data: data["components"].remove(
        "../../base/components/retain-data"))
    result = invoke_check(root, env)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert f"TN030 error overlays/{env} Namespace/tasknote-{env}" in output
    assert f"TN030 error overlays/{env} StatefulSet/tasknote-{env}/tasknote-postgres" in output


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_namespace_and_database_carry_delete_and_prune_false(env: str) -> None:
    docs = rendered_docs(env)
    keep = [d for d in docs if d["kind"] == "Namespace"
            or (d["kind"] == "StatefulSet" and d["spec"].get("volumeClaimTemplates"))]
    assert {d["kind"] for d in keep} == {"Namespace", "StatefulSet"}
    for doc in keep:
        options = doc["metadata"]["annotations"]["argocd.argoproj.io/sync-options"].split(",")
        assert {"Delete=false", "Prune=false"} <= {o.strip() for o in options}, doc["metadata"]["name"]


# ---- TLS in prod ------------------------------------------------------------------------------

def test_prod_ingress_without_tls_fails_the_check(tmp_path: Path) -> None:
    root = copy_repo(tmp_path / "repo")
    edit_kustomization(root / "overlays" / "prod" / "kustomization.yaml", add_patch(
        {"group": "networking.k8s.io", "kind": "Ingress", "name": "tasknote"},
        [{"op": "remove", "path": "/spec/tls"}]))
    result = invoke_check(root, "prod")
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "TN031 error overlays/prod Ingress/tasknote-prod/tasknote spec.rules[0].host" in output


def test_prod_gateway_listener_without_tls_fails_the_check(tmp_path: Path) -> None:
    root = copy_repo(tmp_path / "repo")
    kustomization = root / "overlays" / "prod" / "kustomization.yaml"
    # Without the https-gateway component the Gateway has only its HTTP listener and the app's
    # route is served on it.
    edit_kustomization(kustomization,
                       lambda data: data["components"].remove("../../base/components/https-gateway"))
    text = kustomization.read_text()
    # The overlay's own patches of the https listener and the redirect route go with it.
    data = yaml.safe_load(text)
    data["patches"] = [p for p in data["patches"]
                       if "listeners/1" not in p["patch"] and p["target"].get("name") != "tasknote-redirect"]
    kustomization.write_text(yaml.safe_dump(data, sort_keys=False))
    result = invoke_check(root, "prod")
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "TN031 error overlays/prod Gateway/tasknote-prod/tasknote spec.listeners[0].protocol" in output
    assert "TN031 error overlays/prod HTTPRoute/tasknote-prod/tasknote spec.rules[0]" in output


@pytest.mark.parametrize("env,host", [("staging", "staging.tasknote.example.com"),
                                      ("prod", "tasknote.example.com")])
def test_public_host_has_a_certificate_served_by_ingress_and_gateway(env: str, host: str) -> None:
    docs = rendered_docs(env)
    (certificate,) = of_kind(docs, "Certificate")
    assert certificate["apiVersion"] == "cert-manager.io/v1"
    assert certificate["spec"]["dnsNames"] == [host]
    secret = certificate["spec"]["secretName"]
    (issuer,) = of_kind(docs, "Issuer")
    assert certificate["spec"]["issuerRef"]["name"] == issuer["metadata"]["name"]
    solver = issuer["spec"]["acme"]["solvers"][0]["http01"]["gatewayHTTPRoute"]["parentRefs"][0]
    (ingress,) = of_kind(docs, "Ingress")
    assert ingress["spec"]["tls"] == [{"hosts": [host], "secretName": secret}]
    (gateway,) = of_kind(docs, "Gateway")
    listeners = {lis["name"]: lis for lis in gateway["spec"]["listeners"]}
    assert listeners["https"]["hostname"] == host and listeners["https"]["protocol"] == "HTTPS"
    assert listeners["https"]["tls"]["certificateRefs"][0]["name"] == secret
    # The HTTP-01 challenge is answered on the HTTP listener, which otherwise only redirects.
    assert (solver["name"], solver["sectionName"]) == (gateway["metadata"]["name"], "http")
    routes = {r["metadata"]["name"]: r for r in of_kind(docs, "HTTPRoute")}
    assert routes["tasknote"]["spec"]["parentRefs"][0]["sectionName"] == "https"
    redirect = routes["tasknote-redirect"]
    assert redirect["spec"]["parentRefs"][0]["sectionName"] == "http"
    assert redirect["spec"]["hostnames"] == [host]
    assert redirect["spec"]["rules"][0]["filters"] == [
        {"type": "RequestRedirect", "requestRedirect": {"scheme": "https", "statusCode": 301}}]
    # The default-deny namespace lets Traefik reach cert-manager's HTTP-01 solver pods.
    policies = {p["metadata"]["name"]: p for p in of_kind(docs, "NetworkPolicy")}
    solver_policy = policies["acme-http01-solver"]
    solver_pods = {"matchLabels": {"acme.cert-manager.io/http01-solver": "true"}}
    assert solver_policy["spec"]["podSelector"] == solver_pods
    assert solver_policy["spec"]["ingress"][0]["ports"] == [{"protocol": "TCP", "port": 8089}]
    # Issuer before Certificate before the objects that serve it (sync waves inside the app).
    assert wave(issuer) < wave(certificate) < min(wave(ingress), wave(gateway))


# ---- cert-manager before its users ------------------------------------------------------------

def uses_cert_manager(docs: list[dict[str, Any]]) -> bool:
    return any(str(d.get("apiVersion", "")).startswith(CERT_MANAGER_GROUP + "/") for d in docs)


@pytest.mark.parametrize("cluster", ["kind", "k3s"])
def test_root_installs_cert_manager_before_anything_that_uses_its_kinds(cluster: str) -> None:
    root_docs = rendered_docs(cluster)
    apps = {d["metadata"]["name"]: d for d in of_kind(root_docs, "Application")}
    cert_manager = apps["platform-cert-manager"]
    assert cert_manager["spec"]["source"]["chart"] == "cert-manager"
    assert cert_manager["spec"]["source"]["helm"]["valuesObject"]["crds"]["enabled"] is True
    users = []
    for name, app in apps.items():
        path = str(app["spec"]["source"].get("path", ""))
        if path.startswith("overlays/") and uses_cert_manager(rendered_docs(path.split("/", 1)[1])):
            users.append(name)
    users += [d["metadata"]["name"] for d in root_docs
              if str(d.get("apiVersion", "")).startswith(CERT_MANAGER_GROUP)]
    assert users, f"nothing on {cluster} uses cert-manager; the test would prove nothing"
    for name in users:
        user = apps.get(name, {"metadata": {}})
        assert wave(user) > wave(cert_manager), f"{name} syncs before cert-manager"
    if cluster == "k3s":
        # Its HTTP-01 Gateway solver needs the Gateway API CRDs first.
        assert wave(apps["platform-gateway-api-crds"]) < wave(cert_manager)
