"""Image uploads in bounded memory: admission before the body is read, the multipart body
streamed to a disk-backed scratch file, the header probed from that file, and the bytes
streamed from it into PostgreSQL with COPY. No step holds the whole upload in memory, so what
one upload costs is a few chunks, and the number admitted at once (limits.upload_slots, from
the container's memory limit) bounds the total.

The API handler calls accept() and returns what it returns; every refusal is a Problem."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from tasknote import images, limits
from tasknote.problems import Problem
from tasknote.settings import Settings

FRAMING = 64 * 1024  # room for the multipart boundaries and part headers around the file
RETRY_AFTER_S = 2  # a maximum-size upload over loopback takes well under this


@dataclass
class Admission:
    """At most `slots` uploads in progress per process; the next one is refused at once with
    503 + Retry-After, before a byte of its body is read (one event loop: no lock needed)."""

    slots: int
    in_use: int = 0

    @classmethod
    def for_settings(cls, settings: Settings) -> Admission:
        return cls(settings.upload_slots or limits.upload_slots(limits.memory_limit()))

    @contextlib.contextmanager
    def admit(self) -> Iterator[None]:
        if self.in_use >= self.slots:
            raise Problem(503, f"the server is handling {self.slots} uploads already; retry shortly",
                          kind="busy", headers={"Retry-After": str(RETRY_AFTER_S)})
        self.in_use += 1
        try:
            yield
        finally:
            self.in_use -= 1


def check_headers(headers: Any, cap: int) -> bytes:
    """What can be refused from the headers alone (411, 413, 415); returns the boundary."""
    length = headers.get("content-length")
    if length is None:
        raise Problem(411, "send a Content-Length header with the upload", kind="length-required")
    if not length.isdigit() or int(length) > cap + FRAMING:
        raise Problem(413, f"uploads are limited to {cap} bytes", kind="too-large", extra={"max_bytes": cap})
    media, options = parse_options_header(headers.get("content-type", ""))
    boundary = options.get(b"boundary", b"")
    if media != b"multipart/form-data" or not boundary:
        raise Problem(415, "send the image as multipart/form-data in a field named 'file'",
                      kind="unsupported-media-type")
    return boundary


class FilePartWriter:
    """multipart callbacks that write the data of the one part named `file` to `out`; any other
    part is refused as soon as its headers are read, before its data."""

    def __init__(self, out: IO[bytes], cap: int) -> None:
        self.out = out
        self.cap = cap
        self.size = 0
        self.found = False
        self.parts = 0
        self._header_field = b""
        self._header_value = b""
        self._is_file = False
        self._disposition = b""

    def callbacks(self) -> dict[str, Callable[..., None]]:
        return {
            "on_part_begin": self._begin, "on_header_field": self._field, "on_header_value": self._value,
            "on_header_end": self._header_end, "on_headers_finished": self._headers_done,
            "on_part_data": self._data, "on_part_end": self._end,
        }

    def _begin(self) -> None:
        self.parts += 1
        if self.parts > 5:
            raise Problem(400, "the form has too many parts; send one field named 'file'",
                          kind="malformed-multipart")
        self._is_file, self._disposition = False, b""

    def _field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def _value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]
        if len(self._header_value) > 4096:
            raise Problem(400, "a multipart part header is too long", kind="malformed-multipart")

    def _header_end(self) -> None:
        if self._header_field.lower() == b"content-disposition":
            self._disposition = self._header_value
        self._header_field, self._header_value = b"", b""

    def _headers_done(self) -> None:
        _, options = parse_options_header(self._disposition)
        name = options.get(b"name", b"").decode("utf-8", "replace")
        if name != "file":  # the contract's schema: additionalProperties false
            raise Problem(422, f"the form takes only 'file'; remove {name or 'the unnamed part'}",
                          kind="validation-error")
        if self.found:
            raise Problem(400, "the form has more than one 'file'; send one", kind="malformed-multipart")
        self._is_file = self.found = True

    def _data(self, data: bytes, start: int, end: int) -> None:
        if not self._is_file:
            return
        self.size += end - start
        if self.size > self.cap:
            raise Problem(413, f"uploads are limited to {self.cap} bytes", kind="too-large",
                          extra={"max_bytes": self.cap})
        self.out.write(data[start:end])

    def _end(self) -> None:
        self._is_file = False


async def receive(request: Request, boundary: bytes, out: IO[bytes], cap: int) -> int:
    """Stream the body through the multipart parser into `out`; the file's size in bytes."""
    writer = FilePartWriter(out, cap)
    parser = MultipartParser(boundary, writer.callbacks())  # type: ignore[arg-type]
    try:
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
    except Problem:
        raise
    except Exception:
        raise Problem(400, "the multipart body could not be parsed", kind="malformed-multipart") from None
    if not writer.found:
        raise Problem(422, "the form needs a file field named 'file'", kind="validation-error")
    out.flush()
    return writer.size


@dataclass(frozen=True)
class Received:
    """An admitted upload, on disk: where, how big, and what its header says it is."""

    path: Path
    size: int
    probe: images.Probe


@contextlib.asynccontextmanager
async def received(request: Request, admission: Admission, settings: Settings) -> AsyncIterator[Received]:
    """Headers checked (411, 413, 415), admitted (503 busy), the body streamed to a scratch file
    (400, 413, 422) and its header probed (415); yields it while the caller stores it. The slot
    and the file are given back when the block ends, however it ends."""
    cap = settings.max_upload_bytes
    boundary = check_headers(request.headers, cap)
    with admission.admit():
        scratch = settings.scratch_dir or tempfile.gettempdir()
        with tempfile.NamedTemporaryFile(prefix="upload-", dir=scratch) as out:
            size = await receive(request, boundary, out, cap)
            path = Path(out.name)
            try:
                with path.open("rb") as fh:
                    probe = images.probe(fh)
            except images.NotAnImage as exc:
                raise Problem(415, str(exc), kind="not-an-image") from None
            yield Received(path, size, probe)
