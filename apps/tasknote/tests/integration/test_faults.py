"""Faults against real processes: PostgreSQL restarted under a write load, Redis stopped, and
SIGTERM while requests are in flight (uvicorn as a real subprocess, real sockets)."""

from __future__ import annotations

import signal
import threading
import time
import uuid

import httpx
import psycopg


def postmaster_start(db_url: str) -> object:
    with psycopg.connect(db_url) as conn:
        return conn.execute("SELECT pg_postmaster_start_time()").fetchone()[0]  # type: ignore[index]


def test_postgres_restart_during_writes_loses_no_acknowledged_task(tn, db_url, postgres, start_api):
    api = start_api(db_url)
    acked: list[str] = []
    acked_at: list[float] = []  # time.monotonic() of each 201, same clock as pg_ready below
    other: list[int] = []
    errors: list[str] = []
    stop = threading.Event()

    retried: list[int] = []  # creates that needed more than one attempt
    prefix = f"load-{uuid.uuid4().hex[:8]}"  # this test's tasks, whatever else the database holds

    def create(client: httpx.Client, key: str) -> None:
        """One logical create as a careful client makes it: the same Idempotency-Key (and body)
        on every attempt until a 201, so an attempt that committed but whose answer was lost
        cannot become a second task."""
        attempts = 0
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            attempts += 1
            try:
                resp = client.post("/tasks", json={"title": f"{prefix} {key}"},
                                   headers={"Idempotency-Key": key})
            except httpx.TransportError as exc:  # the API itself must never drop us
                errors.append(repr(exc))
                return
            if resp.status_code == 201:
                acked.append(resp.json()["id"])
                acked_at.append(time.monotonic())
                if attempts > 1:
                    retried.append(attempts)
                return
            other.append(resp.status_code)
            time.sleep(0.05)
        errors.append(f"create {key} was never acknowledged")

    def writer() -> None:
        with httpx.Client(base_url=api.base_url, timeout=10) as client:
            while not stop.is_set():
                create(client, str(uuid.uuid4()))  # the API takes a UUID as the key

    # Requests that meet the outage either wait for the pool to reconnect (PostgreSQL is back
    # within the pool timeout) or get a 503 problem; none may get a 500 or a dropped connection.
    threads = [threading.Thread(target=writer) for _ in range(8)]
    for t in threads:
        t.start()
    try:
        tn.wait_until(lambda: len(acked) > 200, 30, "writes before the restart")
        started_before = postmaster_start(db_url)
        container = postgres.container.get_wrapped_container()
        container.kill()  # SIGKILL: crash recovery on start, not a clean shutdown
        killed_at = time.monotonic()
        # Down long enough for psycopg_pool's default backoff (1, 2, 4 s...) to leave a gap of
        # seconds after PostgreSQL is back: the reconnect cadence is what this measures.
        time.sleep(8)
        container.start()
        pg_ready = accepting_connections_at(db_url)
        before = len(acked)
        tn.wait_until(
            lambda: len(acked) > before + 200, 60, "writes to succeed again without restarting the API"
        )
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert postmaster_start(db_url) > started_before, "PostgreSQL really restarted"
    assert api.popen.poll() is None, "the API process survived"
    assert errors == []
    # 503 while it was down; 409 when a retry met its own first attempt still in flight.
    assert set(other) <= {503, 409}, f"only unavailable or in-flight answers, got {sorted(set(other))}"
    assert retried, "some creates met the outage and were retried with their key"
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT id, title FROM tasks WHERE title LIKE %s", (f"{prefix} %",)).fetchall()
    stored = {str(r[0]) for r in rows}
    missing = set(acked) - stored
    assert not missing, f"{len(missing)} acknowledged tasks are missing"
    # Every logical create was acknowledged exactly once and made exactly one task: a retry with
    # the same Idempotency-Key never makes a duplicate, even across the crash.
    assert len(acked) == len(set(acked)) == len(rows) == len({r[1] for r in rows})
    assert httpx.get(f"{api.base_url}/ready").status_code == 200
    # Recovery is measured from the moment PostgreSQL accepted a connection again (polled every
    # 50 ms by this process), not from a sleep: the first 201 after the kill comes within 2 s.
    first_2xx = min(t for t in acked_at if t > killed_at)
    assert first_2xx - pg_ready < 2.0, f"first 2xx {first_2xx - pg_ready:.2f} s after PostgreSQL was ready"


def accepting_connections_at(db_url: str, timeout: float = 60) -> float:
    """time.monotonic() of the first successful connection (and query), polled every 50 ms."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with psycopg.connect(db_url, connect_timeout=1) as conn:
                conn.execute("SELECT 1")
            return time.monotonic()
        except psycopg.OperationalError:
            time.sleep(0.05)
    raise AssertionError(f"PostgreSQL did not accept connections within {timeout:g} s of its start")


def test_redis_stopped_reads_stay_correct_and_ready(tn, db_url, redis_server, start_api):
    api = start_api(db_url, redis_server.url)
    b = api.base_url
    task = tn.new_task(b, "before")
    assert httpx.get(f"{b}/tasks/{task['id']}").json()["title"] == "before"  # now cached
    assert httpx.get(f"{b}/tasks/{task['id']}").json()["title"] == "before"
    assert 'tasknote_cache_lookups_total{result="hit"} 1.0' in httpx.get(f"{b}/metrics").text

    # Invalidation on write, with Redis up.
    httpx.patch(f"{b}/tasks/{task['id']}", json={"title": "second"})
    assert httpx.get(f"{b}/tasks/{task['id']}").json()["title"] == "second"

    container = redis_server.container.get_wrapped_container()
    container.stop(timeout=1)
    try:
        # A dead cache must not cost seconds per request: every request below gets 2 s, a
        # generous bound (the cache's socket timeout is 0.25 s and after one failure it skips
        # Redis for a while); a request that hangs on Redis fails with a ReadTimeout.
        with httpx.Client(base_url=b, timeout=2) as client:
            assert client.patch(f"/tasks/{task['id']}", json={"title": "during"}).status_code == 200
            for _ in range(20):
                assert client.get(f"/tasks/{task['id']}").json()["title"] == "during"
            created = client.post("/tasks", json={"title": "new while down"})
            assert created.status_code == 201, created.text
            other = created.json()
            assert client.get(f"/tasks/{other['id']}").json()["title"] == "new while down"
            assert client.get(f"/tasks/{uuid.uuid4()}").status_code == 404
            assert client.get("/ready").status_code == 200
    finally:
        container.start()
    import redis

    tn.wait_until(lambda: redis.Redis(port=redis_server.port, socket_timeout=1).ping(), 30, "Redis back")
    time.sleep(2.5)  # past the cache's back-off, so the next requests use Redis again
    # Redis may have kept "second" on disk; the write acknowledged while it was down must win.
    for _ in range(3):
        assert httpx.get(f"{b}/tasks/{task['id']}").json()["title"] == "during"
    assert httpx.get(f"{b}/tasks/{other['id']}").json()["title"] == "new while down"


def slow_upload_body(jpeg: bytes, seconds: float) -> tuple[bytes, bytes, object]:
    boundary = "tasknote-test-boundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n'
        f"Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    body = head + jpeg + tail
    chunks = [body[i : i + 1024] for i in range(0, len(body), 1024)]
    pause = seconds / len(chunks)

    def gen():  # type: ignore[no-untyped-def]
        for chunk in chunks:
            time.sleep(pause)
            yield chunk

    return body, f"multipart/form-data; boundary={boundary}".encode(), gen


def test_sigterm_with_requests_in_flight(tn, db_url, start_api):
    """Shutdown is uvicorn's own. In Kubernetes the pod's preStop sleep has already taken it out
    of the Service when SIGTERM arrives, so new requests have stopped: the load below stops
    first, as a load balancer would. What is still in flight (three slow uploads) must complete
    normally, and the process must then leave on its own after a clean lifespan shutdown."""
    api = start_api(db_url)
    b = api.base_url
    tid = tn.new_task(b)["id"]
    endpoint_removed = threading.Event()
    statuses: list[int] = []
    failures: list[str] = []

    def load() -> None:
        with httpx.Client(base_url=b, timeout=30) as client:
            while not endpoint_removed.is_set():
                try:
                    statuses.append(client.post("/tasks", json={"title": "x"}).status_code)
                    statuses.append(client.get(f"/tasks/{tid}").status_code)
                except httpx.TransportError as exc:
                    failures.append(repr(exc))

    def slow_upload() -> None:
        body, ctype, gen = slow_upload_body(tn.jpeg_bytes(), 3.0)
        try:
            resp = httpx.post(
                f"{b}/tasks/{tid}/images",
                content=gen(),
                timeout=30,  # type: ignore[operator]
                headers={"content-type": ctype.decode(), "content-length": str(len(body))},
            )
            statuses.append(resp.status_code)
        except httpx.TransportError as exc:
            failures.append(repr(exc))

    loaders = [threading.Thread(target=load) for _ in range(12)]
    uploads = [threading.Thread(target=slow_upload) for _ in range(3)]
    for t in [*loaders, *uploads]:
        t.start()
    time.sleep(0.8)  # uploads are under way, load is running
    endpoint_removed.set()
    for t in loaders:
        t.join(30)
    api.signal(signal.SIGTERM)  # the uploads are still sending their bodies
    # Bounded shutdown without a wall-clock assert: the ~3 s uploads fit in this wait many times
    # over; a server that hangs raises TimeoutExpired here.
    code = api.wait(20)
    for t in uploads:
        t.join(30)
    assert failures == [], failures[:3]
    assert len(statuses) > 50, "the load ran"
    assert statuses.count(202) == 3, "the slow uploads in flight completed"
    assert all(200 <= s < 300 for s in statuses), sorted(set(statuses))
    # uvicorn re-raises the signal it shut down for once the shutdown is done (uvicorn/server.py,
    # capture_signals), so the process ends by SIGTERM, after the lifespan closed the pool.
    assert code == -signal.SIGTERM, api.output()[-2000:]
    assert "api stopped" in api.output(), api.output()[-2000:]
