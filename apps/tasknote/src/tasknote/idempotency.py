"""Idempotency-Key for POST (draft-ietf-httpapi-idempotency-key-header, section 2): the first
successful response to a keyed request is stored in the same transaction as what it created and
replayed, byte for byte with its status and Location, for a retry with the same key and payload.

Per the draft's error scenarios (section 2.7): the same key with a different payload is 422; a
retry while the first request is still running is 409. Only successes are stored: a request
that failed changed nothing, so a retry runs it again. Keys expire after IDEMPOTENCY_TTL_SECONDS
(published in the README, as the draft's section 2.3 asks) and expired rows are purged."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from psycopg import AsyncConnection

from tasknote.problems import Problem

HEADER = "Idempotency-Key"
_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
# A UUID (the draft recommends one: random, so nobody guesses another client's key), bare or as
# the Structured Field string the draft's syntax section defines ("…" in double quotes).
PATTERN = rf'^({_UUID}|"{_UUID}")$'
_KEY = re.compile(PATTERN)
DOC = ("A UUID that makes this POST safe to retry: a retry with the same key and body gets the "
       "first response again (status, body, Location) instead of a second resource. Keys are "
       "kept for IDEMPOTENCY_TTL_SECONDS (default 24 h). The same key with another body is 422; "
       "a retry while the first is still running is 409.")


@dataclass(frozen=True)
class Stored:
    """A response as it is stored and replayed."""

    status: int
    body: bytes
    location: str | None


def normalise(raw: str) -> str:
    """The key without the Structured Field quotes, lower-case (a UUID's case carries nothing)."""
    if not _KEY.match(raw):  # the route's header pattern checks this first; keep one rule
        raise Problem(400, f"{HEADER} must be a UUID", kind="bad-idempotency-key")
    return raw.strip('"').lower()


def fingerprint(*parts: bytes) -> bytes:
    """What the request asked for, so a reused key with another payload is recognised."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(len(part).to_bytes(8, "big"))  # length-prefixed: no two splits collide
        digest.update(part)
    return digest.digest()


def fingerprint_file(prefix: bytes, path: Path, chunk: int = 256 * 1024) -> bytes:
    """fingerprint(prefix, the file's bytes), reading the file a chunk at a time (an upload is
    on disk so that it is never whole in memory)."""
    digest = hashlib.sha256()
    digest.update(len(prefix).to_bytes(8, "big"))
    digest.update(prefix)
    digest.update(path.stat().st_size.to_bytes(8, "big"))
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.digest()


def lock_id(scope: str, key: str) -> int:
    """A signed 64-bit advisory lock number for (scope, key); a collision only costs a 409."""
    raw = hashlib.blake2b(f"{scope}\0{key}".encode(), digest_size=8).digest()
    return int.from_bytes(raw, "big", signed=True)


async def run_once(conn: AsyncConnection, scope: str, key: str, print_: bytes, ttl_seconds: int,
                   operation: Callable[[AsyncConnection], Awaitable[Stored]]) -> Stored:
    """Replay the stored response for (scope, key), or run `operation` and store what it returns,
    in one transaction. `operation` raises (a Problem) to leave nothing behind."""
    async with conn.transaction():
        cur = await conn.execute("SELECT pg_try_advisory_xact_lock(%s)", (lock_id(scope, key),))
        row = await cur.fetchone()
        if not row or not row[0]:
            raise Problem(409, f"a request with this {HEADER} is still being processed; retry shortly",
                          kind="idempotency-key-in-use", headers={"Retry-After": "1"})
        cur = await conn.execute(
            "SELECT fingerprint, status, body, location FROM idempotency_keys"
            " WHERE scope = %s AND key = %s AND expires_at > now()", (scope, key))
        found = await cur.fetchone()
        if found is not None:
            if bytes(found[0]) != print_:
                raise Problem(422, f"this {HEADER} was used for a request with another payload; "
                              "use a new key for a new request", kind="idempotency-key-reused")
            return Stored(found[1], bytes(found[2]), found[3])
        result = await operation(conn)
        # An expired row under the same key is replaced: the key is new again.
        await conn.execute(
            "INSERT INTO idempotency_keys (scope, key, fingerprint, status, body, location, expires_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, now() + make_interval(secs => %s))"
            " ON CONFLICT (scope, key) DO UPDATE SET fingerprint = EXCLUDED.fingerprint,"
            " status = EXCLUDED.status, body = EXCLUDED.body, location = EXCLUDED.location,"
            " created_at = now(), expires_at = EXCLUDED.expires_at",
            (scope, key, print_, result.status, result.body, result.location, ttl_seconds))
        return result


async def purge_expired(conn: AsyncConnection, batch: int = 5000) -> int:
    """Delete up to `batch` expired keys; returns how many went (call again while it is `batch`)."""
    cur = await conn.execute(
        "DELETE FROM idempotency_keys WHERE ctid IN (SELECT ctid FROM idempotency_keys"
        " WHERE expires_at <= now() LIMIT %s)", (batch,))
    return cur.rowcount
