"""SQL for the API: one small async function per query, tuples in, dicts out."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from psycopg import AsyncConnection

_TASK_KEYS = ("id", "title", "description", "state", "created_at", "updated_at", "completed_at")
TASK_COLS = ", ".join(_TASK_KEYS)
_IMAGE_KEYS = ("id", "task_id", "content_type", "size", "status")
IMAGE_COLS = ", ".join(_IMAGE_KEYS)


def task_row(row: tuple[Any, ...]) -> dict[str, Any]:
    return dict(zip(_TASK_KEYS, row, strict=True))


async def signing_key(conn: AsyncConnection, purpose: str) -> bytes | None:
    cur = await conn.execute("SELECT key FROM signing_keys WHERE purpose = %s", (purpose,))
    row = await cur.fetchone()
    return bytes(row[0]) if row else None


async def create_task(conn: AsyncConnection, task_id: uuid.UUID, title: str, description: str | None,
                      state: str) -> dict[str, Any]:
    # The id is made by the API, so a retry after a lost connection is idempotent: if the first
    # INSERT did commit, the conflict branch returns that same row instead of a second task.
    cur = await conn.execute(
        f"INSERT INTO tasks (id, title, description, state, completed_at)"
        f" VALUES (%s, %s, %s, %s, CASE WHEN %s = 'done' THEN now() END)"
        f" ON CONFLICT (id) DO UPDATE SET id = tasks.id RETURNING {TASK_COLS}",
        (task_id, title, description, state, state),
    )
    row = await cur.fetchone()
    assert row is not None
    return task_row(row)


async def get_task(conn: AsyncConnection, task_id: uuid.UUID) -> dict[str, Any] | None:
    cur = await conn.execute(f"SELECT {TASK_COLS} FROM tasks WHERE id = %s", (task_id,))
    row = await cur.fetchone()
    return task_row(row) if row else None


async def update_task(conn: AsyncConnection, task_id: uuid.UUID,
                      changes: dict[str, Any]) -> dict[str, Any] | None:
    sets = ["updated_at = now()"]
    params: list[Any] = []
    for field in ("title", "description"):
        if field in changes:
            sets.append(f"{field} = %s")
            params.append(changes[field])
    if "state" in changes:
        # completed_at: set when a task becomes done, kept while it stays done, cleared otherwise.
        sets.append("state = %s")
        sets.append("completed_at = CASE WHEN %s = 'done' THEN coalesce(completed_at, now()) END")
        params += [changes["state"], changes["state"]]
    params.append(task_id)
    cur = await conn.execute(
        f"UPDATE tasks SET {', '.join(sets)} WHERE id = %s RETURNING {TASK_COLS}", params
    )
    row = await cur.fetchone()
    return task_row(row) if row else None


async def delete_task(conn: AsyncConnection, task_id: uuid.UUID) -> bool:
    cur = await conn.execute("DELETE FROM tasks WHERE id = %s", (task_id,))
    return cur.rowcount > 0


async def list_tasks(conn: AsyncConnection, limit: int,
                     after: tuple[datetime, uuid.UUID] | None) -> tuple[list[dict[str, Any]], bool]:
    """One page in (created_at, id) order after `after`, and whether more rows follow."""
    if after is None:
        cur = await conn.execute(
            f"SELECT {TASK_COLS} FROM tasks ORDER BY created_at, id LIMIT %s", (limit + 1,)
        )
    else:
        cur = await conn.execute(
            f"SELECT {TASK_COLS} FROM tasks WHERE (created_at, id) > (%s, %s)"
            f" ORDER BY created_at, id LIMIT %s",
            (after[0], after[1], limit + 1),
        )
    rows = await cur.fetchall()
    return [task_row(r) for r in rows[:limit]], len(rows) > limit


COPY_CHUNK = 256 * 1024  # bytes per COPY write (sent as twice that in hex)


def copy_row_prefix(image_id: uuid.UUID, task_id: uuid.UUID, content_type: str, size: int,
                    width: int, height: int) -> bytes:
    """The start of one COPY text-format row up to the bytea column: the columns tab-separated,
    then the bytea hex prefix, whose backslash COPY's own escaping doubles."""
    return "\t".join((str(image_id), str(task_id), content_type, str(size), str(width), str(height),
                      "\\\\x")).encode()


def _chunks(data: bytes | Path) -> Iterator[bytes]:
    if isinstance(data, bytes):
        view = memoryview(data)
        for start in range(0, len(view), COPY_CHUNK):
            yield bytes(view[start:start + COPY_CHUNK])
        return
    with data.open("rb") as fh:
        while chunk := fh.read(COPY_CHUNK):
            yield chunk


async def add_image(conn: AsyncConnection, task_id: uuid.UUID, image_id: uuid.UUID, content_type: str,
                    data: bytes | Path, width: int, height: int, max_attempts: int) -> dict[str, Any] | None:
    """The image and its resize job commit together: no image without a job, no job without an image.
    image_id comes from the caller so that a retry after a lost commit acknowledgement is a no-op.

    The bytes (in memory, or a file: the API's upload scratch) are streamed in by COPY in hex
    chunks rather than sent as one bytea parameter, so an upload is never whole in memory here."""
    size = len(data) if isinstance(data, bytes) else data.stat().st_size
    result: dict[str, Any] = {"id": image_id, "task_id": task_id, "content_type": content_type,
                              "size": size, "status": "pending", "variants": []}
    async with conn.transaction():
        cur = await conn.execute("SELECT 1 FROM images WHERE id = %s", (image_id,))
        if await cur.fetchone() is not None:
            return result
        cur = await conn.execute("SELECT 1 FROM tasks WHERE id = %s FOR KEY SHARE", (task_id,))
        if await cur.fetchone() is None:
            return None
        async with conn.cursor().copy(
            "COPY images (id, task_id, content_type, size, width, height, data) FROM STDIN"
        ) as copy:
            await copy.write(copy_row_prefix(image_id, task_id, content_type, size, width, height))
            for chunk in _chunks(data):
                await copy.write(chunk.hex().encode())
            await copy.write(b"\n")
        await conn.execute("INSERT INTO jobs (image_id, max_attempts) VALUES (%s, %s)",
                           (image_id, max_attempts))
    return result


async def get_image(conn: AsyncConnection, task_id: uuid.UUID,
                    image_id: uuid.UUID) -> dict[str, Any] | None:
    cur = await conn.execute(
        f"SELECT {IMAGE_COLS} FROM images WHERE id = %s AND task_id = %s", (image_id, task_id)
    )
    row = await cur.fetchone()
    if row is None:
        return None
    image = dict(zip(_IMAGE_KEYS, row, strict=True))
    cur = await conn.execute(
        "SELECT size, width, height FROM image_variants WHERE image_id = %s ORDER BY size", (image_id,)
    )
    image["variants"] = [{"size": s, "width": w, "height": h} for s, w, h in await cur.fetchall()]
    return image


async def get_original(conn: AsyncConnection, task_id: uuid.UUID,
                       image_id: uuid.UUID) -> tuple[str, bytes] | None:
    cur = await conn.execute(
        "SELECT content_type, data FROM images WHERE id = %s AND task_id = %s", (image_id, task_id)
    )
    row = await cur.fetchone()
    return (row[0], bytes(row[1])) if row else None


async def get_variant(conn: AsyncConnection, task_id: uuid.UUID, image_id: uuid.UUID,
                      size: int) -> tuple[str, bytes] | None:
    cur = await conn.execute(
        "SELECT v.content_type, v.data FROM image_variants v JOIN images i ON i.id = v.image_id"
        " WHERE v.image_id = %s AND i.task_id = %s AND v.size = %s",
        (image_id, task_id, size),
    )
    row = await cur.fetchone()
    return (row[0], bytes(row[1])) if row else None
