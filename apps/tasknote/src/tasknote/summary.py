"""The daily summary: tasks per state (as of the run), created and completed on the day
(UTC). One row per day, upserted, so running it twice for a day leaves one row with the same
counts (the CronJob may retry or be re-run by hand)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

STATES = ("todo", "doing", "done")


def yesterday(now: datetime | None = None) -> date:
    now = now or datetime.now(UTC)
    return (now.astimezone(UTC) - timedelta(days=1)).date()


def write(database_url: str, day: date) -> dict[str, Any]:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    end = start + timedelta(days=1)
    with psycopg.connect(database_url, autocommit=True, connect_timeout=10) as conn, conn.transaction():
        # One scan, so every count comes from the same snapshot: two statements under READ
        # COMMITTED could each see a different set of committed writes and disagree.
        row = conn.execute(
            "SELECT count(*) FILTER (WHERE state = 'todo'), count(*) FILTER (WHERE state = 'doing'),"
            " count(*) FILTER (WHERE state = 'done'),"  # in the order of STATES
            " count(*) FILTER (WHERE created_at >= %(s)s AND created_at < %(e)s),"
            " count(*) FILTER (WHERE completed_at >= %(s)s AND completed_at < %(e)s) FROM tasks",
            {"s": start, "e": end},
        ).fetchone()
        assert row is not None  # an aggregate without GROUP BY always returns one row
        by_state = dict(zip(STATES, row[: len(STATES)], strict=True))
        created, completed = row[len(STATES)], row[len(STATES) + 1]
        conn.execute(
            "INSERT INTO daily_summaries (day, tasks_by_state, created, completed) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT (day) DO UPDATE SET tasks_by_state = EXCLUDED.tasks_by_state,"
            " created = EXCLUDED.created, completed = EXCLUDED.completed, computed_at = now()",
            (day, Jsonb(by_state), created, completed),
        )
    return {"day": day.isoformat(), "tasks_by_state": by_state, "created": created, "completed": completed}
