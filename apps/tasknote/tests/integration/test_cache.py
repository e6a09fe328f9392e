"""The Redis cache object against a real Redis: the read-populate race after a write, and
invalidations remembered across an outage."""

from __future__ import annotations

import asyncio

from tasknote.cache import PREFIX, TaskCache


def test_a_stale_put_racing_a_write_is_removed_by_the_second_delete(redis_server):
    async def go() -> tuple[bytes | None, bytes | None]:
        cache = TaskCache(redis_server.url, ttl_seconds=60)
        await cache.put("t1", b"old")
        await cache.invalidate("t1")  # the writer committed "new" and deletes
        await cache.put("t1", b"old")  # a slow reader that read the row before the commit
        stale = await cache.get("t1")
        await asyncio.sleep(0.8)
        after = await cache.get("t1")
        await cache.close()
        return stale, after

    stale, after = asyncio.run(go())
    assert stale == b"old", "the race is real"
    assert after is None, "the second delete removed the stale value"


def test_unreachable_redis_costs_no_time_and_invalidations_are_kept(redis_server):
    async def go() -> None:
        import time

        cache = TaskCache("redis://127.0.0.1:1/0", ttl_seconds=60)  # nothing listens on port 1
        started = time.monotonic()
        for i in range(50):
            assert await cache.get(f"t{i}") is None
            await cache.invalidate(f"t{i}")
        assert time.monotonic() - started < 2
        assert cache._pending == {PREFIX + f"t{i}" for i in range(50)}
        await cache.close()

    asyncio.run(go())
