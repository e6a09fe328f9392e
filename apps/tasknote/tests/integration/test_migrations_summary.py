"""Migrations under concurrency and repetition; the daily summary's idempotence per day."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import date

import psycopg
from tasknote import migrate


def test_concurrent_and_repeated_migrations_are_safe(postgres, tn):
    url = postgres.empty_database()
    env = {**os.environ, "DATABASE_URL": url}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tasknote.cli", "migrate"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outputs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], [o[1][-500:] for o in outputs]
    applied = []
    for out, _ in outputs:
        for line in out.splitlines():
            doc = json.loads(line)
            if doc["msg"] == "migrations up to date":
                applied += doc["applied"]
    want = [m.version for m in migrate.available()]
    assert sorted(applied) == want, "each migration applied by exactly one of the runs"
    with psycopg.connect(url) as conn:
        versions = [r[0] for r in conn.execute("SELECT version FROM schema_migrations ORDER BY version")]
    assert versions == want
    again = tn.run_cli(["migrate"], {"DATABASE_URL": url}, check=True)
    assert '"applied":[]' in again.stdout


def test_summary_counts_the_previous_day_and_is_idempotent(db_url, tn):
    day = date(2026, 3, 10)
    with psycopg.connect(db_url) as conn:
        rows = [
            ("todo", "2026-03-10 01:00+00", None),
            ("doing", "2026-03-10 23:59+00", None),
            ("done", "2026-03-10 12:00+00", "2026-03-10 13:00+00"),
            ("done", "2026-03-09 12:00+00", "2026-03-10 00:00+00"),  # completed on the day, made before
            ("done", "2026-03-09 12:00+00", "2026-03-11 00:00+00"),  # completed the next day
            ("todo", "2026-03-11 00:00+00", None),  # the next day
        ]
        for state, created, completed in rows:
            conn.execute(
                "INSERT INTO tasks (id, title, state, created_at, completed_at) VALUES (%s, 't', %s, %s, %s)",
                (uuid.uuid4(), state, created, completed),
            )
    env = {"DATABASE_URL": db_url}
    tn.run_cli(["summary", "--day", day.isoformat()], env, check=True)
    tn.run_cli(["summary", "--day", day.isoformat()], env, check=True)
    with psycopg.connect(db_url) as conn:
        got = conn.execute("SELECT day, tasks_by_state, created, completed FROM daily_summaries").fetchall()
    assert got == [(day, {"todo": 2, "doing": 1, "done": 3}, 3, 2)]
    # Default day: yesterday (UTC); a second day is a second row.
    tn.run_cli(["summary"], env, check=True)
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM daily_summaries").fetchone() == (2,)


def test_cli_errors_are_one_sentence_without_a_traceback(tn):
    down = tn.run_cli(["migrate"], {"DATABASE_URL": f"postgresql://nobody@127.0.0.1:{tn.free_port()}/x"})
    assert down.returncode == 1
    assert "tasknote migrate: database error: connection failed" in down.stderr
    assert "Traceback" not in down.stderr + down.stdout
    bad = tn.run_cli(["api"], {"DATABASE_URL": "postgresql://h/db", "LOG_LEVEL": "chatty", "PORT": "http"})
    assert bad.returncode == 2
    prefix = "tasknote api: invalid configuration: "
    assert bad.stderr.splitlines() == [
        prefix + "LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR; got 'chatty'",
        prefix + "PORT must be an integer between 1 and 65535; got 'http'",
    ]
