"""Service endpoints: /healthz (the process is alive, touches nothing), /ready (PostgreSQL is
reachable and every migration this build knows is applied) and /metrics (Prometheus)."""

from __future__ import annotations

import asyncio

import orjson
import psycopg
from fastapi import APIRouter
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import Response

from tasknote.contract import JSON, METRICS_TYPE, Health, Readiness, binary, problems
from tasknote.deps import RuntimeDep
from tasknote.routes._http import get_and_head

router = APIRouter(tags=["service"])


def _json(body: dict[str, object], status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type=JSON)


@get_and_head(router, "/healthz", operation_id="get_healthz", response_model=Health, responses=problems())
async def healthz() -> Response:
    return _json({"status": "ok"})


@get_and_head(router, "/ready", operation_id="get_ready", response_model=Readiness,
              responses={503: {"description": "not ready: the database is unreachable or "
                                              "migrations are pending", "model": Readiness},
                         **problems()})
async def ready(rt: RuntimeDep) -> Response:
    async def version(conn: psycopg.AsyncConnection) -> int:
        cur = await conn.execute("SELECT coalesce(max(version), 0) FROM schema_migrations")
        row = await cur.fetchone()
        return int(row[0]) if row else 0

    try:
        current = await asyncio.wait_for(rt.database.run(version), timeout=3)
    except (psycopg.errors.UndefinedTable, psycopg.errors.InsufficientPrivilege):
        return _json({"status": "migrations pending", "schema": 0, "want": rt.latest_migration}, 503)
    except (psycopg.Error, TimeoutError):
        return _json({"status": "database unavailable"}, 503)
    if current < rt.latest_migration:
        return _json({"status": "migrations pending", "schema": current, "want": rt.latest_migration}, 503)
    return _json({"status": "ready", "schema": current})


@get_and_head(router, "/metrics", operation_id="get_metrics", response_class=Response,
              responses={200: binary(METRICS_TYPE, description="Prometheus text exposition format"),
                         **problems()})
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
