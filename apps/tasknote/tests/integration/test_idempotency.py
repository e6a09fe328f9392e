"""Idempotency-Key against real PostgreSQL (draft-ietf-httpapi-idempotency-key-header): a retry
gets the first response and makes nothing new; another payload under the same key is a 422; a
retry while the first is in flight is a 409; expired keys are new again and get purged."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import psycopg
from psycopg import sql
from tasknote import idempotency


def count(db_url: str, table: str) -> int:
    with psycopg.connect(db_url) as conn:
        query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
        return conn.execute(query).fetchone()[0]  # type: ignore[index]


def test_a_retried_create_replays_the_first_response(db_url, start_api):
    api = start_api(db_url)
    key = str(uuid.uuid4())
    first = httpx.post(f"{api.base_url}/tasks", json={"title": "once"}, headers={"Idempotency-Key": key})
    assert first.status_code == 201
    # The same request again, with the key in the draft's Structured Field form and the body
    # spelled differently: the same task, the same bytes, the same Location.
    again = httpx.post(f"{api.base_url}/tasks", content=b'{ "title" : "once" }',
                       headers={"Idempotency-Key": f'"{key.upper()}"', "content-type": "application/json"})
    assert (again.status_code, again.content, again.headers["location"]) == (
        201, first.content, first.headers["location"])
    assert count(db_url, "tasks") == 1
    other = httpx.post(f"{api.base_url}/tasks", json={"title": "twice"}, headers={"Idempotency-Key": key})
    assert other.status_code == 422 and other.json()["type"].endswith("/idempotency-key-reused")
    assert httpx.post(f"{api.base_url}/tasks", json={"title": "once"}).status_code == 201, "no key, no replay"
    assert count(db_url, "tasks") == 2
    bad = httpx.post(f"{api.base_url}/tasks", json={"title": "x"}, headers={"Idempotency-Key": "short"})
    assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"


def test_a_retried_upload_makes_one_image(tn, db_url, start_api):
    api = start_api(db_url)
    tid = tn.new_task(api.base_url)["id"]
    key, jpeg = str(uuid.uuid4()), tn.jpeg_bytes()

    def send(data: bytes, task: str = tid) -> httpx.Response:
        return httpx.post(f"{api.base_url}/tasks/{task}/images", files={"file": ("a.jpg", data)},
                          headers={"Idempotency-Key": key})

    first, again = send(jpeg), send(jpeg)
    assert first.status_code == 202
    assert (again.status_code, again.content, again.headers["location"]) == (
        202, first.content, first.headers["location"])
    assert first.headers["location"] == f"/tasks/{tid}/images/{first.json()['id']}"
    assert count(db_url, "images") == 1 and count(db_url, "jobs") == 1
    assert send(tn.jpeg_bytes(quality=50)).status_code == 422, "other bytes under the same key"
    other_task = tn.new_task(api.base_url)["id"]
    assert send(jpeg, other_task).status_code == 422, "the same bytes for another task"
    # A request that failed stored nothing: after a 404 the same key still works for a real task.
    missing = str(uuid.uuid4())
    fresh = str(uuid.uuid4())
    assert httpx.post(f"{api.base_url}/tasks/{missing}/images", files={"file": ("a.jpg", jpeg)},
                      headers={"Idempotency-Key": fresh}).status_code == 404
    assert httpx.post(f"{api.base_url}/tasks/{tid}/images", files={"file": ("a.jpg", jpeg)},
                      headers={"Idempotency-Key": fresh}).status_code == 202


def test_a_retry_while_the_first_runs_is_a_409(db_url, start_api):
    api = start_api(db_url)
    key = str(uuid.uuid4())
    # The first request holds this lock for its transaction; hold it here instead.
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (idempotency.lock_id("POST /tasks", key),))
        busy = httpx.post(f"{api.base_url}/tasks", json={"title": "x"}, headers={"Idempotency-Key": key})
    assert busy.status_code == 409 and busy.headers["retry-after"] == "1"
    assert busy.json()["type"].endswith("/idempotency-key-in-use")
    assert count(db_url, "tasks") == 0
    done = httpx.post(f"{api.base_url}/tasks", json={"title": "x"}, headers={"Idempotency-Key": key})
    assert done.status_code == 201


def test_expired_keys_are_new_again_and_purged(db_url, start_api):
    api = start_api(db_url)
    key = str(uuid.uuid4())
    first = httpx.post(f"{api.base_url}/tasks", json={"title": "x"}, headers={"Idempotency-Key": key})
    with psycopg.connect(db_url, autocommit=True) as conn:
        stored = conn.execute("SELECT expires_at - created_at FROM idempotency_keys").fetchone()[0]  # type: ignore[index]
        assert stored.total_seconds() == 24 * 3600, "the documented default retention"
        conn.execute("UPDATE idempotency_keys SET expires_at = now() - interval '1 second'")
    second = httpx.post(f"{api.base_url}/tasks", json={"title": "x"}, headers={"Idempotency-Key": key})
    assert second.status_code == 201 and second.json()["id"] != first.json()["id"]
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("UPDATE idempotency_keys SET expires_at = now() - interval '1 second'")

    async def purge() -> int:
        async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
            return await idempotency.purge_expired(conn)

    assert asyncio.run(purge()) == 1
    assert count(db_url, "idempotency_keys") == 0
