"""Run the API: one uvicorn server in this process (scale with replicas, not processes).

Shutdown is uvicorn's own: on SIGTERM it stops accepting, lets in-flight requests finish for at
most GRACEFUL_TIMEOUT_SECONDS, runs the lifespan shutdown (pool and cache closed) and exits.
Waiting for load balancers to drop the endpoint before that is the pod's job
(`lifecycle.preStop.sleep` in base/tasknote/api-deployment.yaml), not the app's."""

from __future__ import annotations

import logging

import uvicorn

from tasknote.api import create_app
from tasknote.settings import Settings

log = logging.getLogger(__name__)


def serve(settings: Settings) -> int:
    # loop/http left at uvicorn's "auto": uvloop and httptools whenever they are installed.
    config = uvicorn.Config(
        create_app(settings), host=settings.host, port=settings.port, lifespan="on",
        access_log=False, log_config=None, server_header=False, backlog=2048,
        timeout_graceful_shutdown=round(settings.graceful_timeout_seconds), timeout_keep_alive=5,
    )
    server = uvicorn.Server(config)
    log.info("listening", extra={"fields": {"host": settings.host, "port": settings.port}})
    server.run()
    return 0 if server.started else 3
