"""The FastAPI application: one router per resource (routes/), the process's runtime behind
dependencies (deps.py), RFC 9457 problems for every error, and an OpenAPI document that says
what the handlers really answer."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import BaseRoute, Match

from tasknote import metrics, problems
from tasknote.contract import JSON, PROBLEM_JSON
from tasknote.problems import Problem
from tasknote.routes import images, service, tasks
from tasknote.routes._http import MAX_JSON_BYTES
from tasknote.runtime import Runtime
from tasknote.settings import Settings

log = logging.getLogger(__name__)


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    out = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        out.append({"field": ".".join(loc), "message": err.get("msg", ""), "type": err.get("type", "")})
    return out


def _db_problem(exc: psycopg.Error) -> Response:
    if isinstance(exc, psycopg.errors.DataError):
        return problems.response(422, "a value is not acceptable to the database", kind="validation-error")
    log.warning("database unavailable", extra={"fields": {"error": type(exc).__name__}})
    return problems.response(503, "the database is unavailable; retry shortly",
                             kind="database-unavailable", headers={"Retry-After": "1"})


ROUTERS = (service.router, tasks.router, images.router)


def allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path. Starlette's own 405 names only the methods
    of the first route whose path matched (GET, HEAD for /tasks/{id}, missing PATCH and DELETE)."""
    methods: set[str] = set()
    # Our routers' own routes: FastAPI keeps an included router as one opaque entry.
    routes: list[BaseRoute] = [route for router in ROUTERS for route in router.routes]
    for route in routes:
        match, _ = route.matches({**request.scope, "method": "\0"})  # no method matches: path only
        if match != Match.NONE:
            methods |= getattr(route, "methods", None) or set()
    return sorted(methods)


def openapi_document(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, with problem responses under application/problem+json: FastAPI puts a
    response `model` under the route's own media type (application/json)."""
    doc = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    problem_ref = "#/components/schemas/ProblemDetails"
    for operations in doc["paths"].values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                # `X | None = None` is how FastAPI spells "optional"; a header or query value
                # cannot be null, so the parameter's schema is X.
                variants = parameter["schema"].get("anyOf", [])
                if len(variants) == 2 and {"type": "null"} in variants and not parameter.get("required"):
                    extra = {k: v for k, v in parameter["schema"].items() if k != "anyOf"}
                    parameter["schema"] = {**next(v for v in variants if v != {"type": "null"}), **extra}
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                if status >= "400" and content.get(JSON, {}).get("schema", {}).get("$ref") == problem_ref:
                    content[PROBLEM_JSON] = content.pop(JSON)
    return doc


def create_app(settings: Settings) -> FastAPI:
    rt = Runtime(settings)
    metrics.BETA.set(1 if settings.feature_beta else 0)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await rt.start()
        # Everything imported so far lives as long as the process: keep it out of GC passes.
        gc.freeze()
        log.info("api started", extra={"fields": {"feature_beta": settings.feature_beta,
                                                   "cache": rt.cache.enabled}})
        yield
        await rt.stop()
        log.info("api stopped")

    app = FastAPI(title="TaskNote", version="0.1.0", lifespan=lifespan,
                  description="Tasks with image attachments. Every error is an RFC 9457 "
                              "application/problem+json body.")
    app.state.runtime = rt
    for router in ROUTERS:
        app.include_router(router)
    document: dict[str, Any] = {}

    def openapi() -> dict[str, Any]:
        if not document:
            document.update(openapi_document(app))
        return document

    app.openapi = openapi  # type: ignore[method-assign]

    @app.exception_handler(Problem)
    async def on_problem(request: Request, exc: Problem) -> Response:
        return problems.from_problem(exc)

    @app.exception_handler(RequestValidationError)
    async def on_validation(request: Request, exc: RequestValidationError) -> Response:
        errors = _validation_errors(exc)
        if any(e["type"] == "json_invalid" for e in errors):
            return problems.response(400, "the body is not valid JSON", kind="malformed-json")
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return problems.response(422, detail, kind="validation-error", extra={"errors": errors})

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException) -> Response:
        detail = exc.detail if isinstance(exc.detail, str) else "request failed"
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 404:
            detail = f"no route {request.url.path}"
        elif exc.status_code == 405:
            allow = allowed_methods(request)
            headers["Allow"] = ", ".join(allow)
            detail = f"{request.method} is not served at {request.url.path}; use {', '.join(allow)}"
        elif exc.status_code == 413:
            detail = f"the body is larger than {MAX_JSON_BYTES} bytes"
        return problems.response(exc.status_code, detail, headers=headers or None)

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

    app.add_middleware(metrics.MetricsMiddleware)
    return app
