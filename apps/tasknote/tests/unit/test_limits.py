"""Memory budgets, settings from files, the streaming multipart writer, the COPY row and the
pool's private hooks: the pure parts of bounded uploads and bounded decodes."""

from __future__ import annotations

import inspect
import io
from pathlib import Path

import pytest
from PIL import Image
from tasknote import images, limits, pooling, store, uploads
from tasknote.problems import Problem
from tasknote.settings import SettingsError, from_env

MiB = 1024 * 1024
URL = "postgresql://db.example/tasknote"


@pytest.mark.parametrize(("text", "want"), [
    ("max\n", None), ("268435456\n", 256 * MiB), ("9223372036854771712\n", None), ("", None)])
def test_cgroup_limit_files_parse(text: str, want: int | None) -> None:
    assert limits.parse_limit(text) == want


def test_memory_limit_reads_the_first_file_that_exists(tmp_path: Path) -> None:
    v1 = tmp_path / "memory.limit_in_bytes"
    v1.write_text("536870912\n")
    assert limits.memory_limit((tmp_path / "memory.max", v1)) == 512 * MiB
    assert limits.memory_limit((tmp_path / "none",)) is None


def test_upload_slots_follow_the_memory_limit_within_bounds() -> None:
    assert limits.upload_slots(256 * MiB) == 16  # (256 - 128) / 8
    assert limits.upload_slots(192 * MiB) == 8
    assert limits.upload_slots(128 * MiB) == 1  # never zero: one upload at a time still works
    assert limits.upload_slots(4096 * MiB) == limits.MAX_UPLOAD_SLOTS
    assert limits.upload_slots(None) == limits.upload_slots(limits.DEFAULT_LIMIT)


def test_twice_the_webp_cap_would_not_fit_a_512mi_worker() -> None:
    """The WebP cap is what keeps its decode in budget, not slack (tests/unit/test_app_packaging
    checks every cap against base/'s worker limit)."""
    budget = limits.decode_budget(512 * MiB, 10 * MiB)
    side = int((2 * images.FORMAT_MAX_PIXELS["WEBP"]) ** 0.5)
    assert images.decode_peak_bytes(side, side, "RGBA", "WEBP") > budget


def test_an_image_over_the_budget_is_refused_before_it_is_decoded() -> None:
    buf = io.BytesIO()
    Image.new("RGBA", (2000, 1500)).save(buf, "PNG")
    with pytest.raises(images.TooLarge, match=r"2000x1500 RGBA needs about \d+ MiB, over .* 1 MiB"):
        images.make_variants(buf.getvalue(), budget=MiB)
    assert [v.size for v in images.make_variants(buf.getvalue(), budget=64 * MiB)] == [1024, 512, 128]


def test_the_strip_reduce_equals_pillows_whole_image_reduce() -> None:
    img = Image.radial_gradient("L").resize((1030, 777)).convert("RGBA")
    img.putalpha(Image.linear_gradient("L").resize((1030, 777)))
    assert images._reduce_in_strips(img, (3, 3)).tobytes() == img.reduce(3).tobytes()


def test_webp_over_its_pixel_cap_is_not_an_image_we_accept() -> None:
    buf = io.BytesIO()
    Image.new("RGB", (4000, 5001)).save(buf, "WEBP", quality=10)
    with pytest.raises(images.NotAnImage, match="WEBP image has more than 20000000 pixels"):
        images.probe(buf.getvalue())


def test_credentials_come_from_files(tmp_path: Path) -> None:
    secret = tmp_path / "url"
    secret.write_text("postgresql://user:password@db/tasknote\n")
    settings = from_env({"DATABASE_URL_FILE": str(secret)})
    assert settings.database_url == "postgresql://user:password@db/tasknote"
    with pytest.raises(SettingsError) as both:
        from_env({"DATABASE_URL": URL, "DATABASE_URL_FILE": str(secret)})
    assert both.value.problems == ["DATABASE_URL and DATABASE_URL_FILE are both set; set only one"]
    with pytest.raises(SettingsError) as missing:
        from_env({"DATABASE_URL_FILE": str(tmp_path / "nope")})
    assert "cannot be read (No such file or directory)" in missing.value.problems[0]
    assert "password" not in str(missing.value)


def multipart(boundary: bytes, *parts: tuple[str, bytes]) -> bytes:
    out = b""
    for name, data in parts:
        out += (b"--" + boundary + b'\r\nContent-Disposition: form-data; name="' + name.encode()
                + b'"; filename="f"\r\nContent-Type: application/octet-stream\r\n\r\n' + data + b"\r\n")
    return out + b"--" + boundary + b"--\r\n"


def feed(body: bytes, cap: int, chunk: int = 7) -> tuple[uploads.FilePartWriter, bytes]:
    from python_multipart.multipart import MultipartParser

    out = io.BytesIO()
    writer = uploads.FilePartWriter(out, cap)
    parser = MultipartParser(b"XyZ", writer.callbacks())  # type: ignore[arg-type]
    for i in range(0, len(body), chunk):  # small chunks: headers and data split anywhere
        parser.write(body[i:i + chunk])
    parser.finalize()
    return writer, out.getvalue()


def test_the_file_part_streams_to_the_file_in_small_chunks() -> None:
    writer, kept = feed(multipart(b"XyZ", ("file", b"\x89PNG-bytes" * 50)), cap=1000)
    assert (writer.found, writer.size, kept) == (True, 500, b"\x89PNG-bytes" * 50)


def test_any_other_part_is_refused_before_its_data_is_read() -> None:
    """The contract's schema allows only `file` (additionalProperties: false): another field is
    a 422 as soon as its headers are parsed; a second file is a malformed form (400)."""
    with pytest.raises(Problem) as other:
        feed(multipart(b"XyZ", ("note", b"n" * 5000), ("file", b"x")), cap=100)
    assert (other.value.status, str(other.value)) == (422, "the form takes only 'file'; remove note")
    with pytest.raises(Problem) as twice:
        feed(multipart(b"XyZ", ("file", b"a"), ("file", b"b")), cap=100)
    assert twice.value.status == 400


def test_a_file_part_over_the_cap_is_a_413_while_it_streams() -> None:
    with pytest.raises(Problem) as exc:
        feed(multipart(b"XyZ", ("file", b"x" * 101)), cap=100)
    assert exc.value.status == 413


def test_admission_refuses_past_its_slots_with_retry_after_and_frees_them() -> None:
    gate = uploads.Admission(slots=1)
    with gate.admit():
        with pytest.raises(Problem) as exc, gate.admit():
            pass
        assert (exc.value.status, exc.value.kind, exc.value.headers) == (503, "busy", {"Retry-After": "2"})
    with gate.admit():
        assert gate.in_use == 1
    assert gate.in_use == 0


def test_headers_are_checked_before_any_body_is_read() -> None:
    ok = {"content-length": "100", "content-type": "multipart/form-data; boundary=XyZ"}
    assert uploads.check_headers(ok, 1000) == b"XyZ"
    for headers, status in (({**ok, "content-length": "99999999"}, 413),
                            ({"content-type": ok["content-type"]}, 411),
                            ({**ok, "content-type": "multipart/form-data"}, 415),
                            ({**ok, "content-type": "application/json"}, 415)):
        with pytest.raises(Problem) as exc:
            uploads.check_headers(headers, 1000)
        assert exc.value.status == status, headers


def test_the_copy_row_escapes_the_bytea_hex_prefix_for_copy_text_format() -> None:
    import uuid

    image, task = uuid.UUID(int=1), uuid.UUID(int=2)
    prefix = store.copy_row_prefix(image, task, "image/png", 3, 4, 5)
    assert prefix == f"{image}\t{task}\timage/png\t3\t4\t5\t\\\\x".encode()


def test_the_pool_hooks_this_app_overrides_still_exist_upstream() -> None:
    """pooling.Pool overrides two private methods of psycopg_pool; an upgrade that renames or
    re-signs them must fail here, not silently fall back to 1-2-4-8 s reconnects."""
    from psycopg_pool import AsyncConnectionPool
    from psycopg_pool.base import AttemptWithBackoff

    assert list(inspect.signature(AsyncConnectionPool._add_connection).parameters) == [
        "self", "attempt", "growing"]
    assert "timeout" in inspect.signature(AsyncConnectionPool._connect).parameters
    assert {"INITIAL_DELAY", "DELAY_BACKOFF"} <= set(vars(AttemptWithBackoff))
    attempt = pooling.SteadyRetry(timeout=60)
    delays = []
    for now in (0.0, 1.0, 2.0, 3.0):
        attempt.update_delay(now)
        delays.append(attempt.delay)
    assert all(0.2 <= d <= 0.3 for d in delays), delays


def test_an_upload_on_disk_has_the_fingerprint_of_its_bytes(tmp_path: Path) -> None:
    """Idempotency-Key compares payloads by fingerprint; the streamed upload's must equal what
    fingerprint() gives for the same bytes in memory (chunk boundaries included)."""
    from tasknote import idempotency

    data = bytes(range(256)) * 3000
    path = tmp_path / "upload"
    path.write_bytes(data)
    assert idempotency.fingerprint_file(b"task", path, chunk=1000) == idempotency.fingerprint(b"task", data)
    assert idempotency.fingerprint_file(b"task", path) != idempotency.fingerprint(b"task", data[:-1])
