"""Pure logic: cursors, image probing and variants, backoff, problem bodies, heartbeat checks."""

from __future__ import annotations

import io
import os
import re
import time
import uuid
from datetime import UTC, datetime

import orjson
import pytest
from PIL import Image
from tasknote import cli, cursors, idempotency, images, problems, worker


def test_cursor_round_trip_and_rejects_foreign_cursors():
    key, other_key = b"k" * 32, b"o" * 32
    when, tid = datetime(2026, 1, 2, 3, 4, 5, 678, tzinfo=UTC), uuid.uuid4()
    cursor = cursors.sign(key, when, tid)
    assert re.fullmatch(cursors.PATTERN, cursor)
    assert cursors.verify(key, cursor) == (when, tid)
    payload, tag = cursor.split(".")
    for bad in ("", "abc", "!!", "W10", "WyJ4IiwieSJd", f"{payload}.", f".{tag}", f"{payload}{tag}",
                cursors.sign(other_key, when, tid), f"{payload}.{tag[:-1]}{chr(ord(tag[-1]) ^ 1)}",
                f"{payload[:-1]}A.{tag}"):
        with pytest.raises(cursors.BadCursor):
            cursors.verify(key, bad)


def test_idempotency_keys_fingerprints_and_locks():
    key = str(uuid.uuid4())
    assert idempotency.normalise(key.upper()) == key
    assert idempotency.normalise(f'"{key}"') == key, "the draft's Structured Field string form"
    for bad in ("", "abc", f'"{key}', key + "x"):
        with pytest.raises(problems.Problem):
            idempotency.normalise(bad)
    assert idempotency.fingerprint(b"ab", b"c") != idempotency.fingerprint(b"a", b"bc")
    assert idempotency.lock_id("POST /tasks", key) == idempotency.lock_id("POST /tasks", key)
    assert -(2**63) <= idempotency.lock_id("POST /tasks", key) < 2**63


def encoded(img: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def test_probe_reads_the_type_from_the_bytes():
    rgb = Image.new("RGB", (30, 20), "red")
    assert images.probe(encoded(rgb, "JPEG")) == images.Probe("image/jpeg", 30, 20)
    assert images.probe(encoded(rgb, "PNG")) == images.Probe("image/png", 30, 20)
    assert images.probe(encoded(rgb, "WEBP")) == images.Probe("image/webp", 30, 20)
    for bad in (b"", b"hello", encoded(rgb, "GIF"), encoded(rgb, "BMP")):
        with pytest.raises(images.NotAnImage):
            images.probe(bad)


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_probe_refuses_a_decompression_bomb():
    bomb = encoded(Image.new("1", (8000, 8000)), "PNG")  # small file, 64 M pixels
    with pytest.raises(images.NotAnImage, match="pixels"):
        images.probe(bomb)


@pytest.mark.parametrize(
    ("w", "h", "box", "want"),
    [
        (3000, 2000, 1024, (1024, 683)),
        (2000, 3000, 512, (341, 512)),
        (100, 50, 128, (100, 50)),
        (5000, 1, 128, (128, 1)),
    ],
)
def test_fit_keeps_aspect_and_never_upscales(w, h, box, want):
    assert images.fit(w, h, box) == want


def test_variants_apply_exif_orientation_and_keep_aspect():
    img = Image.linear_gradient("L").resize((3000, 2000)).convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90: displayed as 2000x3000
    variants = images.make_variants(encoded(img, "JPEG", exif=exif.tobytes()))
    assert [v.size for v in variants] == [1024, 512, 128]
    for v in variants:
        assert v.height == v.size and v.content_type == "image/jpeg"
        assert abs(v.width - 2000 * v.size / 3000) <= 1, "portrait, aspect kept (each made from the previous)"
        assert Image.open(io.BytesIO(v.data)).size == (v.width, v.height)


def test_variants_of_transparent_images_keep_alpha():
    rgba = Image.new("RGBA", (600, 300), (10, 20, 30, 0))
    variants = images.make_variants(encoded(rgba, "PNG"))
    assert [(v.width, v.height, v.content_type) for v in variants] == [
        (600, 300, "image/webp"),
        (512, 256, "image/webp"),
        (128, 64, "image/webp"),
    ]
    assert Image.open(io.BytesIO(variants[0].data)).mode == "RGBA"


def test_backoff_grows_and_is_capped():
    assert [worker.backoff_seconds(n) for n in (1, 2, 3, 4)] == [2, 4, 8, 16]
    assert worker.backoff_seconds(50) == 300


def test_problem_body_shape():
    resp = problems.response(404, "no task with id 'x'", kind="not-found")
    assert resp.media_type == "application/problem+json"
    assert orjson.loads(resp.body) == {
        "type": "https://tasknote.example/problems/not-found",
        "title": "Not Found",
        "status": 404,
        "detail": "no task with id 'x'",
    }


def test_healthcheck_heartbeat(tmp_path):
    hb = tmp_path / "hb"
    assert cli.healthcheck(hb, 60, None) == 1
    hb.touch()
    assert cli.healthcheck(hb, 60, None) == 0
    old = time.time() - 61
    os.utime(hb, (old, old))
    assert cli.healthcheck(hb, 60, None) == 1
    assert cli.healthcheck(None, 60, None) == 2
