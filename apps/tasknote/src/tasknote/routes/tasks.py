"""/tasks: create, list, read, update, delete. Single reads go through the Redis cache; every
write invalidates it. Bodies are application/json, at most MAX_JSON_BYTES."""

from __future__ import annotations

import uuid
from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Query
from psycopg import AsyncConnection
from starlette.responses import Response

from tasknote import cursors, idempotency, metrics, store
from tasknote.contract import (
    JSON,
    LOCATION,
    PAGE_LINKS,
    TASK_LINKS,
    Cursor,
    Task,
    TaskCreate,
    TaskPage,
    TaskPatch,
    problems,
)
from tasknote.deps import CacheDep, DatabaseDep, SettingsDep
from tasknote.idempotency import Stored
from tasknote.problems import Problem
from tasknote.routes._http import IdempotencyKey, JsonBodyRoute, get_and_head, require_json, respond

TaskId = uuid.UUID

router = APIRouter(prefix="/tasks", tags=["tasks"], route_class=JsonBodyRoute)


def _not_found(task_id: uuid.UUID) -> Problem:
    return Problem(404, f"no task with id {str(task_id)!r}", kind="not-found")


@router.post("", status_code=201, operation_id="create_task", response_model=Task,
             dependencies=[Depends(require_json)],
             responses={201: {"headers": LOCATION, "links": TASK_LINKS},
                        **problems(400, 409, 413, 415, 422, 503)})
async def create_task(body: TaskCreate, db: DatabaseDep, settings: SettingsDep,
                      idempotency_key: IdempotencyKey = None) -> Response:
    new_id = uuid.uuid4()

    async def create(conn: AsyncConnection) -> Stored:
        task = await store.create_task(conn, new_id, body.title, body.description, body.state)
        return Stored(201, orjson.dumps(task), f"/tasks/{task['id']}")

    if idempotency_key is None:
        return respond(await db.run(create))
    key = idempotency.normalise(idempotency_key)
    # The validated body, not its bytes: the same task sent with other whitespace is the same request.
    print_ = idempotency.fingerprint(orjson.dumps(body.model_dump(), option=orjson.OPT_SORT_KEYS))
    ttl = settings.idempotency_ttl_seconds
    return respond(await db.run(lambda c: idempotency.run_once(c, "POST /tasks", key, print_, ttl, create)))


@get_and_head(router, "", operation_id="list_tasks", response_model=TaskPage,
              responses={200: {"links": PAGE_LINKS}, **problems(400, 422, 503)})
async def list_tasks(db: DatabaseDep, limit: Annotated[int, Query(ge=1, le=100)] = 20,
                     cursor: Annotated[Cursor | None, Query(
                         description="next_cursor of the previous page; a cursor this API did not "
                                     "sign is a 400")] = None) -> Response:
    key = await db.signing_key("cursor")
    try:
        after = cursors.verify(key, cursor) if cursor else None
    except cursors.BadCursor as exc:
        raise Problem(400, str(exc), kind="bad-cursor") from None
    items, more = await db.run(lambda c: store.list_tasks(c, limit, after))
    nxt = cursors.sign(key, items[-1]["created_at"], items[-1]["id"]) if more else None
    return Response(orjson.dumps({"items": items, "next_cursor": nxt}), media_type=JSON)


@get_and_head(router, "/{task_id}", operation_id="get_task", response_model=Task,
              responses=problems(404, 422, 503))
async def get_task(task_id: TaskId, db: DatabaseDep, cache: CacheDep) -> Response:
    key = str(task_id)
    cached = await cache.get(key)
    if cached is not None:
        metrics.CACHE_HIT.inc()
        return Response(cached, media_type=JSON)
    metrics.CACHE_MISS.inc()
    task = await db.run(lambda c: store.get_task(c, task_id))
    if task is None:
        raise _not_found(task_id)
    payload = orjson.dumps(task)
    await cache.put(key, payload)
    return Response(payload, media_type=JSON)


@router.patch("/{task_id}", operation_id="update_task", response_model=Task,
              dependencies=[Depends(require_json)], responses=problems(400, 404, 413, 415, 422, 503))
async def update_task(task_id: TaskId, body: TaskPatch, db: DatabaseDep, cache: CacheDep) -> Response:
    """Fields present are set, absent ones kept; `description: null` clears the description."""
    changes = {name: getattr(body, name) for name in body.model_fields_set}
    task = await db.run(lambda c: store.update_task(c, task_id, changes))
    await cache.invalidate(str(task_id))
    if task is None:
        raise _not_found(task_id)
    return Response(orjson.dumps(task), media_type=JSON)


@router.delete("/{task_id}", status_code=204, operation_id="delete_task", response_class=Response,
               responses=problems(404, 422, 503))
async def delete_task(task_id: TaskId, db: DatabaseDep, cache: CacheDep) -> Response:
    found = await db.run(lambda c: store.delete_task(c, task_id))
    await cache.invalidate(str(task_id))
    if not found:
        raise _not_found(task_id)
    return Response(status_code=204)
