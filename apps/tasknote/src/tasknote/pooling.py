"""The API's PostgreSQL pool: psycopg_pool's AsyncConnectionPool with two changes, (1) a lost
database is retried every RETRY_S instead of with exponential backoff, so the first request after
PostgreSQL accepts connections again waits at most about RETRY_S, and (2) it remembers whether
its last connection attempt worked, which tells a full pool ("busy") from a database that is
down when no connection came within the pool timeout.

Upstream (psycopg/psycopg, psycopg_pool/psycopg_pool/base.py, AttemptWithBackoff):
INITIAL_DELAY 1 s doubling (DELAY_BACKOFF 2) up to reconnect_timeout, so after a restart of a few
seconds the next attempt can be 4-8 s away; AsyncConnectionPool._add_connection(attempt,
growing) makes an AttemptWithBackoff when given none and reschedules itself with the same one.
Both names are private: tests/unit/test_pooling.py fails if an upgrade changes them."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from psycopg_pool.base import AttemptWithBackoff

RETRY_S = 0.25


class SteadyRetry(AttemptWithBackoff):
    """Retry every RETRY_S (+-10% jitter) until the pool's reconnect_timeout."""

    INITIAL_DELAY = RETRY_S
    DELAY_BACKOFF = 1.0


class Pool(AsyncConnectionPool[AsyncConnection[Any]]):
    """See the module docstring."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reachable = True  # until an attempt fails; a pool that never connected says so

    async def _add_connection(self, attempt: AttemptWithBackoff | None, growing: bool = False) -> None:
        await super()._add_connection(attempt or SteadyRetry(timeout=self.reconnect_timeout), growing)

    async def _connect(self, timeout: float | None = None) -> AsyncConnection[Any]:
        try:
            conn = await super()._connect(timeout)
        except Exception:
            self.reachable = False
            raise
        self.reachable = True
        return conn
