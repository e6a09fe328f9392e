"""Pagination cursors the API can recognise: the last row's sort key, signed with an HMAC key
(signing_keys, made by migration 0005), so a cursor this API did not make is refused as a 400
instead of being trusted as a position."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import uuid
from datetime import datetime

import orjson

TAG_BYTES = 16  # 128-bit truncated HMAC-SHA256: forging one is a 2^-128 guess
# What a cursor looks like on the wire (the OpenAPI pattern says the same): base64url payload,
# a dot, base64url tag. A cursor of the right shape but the wrong tag is still a 400.
PATTERN = r"^[A-Za-z0-9_-]{1,400}\.[A-Za-z0-9_-]{22}$"


class BadCursor(ValueError):
    pass


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _tag(key: bytes, payload: bytes) -> bytes:
    return hmac.new(key, payload, hashlib.sha256).digest()[:TAG_BYTES]


def sign(key: bytes, created_at: datetime, task_id: uuid.UUID) -> str:
    payload = orjson.dumps([created_at.isoformat(), str(task_id)])
    return f"{_b64(payload)}.{_b64(_tag(key, payload))}"


def verify(key: bytes, cursor: str) -> tuple[datetime, uuid.UUID]:
    """The position a cursor we signed stands for; BadCursor for anything else."""
    bad = BadCursor("the cursor is not one this API returned; start again without a cursor")
    body, dot, tag = cursor.partition(".")
    if not dot or not body or not tag:
        raise bad
    try:
        payload, given = _unb64(body), _unb64(tag)
    except (binascii.Error, ValueError):
        raise bad from None
    # base64 is malleable (the spare low bits of the last character are ignored on decoding):
    # only the one spelling we make is ours.
    if _b64(payload) != body or _b64(given) != tag:
        raise bad
    if not hmac.compare_digest(given, _tag(key, payload)):
        raise bad
    try:  # signed by us, so well-formed unless the format changed under an old key
        created, tid = orjson.loads(payload)
        when = datetime.fromisoformat(created)
        if when.tzinfo is None:
            raise ValueError("naive timestamp")
        return when, uuid.UUID(tid)
    except (ValueError, TypeError, orjson.JSONDecodeError):
        raise bad from None
