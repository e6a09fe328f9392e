"""Prometheus metrics of the API process and the middleware that records the HTTP ones."""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUESTS = Counter("tasknote_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram("tasknote_http_request_duration_seconds", "HTTP request latency", ["method", "route"],
                    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
IN_FLIGHT = Gauge("tasknote_http_requests_in_flight", "HTTP requests being served")
CACHE = Counter("tasknote_cache_lookups_total", "Task cache lookups", ["result"])
# labels() is a locked dict lookup: bind the two children once, not on every cached read.
CACHE_HIT, CACHE_MISS = CACHE.labels("hit"), CACHE.labels("miss")
BETA = Gauge("tasknote_feature_beta", "1 when FEATURE_BETA is on")


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
