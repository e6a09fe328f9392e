"""The resize queue against real PostgreSQL: exclusive claims, leases that survive SIGKILL,
exactly one set of variants, and dead-lettering of images that cannot be decoded."""

from __future__ import annotations

import io
import signal
import time

import psycopg
from PIL import Image
from tasknote import images, worker
from tasknote.settings import from_env


def seed_images(db_url: str, jpegs: list[bytes]) -> list[str]:
    """Insert tasks + images + jobs the way the API does (one transaction each)."""
    import asyncio
    import uuid

    from tasknote import store

    async def go() -> list[str]:
        ids = []
        async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
            for data in jpegs:
                tid = uuid.uuid4()
                await store.create_task(conn, tid, "t", None, "todo")
                info = images.probe(data)
                iid = uuid.uuid4()
                await store.add_image(conn, tid, iid, info.content_type, data, info.width, info.height, 5)
                ids.append(str(iid))
        return ids

    return asyncio.run(go())


def job_states(db_url: str) -> list[tuple]:  # type: ignore[type-arg]
    with psycopg.connect(db_url) as conn:
        return conn.execute(
            "SELECT image_id::text, status, attempts, worker FROM jobs ORDER BY id"
        ).fetchall()


def variant_counts(db_url: str) -> dict[str, int]:
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            "SELECT image_id::text, count(*) FROM image_variants GROUP BY image_id"
        ).fetchall()
    return {r[0]: r[1] for r in rows}


def test_two_workers_never_process_the_same_job(tn, db_url, start_worker):
    ids = seed_images(db_url, [tn.jpeg_bytes(2400, 1600) for _ in range(60)])
    a = start_worker(db_url, "a")
    b = start_worker(db_url, "b")
    tn.wait_until(lambda: all(s == "done" for _, s, _, _ in job_states(db_url)), 120, "all jobs done")
    states = job_states(db_url)
    assert all(attempts == 1 for _, _, attempts, _ in states), "a job was claimed twice"
    assert len({w for *_, w in states}) == 2, "both workers took part"
    assert variant_counts(db_url) == dict.fromkeys(ids, 3)
    for proc in (a, b):
        proc.signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    done_lines = [line for p in (a, b) for line in p.output().splitlines() if '"job done"' in line]
    processed = [line.split('"image":"')[1].split('"')[0] for line in done_lines]
    assert sorted(processed) == sorted(ids), "each job was processed by exactly one worker, once"


def test_concurrent_claims_are_exclusive(db_url, tn):
    seed_images(db_url, [tn.jpeg_bytes(64, 64) for _ in range(5)])
    conns = [psycopg.connect(db_url, autocommit=True) for _ in range(6)]
    try:
        claims = [worker.claim(c, f"w{i}", 60) for i, c in enumerate(conns)]
    finally:
        for c in conns:
            c.close()
    got = [c.job_id for c in claims if c is not None]
    assert len(got) == 5 and len(set(got)) == 5
    assert claims.count(None) == 1


def test_a_lost_lease_cannot_complete_and_no_duplicate_variants(db_url, tn):
    [image_id] = seed_images(db_url, [tn.jpeg_bytes(800, 600)])
    with psycopg.connect(db_url, autocommit=True) as c1, psycopg.connect(db_url, autocommit=True) as c2:
        first = worker.claim(c1, "slow", 0.2)
        assert first is not None
        assert worker.claim(c2, "fast", 60) is None, "a live lease is not claimable"
        time.sleep(0.5)
        second = worker.claim(c2, "fast", 60)
        assert second is not None and second.job_id == first.job_id and second.attempts == 2
        variants = images.make_variants(bytes(c1.execute("SELECT data FROM images").fetchone()[0]))
        assert worker.complete(c1, first, variants) is False, "the expired holder must not complete"
        assert worker.complete(c2, second, variants) is True
        assert worker.complete(c2, second, variants) is False, "a done job cannot complete twice"
    assert variant_counts(db_url) == {image_id: 3}


def slow_png(side: int) -> bytes:
    """Noise PNG: no reduced-scale decode, so resizing it takes long enough to kill the worker
    in the middle of it."""
    import os

    img = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
    buf = io.BytesIO()
    img.save(buf, "PNG", compress_level=1)
    return buf.getvalue()


def test_worker_sigkilled_mid_job_loses_nothing(db_url, tn, start_worker):
    [image_id] = seed_images(db_url, [slow_png(4000)])
    victim = start_worker(db_url, "victim", WORKER_LEASE_SECONDS="2")

    def running() -> bool:
        return any(s == "running" for _, s, _, _ in job_states(db_url))

    tn.wait_until(running, 30, "the worker to claim the job", interval=0.005)
    victim.signal(signal.SIGKILL)
    victim.wait(10)
    [(_, status, attempts, who)] = job_states(db_url)
    assert status == "running" and attempts == 1, "killed while the job was in progress"
    assert variant_counts(db_url) == {}

    rescuer = start_worker(db_url, "rescuer")
    tn.wait_until(
        lambda: job_states(db_url)[0][1] == "done", 60, "the job to complete after the lease expired"
    )
    [(_, status, attempts, who)] = job_states(db_url)
    assert attempts == 2 and who.endswith(str(rescuer.popen.pid))
    assert variant_counts(db_url) == {image_id: 3}
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT status FROM images").fetchone() == ("done",)


def test_undecodable_image_is_dead_lettered(db_url, tn, start_worker):
    good = tn.jpeg_bytes(640, 480)
    truncated = good[: len(good) // 3]  # a valid header, so the API accepts it; decoding fails
    [image_id] = seed_images(db_url, [truncated])
    start_worker(db_url, "w")
    tn.wait_until(lambda: job_states(db_url)[0][1] == "dead", 30, "the job to be dead-lettered")
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT status FROM images").fetchone() == ("failed",)
        (error,) = conn.execute("SELECT last_error FROM jobs").fetchone()
    assert "cannot decode" in error
    assert variant_counts(db_url) == {}
    assert image_id


def test_a_job_whose_worker_keeps_dying_is_dead_lettered(db_url, tn):
    seed_images(db_url, [tn.jpeg_bytes(64, 64)])
    settings = from_env({"DATABASE_URL": db_url, "WORKER_MAX_ATTEMPTS": "2"})
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("UPDATE jobs SET max_attempts = 2")
        for _ in range(2):  # two claims whose workers "died": leases left to expire
            assert worker.claim(conn, "dies", 0.05) is not None
            time.sleep(0.1)
        assert worker.process_one(conn, "next", settings) == "dead"
        assert conn.execute("SELECT status FROM jobs").fetchone() == ("dead",)
        assert conn.execute("SELECT status FROM images").fetchone() == ("failed",)


def test_heartbeat_healthcheck(tmp_path, db_url, tn, start_worker):
    hb = tmp_path / "w.hb"
    assert tn.run_cli(["healthcheck", "--heartbeat", str(hb)], {}).returncode == 1
    proc = start_worker(db_url, "w")
    tn.wait_until(hb.exists, 20, "the heartbeat file")
    assert tn.run_cli(["healthcheck", "--heartbeat", str(hb)], {}).returncode == 0
    proc.signal(signal.SIGTERM)
    assert proc.wait(10) == 0
    import os

    old = time.time() - 120
    os.utime(hb, (old, old))
    assert tn.run_cli(["healthcheck", "--heartbeat", str(hb), "--max-age", "60"], {}).returncode == 1


def test_a_transient_failure_is_retried_after_a_backoff(db_url, tn):
    seed_images(db_url, [tn.jpeg_bytes(64, 64)])
    with psycopg.connect(db_url, autocommit=True) as conn:
        job = worker.claim(conn, "w", 60)
        assert job is not None
        assert worker.fail(conn, job, "OSError: disk hiccup", permanent=False) == "retry"
        status, attempts, wait = conn.execute(
            "SELECT status, attempts, extract(epoch FROM run_after - now()) FROM jobs"
        ).fetchone()
        assert (status, attempts) == ("queued", 1)
        assert 1.0 < float(wait) <= 2.0, "first retry waits backoff_seconds(1) = 2 s"
        assert worker.claim(conn, "w", 60) is None, "not due yet"
        conn.execute("UPDATE jobs SET run_after = now()")
        again = worker.claim(conn, "w", 60)
        assert again is not None and again.attempts == 2
        assert worker.fail(conn, job, "late", permanent=False) == "lost", "an old claim cannot touch it"
