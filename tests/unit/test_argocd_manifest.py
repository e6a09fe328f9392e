"""Bootstrap applies Argo CD's install manifest only when its bytes match the sha256 in
versions.yaml (issue 14, defect 9). A loopback HTTP server stands in for
raw.githubusercontent.com."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from gitops.cluster import argocd_manifest
from gitops.core.errors import GitOpsError
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


def versions(url: str, sha256: str) -> dict[str, Any]:
    return {"platform": {"argocd": {"version": "3.4.12", "url": url, "sha256": sha256}}}


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
    with serve(Release) as base, pytest.raises(GitOpsError, match=r"failed with HTTP 404; check the URL"):
        argocd_manifest.fetch(versions(f"{base}/v9.9.9/manifests/install.yaml", "a" * 64), tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("sha256", ["", "abc", "Z" * 64])
def test_missing_or_malformed_pin_refuses_before_any_download(tmp_path: Path, sha256: str) -> None:
    def never(url: str, digest: str, dest: Path) -> Path:
        raise AssertionError("downloaded without a pin")

    with pytest.raises(GitOpsError, match=r"platform\.argocd\.sha256 is not a sha256 .* record it"):
        argocd_manifest.fetch(versions("https://example.invalid/install.yaml", sha256), tmp_path, never)


def test_the_repository_pins_the_manifest_url_at_the_argocd_version() -> None:
    from gitops.core import config

    entry = config.versions()["platform"]["argocd"]
    assert entry["url"].endswith(f"/v{entry['version']}/manifests/install.yaml")
    assert "sha256" in entry, "versions.yaml platform.argocd must carry the manifest's sha256 field"


def test_bootstrap_applies_the_verified_file_not_the_url(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The argocd step of bootstrap: the cluster (kubectl) is the boundary, recorded here."""
    from gitops.cluster.target import Target
    from gitops.core import config
    from gitops.lifecycle import bootstrap

    class Kubectl(bootstrap.Cluster):
        def __init__(self) -> None:
            super().__init__(Target("kind", "kind-tasknote"))
            self.calls: list[tuple[str, ...]] = []
            self.applied_bytes = b""

        def apply_objects(self, objects: Any) -> None:
            self.calls.append(("apply-objects",))

        def kubectl(self, *args: str, input_text: str | None = None, timeout: float = 300) -> Any:
            self.calls.append(args)
            if args[0] == "apply":
                self.applied_bytes = Path(args[-1]).read_bytes()

    with serve(Release) as base:
        url = f"{base}/v3.4.12/manifests/install.yaml"
        pinned = versions(url, hashlib.sha256(MANIFEST).hexdigest())
        real = config.versions()
        merged = {**real, "platform": {**real["platform"], **pinned["platform"]}}
        monkeypatch.setattr(config, "versions", lambda: merged)
        cluster = Kubectl()
        options = bootstrap.Options(progress=lambda _: None)
        steps = {s.name: s for s in bootstrap.build_steps(cluster.target, options, cluster=cluster)}
        steps["argocd"].do()
    apply = next(c for c in cluster.calls if c[0] == "apply")
    assert url not in apply and apply[-2] == "-f" and apply[-1].endswith("argocd-install-3.4.12.yaml")
    assert cluster.applied_bytes == MANIFEST
    assert [c[0] for c in cluster.calls].count("rollout") == 3


def test_bootstrap_refuses_a_tampered_manifest_before_applying(monkeypatch: pytest.MonkeyPatch) -> None:
    from gitops.cluster.target import Target
    from gitops.core import config
    from gitops.lifecycle import bootstrap

    class Tampered(Release):
        body = TAMPERED

    class Kubectl(bootstrap.Cluster):
        def kubectl(self, *args: str, input_text: str | None = None, timeout: float = 300) -> Any:
            raise AssertionError(f"kubectl {args} ran with a tampered manifest")

        def apply_objects(self, objects: Any) -> None:
            raise AssertionError("applied objects with a tampered manifest")

    with serve(Tampered) as base:
        pinned = versions(f"{base}/v3.4.12/manifests/install.yaml", hashlib.sha256(MANIFEST).hexdigest())
        real = config.versions()
        merged = {**real, "platform": {**real["platform"], **pinned["platform"]}}
        monkeypatch.setattr(config, "versions", lambda: merged)
        cluster = Kubectl(Target("kind", "kind-tasknote"))
        options = bootstrap.Options(progress=lambda _: None)
        steps = {s.name: s for s in bootstrap.build_steps(cluster.target, options, cluster=cluster)}
        with pytest.raises(GitOpsError, match="not the pinned"):
            steps["argocd"].do()
