import hashlib
import os
import sys
from pathlib import Path
from typing import ClassVar

import pytest
from gitops.core import tool_install, tools
from gitops.core.errors import GitOpsError
from gitops.core.repo import Repo
from support.checkout import this_repo
from support.localhttp import QuietHandler, serve

VERSIONS = {
    "tools": {
        "kind": {"version": "0.30.0", "url": "https://example.invalid/kind", "sha256": "ab" * 32},
        "docker": {"min_version": "24.0", "install": "install Docker"},
    }
}


def fake_tool(tmp_path: Path, name: str, output: str) -> Path:
    path = tmp_path / name
    path.write_text(f"#!{sys.executable}\nprint({output!r})\n")
    path.chmod(0o755)
    return path


def test_parse_version_of_each_probe() -> None:
    assert tools.parse_version("kind v0.30.0 go1.24 linux/amd64", r"kind v?([0-9][^\s]*)") == "0.30.0"
    pattern = tools.VERSION_PROBES["k3s"][1]
    assert tools.parse_version("k3s version v1.33.1+k3s1 (abc)", pattern) == "1.33.1+k3s1"


def test_exact_and_minimum_pins() -> None:
    kind = tools.spec("kind", VERSIONS)
    docker = tools.spec("docker", VERSIONS)
    assert tools.acceptable("0.30.0", kind) and not tools.acceptable("0.29.0", kind)
    assert tools.acceptable("26.1.5+dfsg1", docker) and not tools.acceptable("20.10.24", docker)


def test_missing_tool_is_one_sentence_with_the_pinned_url(monkeypatch: pytest.MonkeyPatch,
                                                          tmp_path: Path) -> None:
    monkeypatch.setattr(tools, "locate", lambda name: None)
    with pytest.raises(GitOpsError) as info:
        tools.require("kind", Repo(tmp_path, VERSIONS))
    message = str(info.value)
    assert "kind is not installed; kind 0.30.0 is needed" in message
    assert "https://example.invalid/kind" in message and "\n" not in message


def test_wrong_version_names_found_and_needed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = fake_tool(tmp_path, "kind", "kind v0.20.0 go1.20 linux/amd64")
    monkeypatch.setattr(tools, "locate", lambda name: fake)
    with pytest.raises(GitOpsError, match=r"reports version 0\.20\.0 but kind 0\.30\.0 is needed"):
        tools.require("kind", Repo(tmp_path, VERSIONS))


def test_right_version_is_accepted(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = fake_tool(tmp_path, "kind", "kind v0.30.0 go1.24 linux/amd64")
    monkeypatch.setattr(tools, "locate", lambda name: fake)
    assert tools.require("kind", Repo(tmp_path, VERSIONS)) == fake


def test_pinned_kubectl_comes_from_the_lock_file() -> None:
    path = tools.require("kubectl", this_repo())
    assert str(path).startswith(sys.prefix)


# --- pinned downloads into the checkout's .tools/bin (loopback HTTP stand-in for GitHub) -----

FAKE_KIND = b"#!/bin/sh\necho 'kind v0.30.0 go1.24 linux/amd64'\n"
FAKE_SHA = hashlib.sha256(FAKE_KIND).hexdigest()


class KindRelease(QuietHandler):
    downloads: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.downloads.append(self.path)
        if self.path == "/kind":
            self.reply(200, FAKE_KIND)
        else:
            self.reply(404)


def downloadable(tmp_path: Path, base: str, sha256: str = FAKE_SHA) -> Repo:
    """A checkout at tmp_path whose versions.yaml pins kind's download for this platform."""
    entry = {"version": "0.30.0", "url": f"{base}/kind", "sha256": sha256,
             "platform": tool_install.platform_key()}
    return Repo(tmp_path, {"tools": {**VERSIONS["tools"], "kind": entry}})


@pytest.fixture
def no_kind_on_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    (tmp_path / "path").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "path"))
    return tmp_path / "path"


def test_missing_kind_is_downloaded_verified_and_used(tmp_path: Path, no_kind_on_path: Path) -> None:
    with serve(KindRelease) as base:
        repo = downloadable(tmp_path, base)
        KindRelease.downloads.clear()
        path = tools.require("kind", repo)
        assert path == tmp_path / ".tools" / "bin" / "kind" and os.access(path, os.X_OK)
        assert tools.require("kind", repo) == path == tools.pinned_copy("kind", repo)
        assert KindRelease.downloads == ["/kind"]  # found in .tools/bin the second time


def test_a_wrong_version_on_path_is_replaced_by_the_pinned_download(tmp_path: Path,
                                                                   no_kind_on_path: Path) -> None:
    fake_tool(no_kind_on_path, "kind", "kind v0.20.0 go1.20 linux/amd64")
    with serve(KindRelease) as base:
        assert tools.require("kind", downloadable(tmp_path, base)) == tmp_path / ".tools" / "bin" / "kind"


def test_wrong_sha256_refuses_and_installs_nothing(tmp_path: Path, no_kind_on_path: Path) -> None:
    with serve(KindRelease) as base:
        repo = downloadable(tmp_path, base, sha256="0" * 64)
        with pytest.raises(GitOpsError) as info:
            tools.require("kind", repo)
    assert "not the pinned 0000" in str(info.value) and "\n" not in str(info.value)
    assert not (tmp_path / ".tools").exists() and tools.pinned_copy("kind", repo) is None


def test_fetch_false_only_says_it_would_download(tmp_path: Path, no_kind_on_path: Path) -> None:
    with serve(KindRelease) as base, pytest.raises(GitOpsError) as info:
        tools.require("kind", downloadable(tmp_path, base), fetch=False)
    assert str(info.value) == (f"kind is not installed; kind 0.30.0 is needed: the automation downloads it "
                               f"from {base}/kind into .tools/bin when it runs.")
    assert not (tmp_path / ".tools").exists()


def test_the_repositorys_own_pins_are_downloadable_for_linux_amd64() -> None:
    for name in ("kind", "kubeseal"):
        entry = this_repo().versions["tools"][name]
        art = tool_install.artifact(name, entry, "linux-amd64")
        assert art.url == entry["url"] and art.sha256 == entry["sha256"]
    assert not tool_install.downloadable(this_repo().versions["tools"]["k3s"])  # a VPS binary
