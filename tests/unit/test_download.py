"""fetch_verified against a real HTTP server on loopback (tests/support/localhttp): a file is
installed only when its sha256 is the pinned one, and a refusal leaves the directory as it was."""

import hashlib
import socket
from pathlib import Path
from typing import ClassVar

import pytest
from gitops.core.download import fetch_verified
from gitops.core.errors import GitOpsError
from support.localhttp import QuietHandler, serve
from support.ports import free_port

PAYLOAD = b"#!/bin/sh\necho 'kind v0.33.0 go1.25 linux/amd64'\n" * 200
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()


class Files(QuietHandler):
    """/kind serves PAYLOAD; /short promises more bytes than it sends; anything else is 404."""

    served: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.served.append(self.path)
        if self.path == "/kind":
            self.reply(200, PAYLOAD, {"Content-Type": "application/octet-stream"})
        elif self.path == "/short":
            self.send_response(200)
            self.send_header("Content-Length", str(len(PAYLOAD) * 2))
            self.end_headers()
            self.wfile.write(PAYLOAD)
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        else:
            self.reply(404, b"no such file")


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def one_sentence(message: str) -> None:
    assert "\n" not in message and message.endswith(".") and message.count(". ") == 0, message


def test_matching_sha256_installs_the_file_with_nothing_else(tmp_path: Path) -> None:
    with serve(Files) as base:
        got = fetch_verified(f"{base}/kind", PAYLOAD_SHA, tmp_path / "kind")
    assert got == tmp_path / "kind" and got.read_bytes() == PAYLOAD
    assert listing(tmp_path) == ["kind"]
    assert got.stat().st_mode & 0o777 == 0o644  # executable only after the caller decides


def test_wrong_sha256_is_refused_and_leaves_nothing_behind(tmp_path: Path) -> None:
    wrong = "0" * 64
    with serve(Files) as base, pytest.raises(GitOpsError) as info:
        fetch_verified(f"{base}/kind", wrong, tmp_path / "bin" / "kind")
    message = str(info.value)
    one_sentence(message)
    assert f"has sha256 {PAYLOAD_SHA}, not the pinned {wrong}" in message
    assert listing(tmp_path) == []  # not even the folder it made for the download


def test_wrong_sha256_leaves_an_existing_file_byte_identical(tmp_path: Path) -> None:
    dest = tmp_path / "kind"
    dest.write_bytes(b"the copy that was there before")
    with serve(Files) as base, pytest.raises(GitOpsError):
        fetch_verified(f"{base}/kind", "ab" * 32, dest)
    assert dest.read_bytes() == b"the copy that was there before" and listing(tmp_path) == ["kind"]


def test_unreachable_url_is_one_sentence_and_leaves_nothing(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    with pytest.raises(GitOpsError) as info:
        fetch_verified(f"http://127.0.0.1:{port}/kind", PAYLOAD_SHA, tmp_path / "kind", timeout=5)
    message = str(info.value)
    one_sentence(message)
    assert message.startswith(f"could not download http://127.0.0.1:{port}/kind (connection failed)")
    assert listing(tmp_path) == []


def test_http_error_names_the_status(tmp_path: Path) -> None:
    with serve(Files) as base, pytest.raises(GitOpsError, match=r"\(HTTP 404\)"):
        fetch_verified(f"{base}/missing", PAYLOAD_SHA, tmp_path / "kind")
    assert listing(tmp_path) == []


def test_connection_dropped_mid_body_leaves_nothing(tmp_path: Path) -> None:
    with serve(Files) as base, pytest.raises(GitOpsError, match="could not download"):
        fetch_verified(f"{base}/short", PAYLOAD_SHA, tmp_path / "kind")
    assert listing(tmp_path) == []


def test_malformed_pin_is_refused_before_any_request(tmp_path: Path) -> None:
    Files.served.clear()
    with serve(Files) as base, pytest.raises(GitOpsError, match="not 64 hex digits"):
        fetch_verified(f"{base}/kind", "sha256:" + PAYLOAD_SHA, tmp_path / "kind")
    assert Files.served == [] and not (tmp_path / "kind").exists()
