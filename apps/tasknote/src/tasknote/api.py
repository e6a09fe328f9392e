"""The HTTP API (FastAPI on uvicorn). Handlers are lean on purpose: bodies are validated by
pydantic straight from bytes, responses are orjson bytes, single reads go through the Redis cache,
and every error leaves as an RFC 9457 problem."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from types import SimpleNamespace
from typing import Annotated, Any, Literal, TypeVar

import orjson
import psycopg
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from psycopg_pool import AsyncConnectionPool, PoolTimeout
from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tasknote import images, migrate, problems, store
from tasknote.cache import TaskCache
from tasknote.problems import Problem
from tasknote.settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")

REQUESTS = Counter("tasknote_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram("tasknote_http_request_duration_seconds", "HTTP request latency", ["method", "route"],
                    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
# multiprocess_mode only matters with WEB_CONCURRENCY > 1 (see server.py): sum over live processes.
IN_FLIGHT = Gauge("tasknote_http_requests_in_flight", "HTTP requests being served",
                  multiprocess_mode="livesum")
CACHE = Counter("tasknote_cache_lookups_total", "Task cache lookups", ["result"])
BETA = Gauge("tasknote_feature_beta", "1 when FEATURE_BETA is on", multiprocess_mode="max")

Title = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00]*$")]
Description = Annotated[str, StringConstraints(max_length=10000, pattern=r"^[^\x00]*$")]
State = Literal["todo", "doing", "done"]


class TaskCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    title: Title
    description: Description | None = None
    state: State = "todo"


class TaskPatch(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    title: Title | None = None
    description: Description | None = None
    state: State | None = None


class Runtime:
    """What one API process holds: the pool, the cache and whether it is draining."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.pool = AsyncConnectionPool(
            settings.database_url, min_size=1, max_size=settings.db_pool_max, open=False,
            kwargs={"autocommit": True, "connect_timeout": 5}, timeout=5, name="api",
        )
        self.cache = TaskCache(settings.redis_url, settings.cache_ttl_seconds)
        self.draining = False
        self.latest_migration = migrate.latest_version()
        self._checking = False

    async def db(self, fn: Callable[[psycopg.AsyncConnection], Awaitable[T]]) -> T:
        """Run fn on a pooled connection; after a lost connection (PostgreSQL restarted), drop the
        dead idle connections and try once more. Creates and uploads are idempotent under that
        retry (the API makes their ids, so a second INSERT finds the first) and a PATCH sets the
        same values again; a DELETE is not: if its commit went through but the acknowledgement
        was lost, the retry finds no row and the client gets 404 for a delete that happened."""
        try:
            async with self.pool.connection() as conn:
                return await fn(conn)
        except PoolTimeout:
            # A subclass of OperationalError, but no connection broke: the pool had none to give
            # within its timeout. Checking and waiting again would only double the wait before
            # the 503; the retry below is for a connection that died under us.
            raise
        except psycopg.OperationalError:
            await self._check_pool()
            async with self.pool.connection() as conn:
                return await fn(conn)

    async def _check_pool(self) -> None:
        if self._checking:
            return
        self._checking = True
        try:
            await self.pool.check()
        except Exception:  # noqa: S110 - best effort: the retry reports what is still wrong
            pass
        finally:
            self._checking = False


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def _uuid(raw: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise Problem(404, f"no {what} with id {raw!r}", kind="not-found") from None


def _validation_errors(exc: ValidationError | RequestValidationError) -> list[dict[str, Any]]:
    out = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        out.append({"field": ".".join(loc), "message": err.get("msg", ""), "type": err.get("type", "")})
    return out


MAX_JSON_BYTES = 64 * 1024  # a task is at most ~40 KB of JSON even with 4-byte characters


async def _json_body(request: Request) -> bytes:
    """The body, refused with 413 past MAX_JSON_BYTES whether or not a Content-Length says so
    (a chunked body is counted while it streams, never buffered whole)."""
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > MAX_JSON_BYTES):
        raise Problem(413, f"JSON bodies are limited to {MAX_JSON_BYTES} bytes", kind="too-large")
    if length is not None:
        return await request.body()
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_JSON_BYTES:
            raise Problem(413, f"JSON bodies are limited to {MAX_JSON_BYTES} bytes", kind="too-large")
        chunks.append(chunk)
    return b"".join(chunks)


def _parse(model: type[BaseModel], body: bytes, content_type: str) -> BaseModel:
    if content_type and "json" not in content_type:
        raise Problem(415, "send the body as application/json", kind="unsupported-media-type")
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        errors = _validation_errors(exc)
        if any(e["type"] == "json_invalid" for e in errors) or not body:
            raise Problem(400, "the body is not valid JSON", kind="malformed-json") from None
        detail = "; ".join(f"{e['field'] or 'body'}: {e['message']}" for e in errors)
        raise Problem(422, detail, kind="validation-error", extra={"errors": errors}) from None


def _db_problem(exc: psycopg.Error) -> Response:
    if isinstance(exc, psycopg.errors.DataError):
        return problems.response(422, "a value is not acceptable to the database", kind="validation-error")
    log.warning("database unavailable", extra={"fields": {"error": type(exc).__name__}})
    return problems.response(503, "the database is unavailable; retry shortly",
                             kind="database-unavailable", headers={"Retry-After": "1"})


# Only their .path is read (the metrics route label), as for the routes the router matches.
_FAST_GET = SimpleNamespace(path="/tasks/{task_id}")
_FAST_POST = SimpleNamespace(path="/tasks")


class FastPaths:
    """GET /tasks/{id} and POST /tasks without FastAPI's per-request routing and dependency
    solving (a third of the CPU of a cached read). Errors become the same problem responses as
    the exception handlers give; anything else unexpected propagates to the 500 handler."""

    def __init__(self, app: ASGIApp, get_task: Callable[[str], Awaitable[Response]],
                 create_task: Callable[[Request], Awaitable[Response]]) -> None:
        self.app = app
        self.get_task = get_task
        self.create_task = create_task

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path, method = scope["path"], scope["method"]
            if method == "GET" and path.startswith("/tasks/") and path.count("/") == 2:
                scope["route"] = _FAST_GET
                response = await self._guard(self.get_task(path[len("/tasks/"):]))
                await response(scope, receive, send)
                return
            if method == "POST" and path == "/tasks":
                scope["route"] = _FAST_POST
                response = await self._guard(self.create_task(Request(scope, receive)))
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

    @staticmethod
    async def _guard(call: Awaitable[Response]) -> Response:
        try:
            return await call
        except Problem as exc:
            return problems.from_problem(exc)
        except (psycopg.errors.DataError, psycopg.OperationalError) as exc:
            return _db_problem(exc)


class MetricsMiddleware:
    """Counts and times every request by route template (not raw path: ids would explode labels)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        IN_FLIGHT.inc()
        try:
            await self.app(scope, receive, send_status)
        finally:
            IN_FLIGHT.dec()
            key = (scope["method"], getattr(scope.get("route"), "path", "unmatched"), status)
            children = self._children.get(key)
            if children is None:  # labels() is a locked dict lookup: do it once per key
                children = (REQUESTS.labels(key[0], key[1], str(status)), LATENCY.labels(key[0], key[1]))
                self._children[key] = children
            children[0].inc()
            children[1].observe(time.perf_counter() - start)


def create_app(settings: Settings) -> FastAPI:
    rt = Runtime(settings)
    BETA.set(1 if settings.feature_beta else 0)
    # labels() is a locked dict lookup: bind the two children once, not on every cached read.
    cache_hit, cache_miss = CACHE.labels("hit"), CACHE.labels("miss")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # wait=False: the process starts even while PostgreSQL is down; /ready says so.
        await rt.pool.open(wait=False)
        # Everything imported so far lives as long as the process: keep it out of GC passes.
        gc.freeze()
        log.info("api started", extra={"fields": {"feature_beta": settings.feature_beta,
                                                   "cache": rt.cache.enabled}})
        yield
        await rt.cache.close()
        await rt.pool.close(timeout=5)

    app = FastAPI(title="TaskNote", version="0.1.0", lifespan=lifespan)
    app.state.runtime = rt

    @app.exception_handler(Problem)
    async def on_problem(request: Request, exc: Problem) -> Response:
        return problems.from_problem(exc)

    @app.exception_handler(RequestValidationError)
    async def on_validation(request: Request, exc: RequestValidationError) -> Response:
        errors = _validation_errors(exc)
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return problems.response(422, detail, kind="validation-error", extra={"errors": errors})

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException) -> Response:
        detail = exc.detail if isinstance(exc.detail, str) else "request failed"
        if exc.status_code == 404:
            detail = f"no route {request.url.path}"
        return problems.response(exc.status_code, detail, headers=getattr(exc, "headers", None))

    @app.exception_handler(psycopg.errors.DataError)
    async def on_data(request: Request, exc: psycopg.errors.DataError) -> Response:
        return _db_problem(exc)

    @app.exception_handler(psycopg.OperationalError)
    async def on_db_down(request: Request, exc: psycopg.OperationalError) -> Response:
        return _db_problem(exc)

    @app.exception_handler(Exception)
    async def on_crash(request: Request, exc: Exception) -> Response:
        log.error("unhandled error", exc_info=exc, extra={"fields": {"path": request.url.path}})
        return problems.response(500, "internal error; it has been logged", kind="internal-error")

    @app.get("/healthz")
    async def healthz() -> Response:
        return _json({"status": "ok"})

    @app.get("/ready")
    async def ready() -> Response:
        if rt.draining:
            return _json({"status": "shutting down"}, 503)

        async def version(conn: psycopg.AsyncConnection) -> int:
            cur = await conn.execute("SELECT coalesce(max(version), 0) FROM schema_migrations")
            row = await cur.fetchone()
            return int(row[0]) if row else 0

        try:
            current = await asyncio.wait_for(rt.db(version), timeout=3)
        except (psycopg.errors.UndefinedTable, psycopg.errors.InsufficientPrivilege):
            return _json({"status": "migrations pending", "schema": 0, "want": rt.latest_migration}, 503)
        except (psycopg.Error, TimeoutError):
            return _json({"status": "database unavailable"}, 503)
        if current < rt.latest_migration:
            return _json({"status": "migrations pending", "schema": current,
                          "want": rt.latest_migration}, 503)
        return _json({"status": "ready", "schema": current})

    @app.get("/metrics")
    async def metrics() -> Response:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            # Several server processes: add up what every one of them recorded.
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    task_body = {"requestBody": {"required": True, "content": {"application/json": {
        "schema": TaskCreate.model_json_schema()}}}}
    patch_body = {"requestBody": {"required": True, "content": {"application/json": {
        "schema": TaskPatch.model_json_schema()}}}}

    @app.post("/tasks", status_code=201, openapi_extra=task_body)
    async def create_task(request: Request) -> Response:
        body = _parse(TaskCreate, await _json_body(request), request.headers.get("content-type", ""))
        assert isinstance(body, TaskCreate)
        new_id = uuid.uuid4()
        task = await rt.db(lambda c: store.create_task(c, new_id, body.title, body.description, body.state))
        return _json(task, 201)

    @app.get("/tasks")
    async def list_tasks(limit: Annotated[int, Query(ge=1, le=100)] = 20,
                         cursor: Annotated[str | None, Query(max_length=512)] = None) -> Response:
        try:
            after = store.decode_cursor(cursor) if cursor else None
        except store.BadCursor as exc:
            raise Problem(400, str(exc), kind="bad-cursor") from None
        items, nxt = await rt.db(lambda c: store.list_tasks(c, limit, after))
        return _json({"items": items, "next_cursor": nxt})

    @app.get("/tasks/{task_id}")
    async def get_task(task_id: str) -> Response:
        tid = _uuid(task_id, "task")
        key = str(tid)
        cached = await rt.cache.get(key)
        if cached is not None:
            cache_hit.inc()
            return Response(cached, media_type="application/json")
        cache_miss.inc()
        task = await rt.db(lambda c: store.get_task(c, tid))
        if task is None:
            raise Problem(404, f"no task with id {task_id!r}", kind="not-found")
        payload = orjson.dumps(task)
        await rt.cache.put(key, payload)
        return Response(payload, media_type="application/json")

    # The hottest read and write bypass FastAPI's router and dependency solving: a small ASGI
    # shortcut serves them with the same handlers, problems and metrics labels; the FastAPI
    # routes above still describe them in the OpenAPI document (and serve HEAD).
    app.add_middleware(FastPaths, get_task=get_task, create_task=create_task)
    app.add_middleware(MetricsMiddleware)  # added last = outermost: it also times the shortcut

    @app.patch("/tasks/{task_id}", openapi_extra=patch_body)
    async def patch_task(task_id: str, request: Request) -> Response:
        tid = _uuid(task_id, "task")
        body = _parse(TaskPatch, await _json_body(request), request.headers.get("content-type", ""))
        changes = {k: getattr(body, k) for k in body.model_fields_set}
        if "title" in changes and changes["title"] is None:
            raise Problem(422, "title: may not be null", kind="validation-error")
        if "state" in changes and changes["state"] is None:
            raise Problem(422, "state: may not be null", kind="validation-error")
        task = await rt.db(lambda c: store.update_task(c, tid, changes))
        await rt.cache.invalidate(str(tid))
        if task is None:
            raise Problem(404, f"no task with id {task_id!r}", kind="not-found")
        return _json(task)

    @app.delete("/tasks/{task_id}", status_code=204)
    async def delete_task(task_id: str) -> Response:
        tid = _uuid(task_id, "task")
        found = await rt.db(lambda c: store.delete_task(c, tid))
        await rt.cache.invalidate(str(tid))
        if not found:
            raise Problem(404, f"no task with id {task_id!r}", kind="not-found")
        return Response(status_code=204)

    upload_body = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object", "required": ["file"],
        "properties": {"file": {"type": "string", "format": "binary"}}}}}}}

    @app.post("/tasks/{task_id}/images", status_code=202, openapi_extra=upload_body)
    async def upload_image(task_id: str, request: Request) -> Response:
        tid = _uuid(task_id, "task")
        cap = settings.max_upload_bytes
        length = request.headers.get("content-length")
        if length is None:
            raise Problem(411, "send a Content-Length header with the upload", kind="length-required")
        if not length.isdigit() or int(length) > cap + 64 * 1024:  # room for the multipart framing
            raise Problem(413, f"uploads are limited to {cap} bytes", kind="too-large",
                          extra={"max_bytes": cap})
        if "multipart/form-data" not in request.headers.get("content-type", ""):
            raise Problem(415, "send the image as multipart/form-data in a field named 'file'",
                          kind="unsupported-media-type")
        try:
            form = await request.form(max_files=1, max_fields=5)
        except Exception:
            raise Problem(400, "the multipart body could not be parsed", kind="malformed-multipart") from None
        try:
            upload = form.get("file")
            if upload is None or isinstance(upload, str):
                raise Problem(422, "the form needs a file field named 'file'", kind="validation-error")
            data = await upload.read(cap + 1)
        finally:
            await form.close()
        if len(data) > cap:
            raise Problem(413, f"uploads are limited to {cap} bytes", kind="too-large",
                          extra={"max_bytes": cap})
        try:
            info = images.probe(data)
        except images.NotAnImage as exc:
            raise Problem(415, str(exc), kind="not-an-image") from None
        iid = uuid.uuid4()
        image = await rt.db(lambda c: store.add_image(c, tid, iid, info.content_type, data, info.width,
                                                      info.height, settings.worker_max_attempts))
        if image is None:
            raise Problem(404, f"no task with id {task_id!r}", kind="not-found")
        return _json(image, 202)

    @app.get("/tasks/{task_id}/images/{image_id}")
    async def get_image(task_id: str, image_id: str) -> Response:
        tid, iid = _uuid(task_id, "task"), _uuid(image_id, "image")
        image = await rt.db(lambda c: store.get_image(c, tid, iid))
        if image is None:
            raise Problem(404, f"no image {image_id!r} on task {task_id!r}", kind="not-found")
        return _json(image)

    @app.get("/tasks/{task_id}/images/{image_id}/original")
    async def get_original(task_id: str, image_id: str) -> Response:
        tid, iid = _uuid(task_id, "task"), _uuid(image_id, "image")
        found = await rt.db(lambda c: store.get_original(c, tid, iid))
        if found is None:
            raise Problem(404, f"no image {image_id!r} on task {task_id!r}", kind="not-found")
        return Response(found[1], media_type=found[0])

    @app.get("/tasks/{task_id}/images/{image_id}/variants/{size}")
    async def get_variant(task_id: str, image_id: str, size: str) -> Response:
        tid, iid = _uuid(task_id, "task"), _uuid(image_id, "image")
        if size not in ("128", "512", "1024"):
            raise Problem(404, f"no variant size {size!r}; sizes are 128, 512, 1024", kind="not-found")
        found = await rt.db(lambda c: store.get_variant(c, tid, iid, int(size)))
        if found is None:
            raise Problem(404, f"variant {size} of image {image_id!r} is not ready or does not exist",
                          kind="not-found")
        return Response(found[1], media_type=found[0])

    return app
