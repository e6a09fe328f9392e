"""What one API process holds for its lifetime: the settings, the PostgreSQL pool (with the
retry-once-after-a-lost-connection rule) and the Redis cache. Made by create_app, handed to
routes through the dependencies in deps.py."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import psycopg
from psycopg_pool import PoolTimeout

from tasknote import idempotency, migrate, pooling, store, uploads
from tasknote.cache import TaskCache
from tasknote.problems import Problem
from tasknote.settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")
PURGE_EVERY_SECONDS = 300.0


class Database:
    """The API's pool. `run(fn)` runs fn on a pooled connection; after a lost connection
    (PostgreSQL restarted) it drops the dead idle connections and tries once more. Creates and
    uploads are idempotent under that retry (the API makes their ids, so a second INSERT finds
    the first; keyed requests find their stored response) and a PATCH sets the same values again;
    a DELETE is not: if its commit went through but the acknowledgement was lost, the retry finds
    no row and the client gets 404 for a delete that happened."""

    def __init__(self, settings: Settings) -> None:
        self.pool = pooling.Pool(
            settings.database_url, min_size=1, max_size=settings.db_pool_max, open=False,
            kwargs={"autocommit": True, "connect_timeout": 5}, timeout=5, name="api",
        )
        self._checking = False
        self._signing_keys: dict[str, bytes] = {}

    async def run(self, fn: Callable[[psycopg.AsyncConnection], Awaitable[T]]) -> T:
        try:
            async with self.pool.connection() as conn:
                return await fn(conn)
        except PoolTimeout:
            # A subclass of OperationalError, but no connection broke: the pool had none to give
            # within its timeout. Checking and waiting again would only double the wait before
            # the 503; the retry below is for a connection that died under us. A pool whose last
            # connection attempt worked is full, not cut off: that is "busy", not "unavailable".
            if self.pool.reachable:
                raise Problem(503, "every database connection is in use; retry shortly", kind="busy",
                              headers={"Retry-After": "1"}) from None
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

    async def signing_key(self, purpose: str) -> bytes:
        """The HMAC key for `purpose` (migration 0005 makes it), read once per process."""
        key = self._signing_keys.get(purpose)
        if key is None:
            found = await self.run(lambda c: store.signing_key(c, purpose))
            if found is None:
                raise RuntimeError(f"no signing key {purpose!r}: run `tasknote migrate`")
            key = self._signing_keys[purpose] = found
        return key


class Runtime:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.database = Database(settings)
        self.cache = TaskCache(settings.redis_url, settings.cache_ttl_seconds)
        self.uploads = uploads.Admission.for_settings(settings)  # uploads in progress, capped
        self.latest_migration = migrate.latest_version()
        self._purger: asyncio.Task[None] | None = None

    async def start(self) -> None:
        # wait=False: the process starts even while PostgreSQL is down; /ready says so.
        await self.database.pool.open(wait=False)
        self._purger = asyncio.create_task(self._purge_idempotency_keys(), name="purge-idempotency-keys")

    async def stop(self) -> None:
        if self._purger is not None:
            self._purger.cancel()
        await self.cache.close()
        await self.database.pool.close(timeout=5)

    async def _purge_idempotency_keys(self) -> None:
        """Expired Idempotency-Key rows are already ignored by lookups; this keeps the table
        from growing. Every replica does it; the DELETEs do not conflict."""
        while True:
            await asyncio.sleep(PURGE_EVERY_SECONDS)
            try:
                while await self.database.run(idempotency.purge_expired) > 0:
                    await asyncio.sleep(0)
            except psycopg.Error as exc:
                log.warning("idempotency key purge failed; retrying later",
                            extra={"fields": {"error": type(exc).__name__}})
