from pathlib import Path

import pytest
from gitops.core import config
from gitops.core.errors import GitOpsError
from support.checkout import this_repo


def test_unknown_environment_and_cluster_are_one_sentence() -> None:
    with pytest.raises(GitOpsError, match=r"unknown environment 'qa'; use one of dev, staging, prod\."):
        config.check_environment("qa")
    with pytest.raises(GitOpsError, match=r"unknown cluster 'eks'; use one of kind, k3s\."):
        this_repo().cluster("eks")


def test_broken_versions_file_is_one_sentence(tmp_path: Path) -> None:
    broken = tmp_path / "versions.yaml"
    broken.write_text("tools: [unclosed\n")
    with pytest.raises(GitOpsError, match="is not valid YAML"):
        config.load_versions(broken)
    with pytest.raises(GitOpsError, match="is missing"):
        config.load_versions(tmp_path / "absent.yaml")


def test_version_of_names_the_missing_key() -> None:
    pinned = this_repo().versions["tools"]["kubectl"]["version"]
    assert this_repo().version_of("tools", "kubectl", "version") == pinned
    with pytest.raises(GitOpsError, match=r"versions.yaml has no entry tools\.nope; add it\."):
        this_repo().version_of("tools", "nope", "version")


def test_lookup_is_none_for_a_missing_key() -> None:
    data = {"tools": {"kind": {"version": "0.31.0"}}}
    assert config.lookup(data, "tools", "kind", "version") == "0.31.0"
    assert config.lookup(data, "tools", "nope", "version") is None
    assert config.lookup(data, "tools", "kind", "version", "deeper") is None
