"""Redis as a read cache for single tasks. Redis is never the source of truth: every failure is
swallowed with short socket timeouts, and after one failure Redis is skipped for a few seconds
so a dead cache costs no latency. Invalidations that could not be delivered are remembered and
delivered first when Redis answers again, so a cache that comes back (with its data) does not
serve a value older than a write the API acknowledged; the TTL bounds what this process cannot
know (e.g. a writer that died while Redis was down)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

log = logging.getLogger(__name__)

PREFIX = "tasknote:task:"
RETRY_AFTER_SECONDS = 2.0
MAX_PENDING = 10_000
SECOND_DELETE_SECONDS = 0.5


class TaskCache:
    def __init__(self, url: str, ttl_seconds: int, timeout_seconds: float = 0.25) -> None:
        self.ttl = ttl_seconds
        self.client: aioredis.Redis | None = None
        if url:
            self.client = aioredis.from_url(
                url,
                socket_timeout=timeout_seconds,
                socket_connect_timeout=timeout_seconds,
                retry=Retry(NoBackoff(), 0),
                health_check_interval=0,
            )
        self._down_until = 0.0
        self._pending: set[str] = set()
        self._overflow = False
        self._background: set[asyncio.Future[bool]] = set()

    @property
    def enabled(self) -> bool:
        return self.client is not None

    def _fail(self, what: str, exc: Exception) -> None:
        if self._down_until < time.monotonic():
            log.warning("redis unavailable; serving from PostgreSQL",
                        extra={"fields": {"op": what, "error": type(exc).__name__}})
        self._down_until = time.monotonic() + RETRY_AFTER_SECONDS

    async def _usable(self) -> bool:
        if self.client is None or time.monotonic() < self._down_until:
            return False
        if self._pending or self._overflow:
            try:
                await self._flush_pending()
            except Exception as exc:  # any Redis failure means "not now"
                self._fail("flush", exc)
                return False
        return True

    async def _flush_pending(self) -> None:
        assert self.client is not None
        if self._overflow:
            async for key in self.client.scan_iter(match=PREFIX + "*", count=1000):
                await self.client.delete(key)
            self._overflow = False
            self._pending.clear()
        while self._pending:
            batch = list(self._pending)[:500]
            await self.client.delete(*batch)
            self._pending.difference_update(batch)

    async def get(self, task_id: str) -> bytes | None:
        if not await self._usable():
            return None
        assert self.client is not None
        try:
            value = await self.client.get(PREFIX + task_id)
        except Exception as exc:
            self._fail("get", exc)
            return None
        return value if isinstance(value, bytes) else None

    async def put(self, task_id: str, payload: bytes) -> None:
        if not await self._usable():
            return
        assert self.client is not None
        try:
            await self.client.set(PREFIX + task_id, payload, ex=self.ttl)
        except Exception as exc:
            self._fail("set", exc)

    async def invalidate(self, task_id: str) -> None:
        """Delete after the write committed, and once more a moment later: a reader that read the
        old row just before the commit may still be about to put it back (the classic
        read-populate race); the second delete closes that window for any reader faster than
        SECOND_DELETE_SECONDS, and the TTL bounds the rest."""
        if self.client is None:
            return
        key = PREFIX + task_id
        if await self._delete_or_remember(key):
            asyncio.get_running_loop().call_later(SECOND_DELETE_SECONDS, self._second_delete, key)

    def _remember(self, key: str) -> None:
        if len(self._pending) >= MAX_PENDING:
            self._overflow = True
        else:
            self._pending.add(key)

    def _second_delete(self, key: str) -> None:
        task = asyncio.ensure_future(self._delete_or_remember(key))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _delete_or_remember(self, key: str) -> bool:
        """True when Redis took the delete; otherwise the key is kept for the next flush."""
        if await self._usable():
            assert self.client is not None
            try:
                await self.client.delete(key)
                return True
            except Exception as exc:
                self._fail("delete", exc)
        self._remember(key)
        return False

    async def close(self) -> None:
        if self.client is not None:
            # Closing a dead connection may fail; there is nothing left to do then.
            with contextlib.suppress(Exception):
                await self.client.aclose()
