"""Installing pinned CLIs into the project bin directory, downloaded from a loopback HTTP server
(tests/support/localhttp) with the real fetch_verified: platform choice, verification before the
file becomes executable, nothing left behind on a refusal."""

import hashlib
import io
import os
import tarfile
from pathlib import Path
from typing import ClassVar

import pytest
from gitops.core import tool_install
from gitops.core.errors import GitOpsError
from support.localhttp import QuietHandler, serve

KIND = b"#!/bin/sh\necho 'kind v0.33.0 go1.25.1 linux/amd64'\n"


def tarball(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


# The kubeseal release tarball carries the binary beside LICENSE and README.md.
KUBESEAL_TGZ = tarball({"LICENSE": b"Apache-2.0\n", "README.md": b"kubeseal\n",
                        "kubeseal": b"#!/bin/sh\necho 'kubeseal version: 0.33.1'\n"})


class Releases(QuietHandler):
    files: ClassVar[dict[str, bytes]] = {"/kind-linux-amd64": KIND,
                                         "/kubeseal-0.33.1-linux-amd64.tar.gz": KUBESEAL_TGZ}

    def do_GET(self) -> None:
        body = self.files.get(self.path)
        self.reply(200, body) if body is not None else self.reply(404)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def kind_entry(base: str, digest: str = sha(KIND)) -> dict[str, object]:
    # Shaped like versions.yaml tools.kind: the top-level url/sha256 are for `platform`.
    return {"version": "0.33.0", "url": f"{base}/kind-linux-amd64", "sha256": digest,
            "platform": "linux-amd64",
            "platforms": {"darwin-arm64": {"url": f"{base}/kind-darwin-arm64", "sha256": "cd" * 32}}}


@pytest.mark.parametrize(("system", "machine", "key"), [
    ("Linux", "x86_64", "linux-amd64"), ("Linux", "aarch64", "linux-arm64"),
    ("Darwin", "arm64", "darwin-arm64"), ("Linux", "riscv64", "linux-riscv64")])
def test_platform_key_uses_release_naming(system: str, machine: str, key: str) -> None:
    assert tool_install.platform_key(system, machine) == key


def test_artifact_per_platform_and_one_sentence_when_there_is_none() -> None:
    entry = kind_entry("https://example.invalid")
    assert tool_install.artifact("kind", entry, "linux-amd64").url.endswith("/kind-linux-amd64")
    assert tool_install.artifact("kind", entry, "darwin-arm64").url.endswith("/kind-darwin-arm64")
    with pytest.raises(GitOpsError) as info:
        tool_install.artifact("kind", entry, "windows-amd64")
    assert str(info.value) == (
        "versions.yaml pins kind 0.33.0 downloads only for darwin-arm64, linux-amd64, not windows-amd64; "
        "install kind 0.33.0 onto your PATH or add tools.kind.platforms.windows-amd64 with its url and "
        "sha256.")


def test_a_url_without_platform_or_sha_is_not_downloadable() -> None:
    # tools.k3s: a server binary for a VPS, not a local CLI, so no `platform` key.
    k3s = {"version": "1.37.1+k3s1", "url": "https://x/k3s", "sha256": "ab" * 32}
    assert not tool_install.downloadable(k3s)
    with pytest.raises(GitOpsError, match="has no url and sha256 for linux-amd64"):
        tool_install.artifact("kind", {"version": "1", "url": "https://x/kind", "platform": "linux-amd64"},
                              "linux-amd64")


def test_binary_is_verified_then_made_executable_in_place(tmp_path: Path) -> None:
    lines: list[str] = []
    with serve(Releases) as base:
        art = tool_install.artifact("kind", kind_entry(base), "linux-amd64")
        path = tool_install.install(art, tmp_path / ".tools" / "bin", progress=lines.append)
    assert path == tmp_path / ".tools" / "bin" / "kind" and path.read_bytes() == KIND
    assert os.access(path, os.X_OK) and sorted(os.listdir(path.parent)) == ["kind"]
    assert lines == [f"downloading kind 0.33.0 from {art.url} into {tmp_path / '.tools' / 'bin'}"]


def test_tarball_member_is_extracted_executable(tmp_path: Path) -> None:
    with serve(Releases) as base:
        entry = {"version": "0.33.1", "url": f"{base}/kubeseal-0.33.1-linux-amd64.tar.gz",
                 "sha256": sha(KUBESEAL_TGZ), "platform": "linux-amd64"}
        art = tool_install.artifact("kubeseal", entry, "linux-amd64")
        path = tool_install.install(art, tmp_path, progress=lambda _: None)
    assert art.member == "kubeseal" and path.read_bytes().startswith(b"#!/bin/sh\necho 'kubeseal")
    assert os.access(path, os.X_OK) and sorted(os.listdir(tmp_path)) == ["kubeseal"]


def test_wrong_sha256_installs_nothing_and_keeps_the_old_copy(tmp_path: Path) -> None:
    old = tmp_path / "kind"
    old.write_bytes(b"previous kind")
    old.chmod(0o755)
    with serve(Releases) as base:
        art = tool_install.artifact("kind", kind_entry(base, digest="ee" * 32), "linux-amd64")
        with pytest.raises(GitOpsError, match="not the pinned eeee"):
            tool_install.install(art, tmp_path, progress=lambda _: None)
    assert sorted(os.listdir(tmp_path)) == ["kind"] and old.read_bytes() == b"previous kind"


def test_tarball_without_the_binary_is_refused_and_leaves_nothing(tmp_path: Path) -> None:
    empty = tarball({"LICENSE": b"x"})
    Releases.files["/empty.tar.gz"] = empty
    with serve(Releases) as base:
        art = tool_install.Artifact("kubeseal", "0.33.1", f"{base}/empty.tar.gz", sha(empty), "kubeseal")
        with pytest.raises(GitOpsError, match="holds no file named kubeseal"):
            tool_install.install(art, tmp_path, progress=lambda _: None)
    assert os.listdir(tmp_path) == []
