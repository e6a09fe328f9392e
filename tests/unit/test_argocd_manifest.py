"""Bootstrap applies Argo CD's install manifest only when its bytes match the sha256 in
versions.yaml (issue 14, defect 9). A loopback HTTP server stands in for
raw.githubusercontent.com."""

from __future__ import annotations

import copy
import hashlib
from pathlib import Path
from typing import Any

import pytest
from gitops.cluster import argocd_manifest
from gitops.cluster.target import Target
from gitops.core.errors import GitOpsError
from gitops.core.repo import Repo
from gitops.lifecycle import bootstrap
from gitops.verify.steps import Step
from support.checkout import this_repo
from support.fakeport import FakePort
from support.localhttp import QuietHandler, serve

MANIFEST = b"apiVersion: v1\nkind: Namespace\nmetadata: {name: argocd}\n"
TAMPERED = MANIFEST + b"---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {name: intruder}\n"


class Release(QuietHandler):
    body = MANIFEST

    def do_GET(self) -> None:
        if self.path == "/v3.4.12/manifests/install.yaml":
            self.reply(200, self.body, {"Content-Type": "text/plain"})
        else:
            self.reply(404)


NOT_FOUND = r"could not download .*/install\.yaml \(HTTP 404\); check the network or the URL"


def versions(url: str, sha256: str) -> dict[str, Any]:
    return {"platform": {"argocd": {"version": "3.4.12", "url": url, "install_sha256": sha256}}}


def test_matching_bytes_are_written_and_returned(tmp_path: Path) -> None:
    with serve(Release) as base:
        path = argocd_manifest.fetch(versions(f"{base}/v3.4.12/manifests/install.yaml",
                                              hashlib.sha256(MANIFEST).hexdigest()), tmp_path)
    assert path == tmp_path / "argocd-install-3.4.12.yaml"
    assert path.read_bytes() == MANIFEST


def test_bytes_that_do_not_match_the_pin_are_refused_and_nothing_is_left(tmp_path: Path) -> None:
    class Tampered(Release):
        body = TAMPERED

    with serve(Tampered) as base, pytest.raises(GitOpsError) as error:
        argocd_manifest.fetch(versions(f"{base}/v3.4.12/manifests/install.yaml",
                                       hashlib.sha256(MANIFEST).hexdigest()), tmp_path)
    message = str(error.value)
    assert hashlib.sha256(TAMPERED).hexdigest() in message and "not the pinned" in message
    assert list(tmp_path.iterdir()) == []


def test_http_error_is_one_sentence_and_leaves_nothing(tmp_path: Path) -> None:
    with serve(Release) as base, pytest.raises(GitOpsError, match=NOT_FOUND):
        argocd_manifest.fetch(versions(f"{base}/v9.9.9/manifests/install.yaml", "a" * 64), tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("sha256", ["", "abc", "Z" * 64])
def test_missing_or_malformed_pin_refuses_before_any_download(tmp_path: Path, sha256: str) -> None:
    def never(url: str, digest: str, dest: Path) -> Path:
        raise AssertionError("downloaded without a pin")

    with pytest.raises(GitOpsError, match=r"platform\.argocd\.install_sha256 is not a sha256 .* record it"):
        argocd_manifest.fetch(versions("https://example.invalid/install.yaml", sha256), tmp_path, never)


def test_the_repository_pins_the_manifest_url_at_the_argocd_version() -> None:
    entry = this_repo().versions["platform"]["argocd"]
    assert entry["url"].endswith(f"/v{entry['version']}/manifests/install.yaml")
    assert "install_sha256" in entry, "versions.yaml platform.argocd must carry the manifest's sha256 field"


def repo_pinned_to(url: str, body: bytes) -> Repo:
    """This checkout with platform.argocd pointing at the stand-in server and the body's sha256."""
    versions = copy.deepcopy(this_repo().versions)
    versions["platform"]["argocd"].update(url=url, install_sha256=hashlib.sha256(body).hexdigest())
    return Repo(this_repo().root, versions)


def argocd_step(repo: Repo, port: FakePort) -> Step:
    options = bootstrap.Options(progress=lambda _: None)
    return next(s for s in bootstrap.build_steps(repo, port.target, options, port) if s.name == "argocd")


def test_bootstrap_applies_the_verified_objects(monkeypatch: pytest.MonkeyPatch) -> None:
    """The argocd step of bootstrap against the cluster port's fake (the API is the boundary);
    the rollouts it then waits for are answered Ready by the fake's apply hook."""
    port = FakePort(Target("kind", "kind-tasknote"))
    monkeypatch.setattr(bootstrap, "wait_for_rollout", lambda *args, **kwargs: None)
    with serve(Release) as base:
        repo = repo_pinned_to(f"{base}/v3.4.12/manifests/install.yaml", MANIFEST)
        argocd_step(repo, port).do()
    applied = [(o["kind"], o["metadata"]["name"]) for o in port.applied]
    assert applied == [("Namespace", "argocd"), ("Namespace", "argocd")]  # the manifest's own object


def test_bootstrap_refuses_a_tampered_manifest_before_applying(monkeypatch: pytest.MonkeyPatch) -> None:
    class Tampered(Release):
        body = TAMPERED

    port = FakePort(Target("kind", "kind-tasknote"))
    with serve(Tampered) as base:
        repo = repo_pinned_to(f"{base}/v3.4.12/manifests/install.yaml", MANIFEST)
        with pytest.raises(GitOpsError, match="not the pinned"):
            argocd_step(repo, port).do()
    assert port.applied == []
