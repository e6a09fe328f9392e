"""The resize worker: claims jobs from the PostgreSQL queue with a lease, makes the variants, and
stores them in the same transaction that marks the job done.

Why nothing is lost or doubled under SIGKILL:
- A claim is a committed UPDATE (status running, lease_until, a fresh lease_token). If the worker
  dies, the lease runs out and the job is claimable again; the claim counts the attempt.
- Completion re-checks, under a row lock, that this worker still holds the same lease_token; the
  variants, the image status and the job status commit together or not at all.
- image_variants has (image_id, size) as its primary key, so even a wrong completion could not
  store a second set.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import psycopg
from PIL import Image

from tasknote import images, limits
from tasknote.settings import Settings

log = logging.getLogger(__name__)

# A job is claimable when it is queued and due, or running with an expired lease (its worker died).
_CLAIM = """
WITH next AS (
    SELECT id FROM jobs
    WHERE status IN ('queued', 'running')  -- matches the partial index jobs_live
      AND ((status = 'queued' AND run_after <= now()) OR (status = 'running' AND lease_until < now()))
    ORDER BY run_after, id
    LIMIT 1
    FOR UPDATE SKIP LOCKED
)
UPDATE jobs j SET status = 'running', attempts = j.attempts + 1,
    -- j.status is the row before this UPDATE: 'running' here means its worker lost the lease.
    lost_leases = j.lost_leases + CASE WHEN j.status = 'running' THEN 1 ELSE 0 END,
    lease_until = now() + make_interval(secs => %(lease)s), lease_token = %(token)s,
    worker = %(worker)s, updated_at = now()
FROM next WHERE j.id = next.id
RETURNING j.id, j.image_id, j.attempts, j.max_attempts, j.lost_leases
"""
# A worker that died on the same job twice will die on it again: dead-letter at the third claim.
MAX_LOST_LEASES = 2

_OWNED = "SELECT 1 FROM jobs WHERE id = %s AND status = 'running' AND lease_token = %s FOR UPDATE"


@dataclass(frozen=True)
class Claim:
    job_id: int
    image_id: uuid.UUID
    attempts: int
    max_attempts: int
    token: uuid.UUID
    lost_leases: int = 0


def backoff_seconds(attempts: int) -> float:
    """2, 4, 8, ... seconds, capped at five minutes."""
    return float(min(300, 2 ** max(1, attempts)))


def claim(conn: psycopg.Connection, worker_id: str, lease_seconds: float) -> Claim | None:
    token = uuid.uuid4()
    with conn.transaction():
        row = conn.execute(_CLAIM, {"lease": lease_seconds, "token": token, "worker": worker_id}).fetchone()
    if row is None:
        return None
    return Claim(row[0], row[1], row[2], row[3], token, row[4])


def complete(conn: psycopg.Connection, job: Claim, variants: list[images.Variant]) -> bool:
    """Store the variants and mark the job done, atomically; False when our lease was lost."""
    with conn.transaction():
        if conn.execute(_OWNED, (job.job_id, job.token)).fetchone() is None:
            return False
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO image_variants (image_id, size, width, height, content_type, data)"
                " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (image_id, size) DO NOTHING",
                [(job.image_id, v.size, v.width, v.height, v.content_type, v.data) for v in variants],
            )
        conn.execute("UPDATE images SET status = 'done' WHERE id = %s", (job.image_id,))
        conn.execute(
            "UPDATE jobs SET status = 'done', lease_until = NULL, last_error = NULL, updated_at = now()"
            " WHERE id = %s", (job.job_id,),
        )
    return True


def fail(conn: psycopg.Connection, job: Claim, error: str, *, permanent: bool) -> str:
    """Retry later with backoff, or dead-letter (image failed) when attempts are used up."""
    dead = permanent or job.attempts >= job.max_attempts
    with conn.transaction():
        if conn.execute(_OWNED, (job.job_id, job.token)).fetchone() is None:
            return "lost"
        if dead:
            conn.execute("UPDATE jobs SET status = 'dead', lease_until = NULL, last_error = %s,"
                         " updated_at = now() WHERE id = %s", (error[:2000], job.job_id))
            conn.execute("UPDATE images SET status = 'failed' WHERE id = %s", (job.image_id,))
            return "dead"
        conn.execute(
            "UPDATE jobs SET status = 'queued', lease_until = NULL, last_error = %s, updated_at = now(),"
            " run_after = now() + make_interval(secs => %s) WHERE id = %s",
            (error[:2000], backoff_seconds(job.attempts), job.job_id),
        )
    return "retry"


def process_one(conn: psycopg.Connection, worker_id: str, settings: Settings,
                decode_budget: int | None = None) -> str | None:
    """Claim and handle one job; None when the queue has nothing due. An image whose decode
    would need more than decode_budget bytes is dead-lettered without being decoded."""
    job = claim(conn, worker_id, settings.worker_lease_seconds)
    if job is None:
        return None
    fields = {"job": job.job_id, "image": str(job.image_id), "attempt": job.attempts}
    if job.lost_leases >= MAX_LOST_LEASES:
        reason = (f"a worker died {job.lost_leases} times while processing this image (killed for "
                  f"memory or crashed in a decoder); not retried")
        outcome = fail(conn, job, reason, permanent=True)
        log.error("job dead-lettered", extra={"fields": {**fields, "outcome": outcome, "reason": reason}})
        return outcome
    if job.attempts > job.max_attempts:
        # Claimed again after its worker died on the last attempt (e.g. an image that crashes us).
        outcome = fail(conn, job, "attempts exhausted (worker lost during processing)", permanent=True)
        log.error("job dead-lettered", extra={"fields": {**fields, "outcome": outcome}})
        return outcome
    row = conn.execute("SELECT data FROM images WHERE id = %s", (job.image_id,)).fetchone()
    if row is None:  # the image (and its task) were deleted; the job row went with it
        return "gone"
    started = time.perf_counter()
    try:
        variants = images.make_variants(bytes(row[0]), decode_budget)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        outcome = fail(conn, job, f"cannot decode image: {exc}", permanent=True)
        log.error("image cannot be resized",
                  extra={"fields": {**fields, "outcome": outcome, "error": str(exc)}})
        return outcome
    except Exception as exc:
        outcome = fail(conn, job, f"{type(exc).__name__}: {exc}", permanent=False)
        log.exception("resize failed", extra={"fields": {**fields, "outcome": outcome}})
        return outcome
    if not complete(conn, job, variants):
        log.warning("lease lost before completion; another worker owns the job", extra={"fields": fields})
        return "lost"
    log.info("job done", extra={"fields": {**fields, "ms": round((time.perf_counter() - started) * 1000)}})
    return "done"


def touch(path: Path | None) -> None:
    if path is None:
        return
    try:
        path.touch()
    except OSError as exc:
        log.warning("cannot touch heartbeat file", extra={"fields": {"path": str(path), "error": str(exc)}})


def run(settings: Settings, heartbeat: Path | None, *, once: bool = False) -> int:
    """Loop until SIGTERM/SIGINT; a job in progress is finished first (SIGKILL is also safe)."""
    stop = False

    def on_signal(sig: int, frame: FrameType | None) -> None:
        nonlocal stop
        stop = True
        log.info("signal received; finishing the current job", extra={"fields": {"signal": sig}})

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    worker_id = f"{socket.gethostname()}:{os.getpid()}"
    budget = settings.decode_budget_bytes or limits.decode_budget(limits.memory_limit(),
                                                                  settings.max_upload_bytes)
    log.info("worker started", extra={"fields": {"worker": worker_id, "decode_budget_mib": budget >> 20}})
    conn: psycopg.Connection | None = None
    while not stop:
        touch(heartbeat)
        try:
            if conn is None or conn.closed:
                conn = psycopg.connect(settings.database_url, autocommit=True, connect_timeout=5)
            outcome = process_one(conn, worker_id, settings, budget)
        except psycopg.OperationalError as exc:
            log.warning("database unavailable; retrying", extra={"fields": {"error": str(exc).strip()[:200]}})
            if conn is not None:
                conn.close()
            conn = None
            _sleep(settings.worker_poll_seconds * 2, lambda: stop)
            continue
        if once and outcome is None:
            break
        if outcome is None:
            _sleep(settings.worker_poll_seconds, lambda: stop)
    if conn is not None:
        conn.close()
    log.info("worker stopped", extra={"fields": {"worker": worker_id}})
    return 0


def _sleep(seconds: float, stopped: object) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if callable(stopped) and stopped():
            return
        time.sleep(min(0.1, end - time.monotonic()) if end > time.monotonic() else 0)
