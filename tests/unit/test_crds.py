"""CRD schemas come from the vendored upstream files by code: the converter, the provenance
checks of gitops.pins, and the refresh task (GitHub stood in for by a function: no network here).

Objects: the SealedSecret shapes follow the vendored upstream CRD (schemas/upstream/bitnami.com,
spec.encryptedData + spec.template.data, whose Go type is `map[string]*string`, +nullable, in
bitnami-labs/sealed-secrets pkg/apis/sealedsecrets/v1alpha1); the Applications are this
repository's own (argocd/platform), mutated the four ways issue 17 lists."""

from __future__ import annotations

import copy
import hashlib
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from gitops.core import config
from gitops.core.errors import GitOpsError
from gitops.core.repo import Repo
from gitops.manifests import crds, crds_refresh, pins, validate
from support.checkout import ROOT

UPSTREAM = ROOT / crds.UPSTREAM_DIR
SEALED_CRD = UPSTREAM / "bitnami.com" / "bitnami.com_sealedsecrets.yaml"


def sealed_secret(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret",
            "metadata": {"name": "tasknote-db", "namespace": "tasknote-dev"}, "spec": spec}


def validators(root: Path) -> validate.Validators:
    return validate.validators_for(Repo.at(root))


def problems(doc: dict[str, Any], root: Path = ROOT) -> list[validate.Problem]:
    return validate.validate_doc(doc, "test", validators(root))


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """versions.yaml and schemas/ copied: the files the validator and the CRD pins read."""
    shutil.copy2(ROOT / "versions.yaml", tmp_path / "versions.yaml")
    shutil.copytree(ROOT / "schemas", tmp_path / "schemas")
    return tmp_path


# ---- the converter ------------------------------------------------------------------------------

def test_sealed_secret_schema_comes_from_the_vendored_upstream_file() -> None:
    schemas = crds.converted_file(SEALED_CRD)
    assert set(schemas) == {("bitnami.com", "v1alpha1", "SealedSecret")}
    assert not (ROOT / "schemas" / "crds" / "bitnami.com").exists(), "a hand-written copy is back"
    spec = schemas["bitnami.com", "v1alpha1", "SealedSecret"]["properties"]["spec"]
    # upstream: encryptedData has x-kubernetes-preserve-unknown-fields and string values
    encrypted = spec["properties"]["encryptedData"]
    assert encrypted == {"type": "object", "additionalProperties": {"type": "string"}}
    assert spec["properties"]["template"]["properties"]["data"]["type"] == ["object", "null"]  # nullable
    assert spec["additionalProperties"] is False  # structural: unknown spec fields are refused


def test_valid_upstream_sealed_secret_with_empty_encrypted_data_and_template_data_passes() -> None:
    doc = sealed_secret(encryptedData={}, template={
        "metadata": {"name": "tasknote-db"}, "type": "Opaque",
        "data": {"config.yaml": "url: {{ index . \"url\" }}"}})
    assert problems(doc) == []


@pytest.mark.parametrize(("spec", "path"), [
    ({}, "spec"),  # encryptedData is required upstream
    ({"encryptedData": {"a": 1}}, "spec.encryptedData.a"),  # values are strings
    ({"encryptedData": {}, "unknown": 1}, "spec"),  # not in the structural schema
    ({"encryptedData": {}, "template": {"immutable": "yes"}}, "spec.template.immutable"),
])
def test_sealed_secret_violations_name_the_field(spec: dict[str, Any], path: str) -> None:
    found = problems(sealed_secret(**spec))
    assert [p.path for p in found] == [path], found


def test_changing_a_field_type_in_the_upstream_file_changes_the_verdict(repo: Path) -> None:
    doc = sealed_secret(encryptedData={}, template={"immutable": True})
    assert problems(doc, repo) == []
    crd = repo / crds.UPSTREAM_DIR / "bitnami.com" / SEALED_CRD.name
    text = crd.read_text()
    edited = text.replace("                      Defaulted to nil.\n                    type: boolean",
                          "                      Defaulted to nil.\n                    type: string")
    assert edited != text
    crd.write_text(edited)
    found = problems(doc, repo)
    assert [(p.path, p.message) for p in found] == [
        ("spec.template.immutable", "True is not of type 'string'")]


@pytest.mark.parametrize(("node", "expected"), [
    ({"type": "object", "properties": {"a": {"type": "string"}}},
     {"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": False}),
    ({"type": "object", "properties": {"a": {"type": "string"}},
      "x-kubernetes-preserve-unknown-fields": True},
     {"type": "object", "properties": {"a": {"type": "string"}}}),
    ({"x-kubernetes-int-or-string": True}, {"type": ["integer", "string"]}),
    ({"anyOf": [{"type": "integer"}, {"type": "string"}], "x-kubernetes-int-or-string": True},
     {"anyOf": [{"type": "integer"}, {"type": "string"}]}),
    ({"type": "string", "enum": ["A"], "nullable": True}, {"type": ["string", "null"], "enum": ["A", None]}),
    ({"type": "string", "description": "dropped", "x-kubernetes-validations": [{"rule": "self == oldSelf"}]},
     {"type": "string"}),
])
def test_convert_reads_structural_schema_extensions(node: dict[str, Any], expected: dict[str, Any]) -> None:
    assert crds.convert(node) == expected


def test_a_v1beta1_crd_is_refused_with_one_sentence() -> None:
    text = ("apiVersion: apiextensions.k8s.io/v1beta1\nkind: CustomResourceDefinition\n"
            "spec: {validation: {}}\n")
    with pytest.raises(GitOpsError, match=r"not an apiextensions\.k8s\.io/v1 CRD"):
        crds.crd_documents(text, "old.yaml")


# ---- Argo CD Applications: the four mutations of issue 17 ---------------------------------------

def traefik_app() -> dict[str, Any]:
    docs = yaml.safe_load_all((ROOT / "argocd" / "platform" / "k3s" / "traefik.yaml").read_text())
    return next(d for d in docs if d and d.get("kind") == "Application")


def argocd_app() -> dict[str, Any]:
    docs = yaml.safe_load_all((ROOT / "argocd" / "platform" / "common" / "argocd.yaml").read_text())
    return next(d for d in docs if d and d.get("kind") == "Application")


def test_the_repositorys_applications_pass() -> None:
    assert problems(traefik_app()) == [] and problems(argocd_app()) == []


@pytest.mark.parametrize(("mutate", "path"), [
    (lambda a: a["spec"]["source"]["helm"].__setitem__("valueFiles", "values.yaml"),
     "spec.source.helm.valueFiles"),
    (lambda a: a["spec"]["source"]["helm"].__setitem__("skipCrds", "yes"), "spec.source.helm.skipCrds"),
    (lambda a: a["spec"]["source"]["helm"].__setitem__("valueFile", ["values.yaml"]), "spec.source.helm"),
], ids=["helm.valueFiles-string", "helm.skipCrds-yes", "helm-unknown-key"])
def test_helm_mutations_fail_validation(mutate: Any, path: str) -> None:
    app = copy.deepcopy(traefik_app())
    mutate(app)
    assert [p.path for p in problems(app)] == [path]


def test_kustomize_patches_json6902_fails_validation() -> None:
    app = copy.deepcopy(argocd_app())
    patch = {"target": {"kind": "ConfigMap"}, "path": "p.yaml"}
    app["spec"]["source"]["kustomize"]["patchesJson6902"] = [patch]
    found = problems(app)
    assert [p.path for p in found] == ["spec.source.kustomize"]
    assert "patchesJson6902" in found[0].message


# ---- pins: the vendored files are the pinned release's, unedited --------------------------------

def crd_mismatches(root: Path) -> list[str]:
    return [str(m) for m in pins.check_vendored_crds(root, config.load_versions(root / "versions.yaml"))]


def test_vendored_crds_agree_with_their_record_and_pin() -> None:
    assert crd_mismatches(ROOT) == []


def test_pins_fails_when_the_pinned_release_moves_without_a_refresh(repo: Path) -> None:
    versions = repo / "versions.yaml"
    versions.write_text(versions.read_text().replace('version: "0.33.1"', 'version: "0.34.0"'))
    found = crd_mismatches(repo)
    assert "schemas/upstream/bitnami.com/source.yaml: version is '0.33.1' but versions.yaml says '0.34.0'" \
        in found, found


def test_pins_fails_when_a_vendored_file_is_edited_by_hand(repo: Path) -> None:
    crd = repo / crds.UPSTREAM_DIR / "bitnami.com" / SEALED_CRD.name
    crd.write_text(crd.read_text().replace("type: boolean", "type: string"))
    assert any(m.startswith("schemas/upstream/bitnami.com/bitnami.com_sealedsecrets.yaml: sha256")
               for m in crd_mismatches(repo))


def test_pins_fails_when_a_file_says_it_is_of_another_release() -> None:
    """Gateway API stamps its release on every CRD (gateway.networking.k8s.io/bundle-version, e.g.
    v1.6.0-rc.1 on config/crd/standard/gateway.networking.k8s.io_gatewayclasses.yaml at commit
    00cfc55 of kubernetes-sigs/gateway-api); a file of another release than the pin is refused."""
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": "gatewayclasses.gateway.networking.k8s.io",
                        "annotations": {"gateway.networking.k8s.io/bundle-version": "v1.6.0-rc.1"}},
           "spec": {"group": "gateway.networking.k8s.io", "versions": []}}
    assert crds.declared_version(crd) == "1.6.0-rc.1"


def test_bundle_version_mismatch_is_reported(repo: Path) -> None:
    directory = repo / crds.UPSTREAM_DIR / "gateway.networking.k8s.io"
    directory.mkdir()
    body = ("apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n"
            "  annotations:\n    gateway.networking.k8s.io/bundle-version: v1.6.0-rc.1\n"
            "  name: gatewayclasses.gateway.networking.k8s.io\nspec:\n  group: gateway.networking.k8s.io\n"
            "  names: {kind: GatewayClass}\n  versions: []\n")
    (directory / "gc.yaml").write_text(body)
    (directory / crds.SOURCE_FILE).write_text(yaml.safe_dump({
        "group": "gateway.networking.k8s.io", "version": "1.4.0",
        "repo": "https://github.com/kubernetes-sigs/gateway-api", "tag": "v{version}",
        "files": [{"file": "gc.yaml", "path": "config/crd/standard/gc.yaml",
                   "sha256": hashlib.sha256(body.encode()).hexdigest(), "fetched_from": "v1.4.0"}]}))
    found = crd_mismatches(repo)
    assert found == ["schemas/upstream/gateway.networking.k8s.io/gc.yaml: bundle-version is '1.6.0-rc.1' "
                     "but versions.yaml says '1.4.0'"], found


# ---- refresh: GitHub is a function here ---------------------------------------------------------

def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_refresh_without_network_fails_in_one_sentence_and_changes_nothing(repo: Path) -> None:
    before = snapshot(repo)

    def offline(url: str) -> bytes:  # what github_raw raises when GitHub cannot be reached
        raise GitOpsError(f"cannot download {url} (Name or service not known); run ./inv "
                          "manifests.crds-refresh on a machine that reaches GitHub.")

    with pytest.raises(GitOpsError) as caught:
        crds_refresh.refresh(repo, config.load_versions(repo / "versions.yaml"), ["bitnami.com"], offline)
    assert str(caught.value).startswith("cannot download https://raw.githubusercontent.com/bitnami-labs/"
                                        "sealed-secrets/v0.33.1/helm/sealed-secrets/crds/bitnami.com_sealedsecrets.yaml")
    assert len(str(caught.value).splitlines()) == 1
    assert snapshot(repo) == before


def test_refresh_writes_the_tag_bytes_and_an_exact_record(repo: Path) -> None:
    served = SEALED_CRD.read_bytes().replace(b"controller-gen.kubebuilder.io/version: v0.15.0",
                                             b"controller-gen.kubebuilder.io/version: v0.18.0")
    asked: list[str] = []

    def github(url: str) -> bytes:
        asked.append(url)
        return served

    crds_refresh.refresh(repo, config.load_versions(repo / "versions.yaml"), ["bitnami.com"], github)
    assert asked == ["https://raw.githubusercontent.com/bitnami-labs/sealed-secrets/v0.33.1/"
                     "helm/sealed-secrets/crds/bitnami.com_sealedsecrets.yaml"]
    group = crds.read_group(repo / crds.UPSTREAM_DIR / "bitnami.com")
    assert (group.version, group.files[0].fetched_from, group.files[0].exact) == ("0.33.1", "v0.33.1", True)
    assert (repo / crds.UPSTREAM_DIR / "bitnami.com" / SEALED_CRD.name).read_bytes() == served
    assert crd_mismatches(repo) == []


def test_refresh_add_vendors_a_new_file_in_one_step(repo: Path) -> None:
    extra = SEALED_CRD.read_bytes()
    crds_refresh.refresh(repo, config.load_versions(repo / "versions.yaml"), ["bitnami.com"],
                         lambda url: extra, add="helm/sealed-secrets/crds/other.yaml")
    group = crds.read_group(repo / crds.UPSTREAM_DIR / "bitnami.com")
    assert [f.upstream_path for f in group.files][-1] == "helm/sealed-secrets/crds/other.yaml"
    assert (repo / crds.UPSTREAM_DIR / "bitnami.com" / "other.yaml").is_file()


def test_refresh_refuses_a_file_of_another_group(repo: Path) -> None:
    before = snapshot(repo)
    wrong = SEALED_CRD.read_bytes().replace(b"group: bitnami.com", b"group: example.com")
    with pytest.raises(GitOpsError, match=r"not bitnami\.com"):
        crds_refresh.refresh(repo, config.load_versions(repo / "versions.yaml"), ["bitnami.com"],
                             lambda url: wrong)
    assert snapshot(repo) == before


# ---- vendoring a copy obtained without GitHub (what another group's CRDs need here) ----------

def declare_group(repo: Path, group: str, pin: str) -> None:
    versions = repo / "versions.yaml"
    text = versions.read_text().replace(
        "  crds:\n", f"  crds:\n    {group}: {{version: \"0.33.1\", kinds: [Thing], pin: {pin}}}\n", 1)
    versions.write_text(text)


def test_vendor_file_records_a_local_copy_and_pins_accepts_it(repo: Path, tmp_path: Path) -> None:
    declare_group(repo, "example.com", "tools.kubeseal.version")
    copy = tmp_path / "things.yaml"
    copy.write_bytes(SEALED_CRD.read_bytes().replace(b"group: bitnami.com", b"group: example.com")
                     .replace(b"kind: SealedSecret", b"kind: Thing"))
    written = crds_refresh.vendor_file(repo, config.load_versions(repo / "versions.yaml"), "example.com",
                                       "deploy/crds/things.yaml", copy, "0123abc",
                                       repo="https://github.com/example/things")
    assert [p.name for p in written] == ["things.yaml", "source.yaml"]
    group = crds.read_group(repo / crds.UPSTREAM_DIR / "example.com")
    assert (group.version, group.tag_for(group.version)) == ("0.33.1", "v0.33.1")
    assert [(f.upstream_path, f.fetched_from, f.exact) for f in group.files] == [
        ("deploy/crds/things.yaml", "0123abc", False)]
    assert crd_mismatches(repo) == []
    assert ("example.com", "v1alpha1", "Thing") in crds.vendored_schemas(repo)


def test_vendor_file_refuses_a_copy_of_another_group_and_changes_nothing(repo: Path, tmp_path: Path) -> None:
    declare_group(repo, "example.com", "tools.kubeseal.version")
    before = snapshot(repo)
    with pytest.raises(GitOpsError, match=r"not example\.com"):
        crds_refresh.vendor_file(repo, config.load_versions(repo / "versions.yaml"), "example.com",
                                 "deploy/crds/x.yaml", SEALED_CRD, "v0.33.1",
                                 repo="https://github.com/example/things")
    assert snapshot(repo) == before
