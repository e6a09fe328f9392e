import sys
from pathlib import Path

import pytest
from gitops.core import tools
from gitops.core.errors import GitOpsError
from gitops.core.repo import Repo
from support.checkout import this_repo

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
