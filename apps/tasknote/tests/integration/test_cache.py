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


def test_invalidations_made_while_redis_hangs_are_delivered_when_it_answers_again(tn):
    """While Redis hangs the cache answers "miss" without waiting on it again and again, and
    remembers invalidations; once Redis answers (with values from before the outage, planted
    below) those keys are deleted before anything is read, so no value older than a write the
    API acknowledged is served. Asserted only through the cache's public methods and Redis."""
    import socket

    import redis
    from testcontainers.core.container import DockerContainer

    port = tn.free_port()
    keys = [f"t{i}" for i in range(50)]

    async def outage(cache: TaskCache) -> None:
        for key in keys:
            assert await cache.get(key) is None
            await cache.invalidate(key)

    async def go() -> tuple[list[bytes | None], int]:
        cache = TaskCache(f"redis://127.0.0.1:{port}/0", ttl_seconds=60)
        # A listener that accepts and never answers: each attempt to use it costs the cache's
        # full socket timeout (0.25 s), so 100 attempts would take 25 s. The generous 10 s bound
        # holds only because one failure makes the cache skip Redis for a while.
        with socket.socket() as hung:
            hung.bind(("127.0.0.1", port))
            hung.listen(256)
            await asyncio.wait_for(outage(cache), timeout=10)
        container = DockerContainer(tn.redis_image)
        container.ports["6379/tcp"] = ("127.0.0.1", port)
        container.start()
        try:
            direct = redis.Redis(port=port, socket_timeout=1)
            tn.wait_until(direct.ping, 30, "Redis to answer PING")
            direct.mset({PREFIX + key: b"stale" for key in keys} | {PREFIX + "kept": b"kept"})
            # The first read the cache serves from Redis again is the sign it is back; it
            # delivers the remembered deletes before that read.
            deadline = asyncio.get_running_loop().time() + 30
            while await cache.get("kept") != b"kept":
                assert asyncio.get_running_loop().time() < deadline, "the cache never used Redis again"
                await asyncio.sleep(0.1)
            after = [await cache.get(key) for key in keys]
            left = int(direct.exists(*[PREFIX + key for key in keys]))
            await cache.close()
            return after, left
        finally:
            container.stop()

    after, left = asyncio.run(go())
    assert after == [None] * len(keys), "a value from before the outage was served"
    assert left == 0, "the invalidations remembered during the outage were delivered to Redis"
