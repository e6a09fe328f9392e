"""atomic_write: the old file or the new one, never half; the mode survives a rewrite."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from gitops.core import files


def test_writes_new_file_with_default_mode(tmp_path: Path) -> None:
    target = tmp_path / "a.yaml"
    files.atomic_write(target, b"one\n")
    assert target.read_bytes() == b"one\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644


def test_rewrite_keeps_existing_mode(tmp_path: Path) -> None:
    target = tmp_path / "key.yaml"
    files.atomic_write(target, b"one\n", mode=0o600)
    files.atomic_write(target, b"two\n")
    assert target.read_bytes() == b"two\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_failed_write_leaves_old_content_and_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "kustomization.yaml"
    target.write_bytes(b"old\n")

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(files.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        files.atomic_write(target, b"new\n")
    assert target.read_bytes() == b"old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["kustomization.yaml"]
