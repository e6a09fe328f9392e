"""Least privilege against real PostgreSQL: `tasknote migrate` (as the owner) makes the app's
login from APP_DATABASE_URL; the API, worker and summary do all their work as that role; the
role is no superuser, cannot create or drop tables, and a second migrate changes its password."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime

import httpx
import psycopg
import pytest


def with_login(url: str, user: str, password: str) -> str:
    """The same server and database as `url`, as another user."""
    rest = url.split("@", 1)[1]
    return f"postgresql://{user}:{password}@{rest}"


def test_the_app_role_does_the_apps_work_and_nothing_more(tn, postgres, start_api, start_worker):
    owner_url = postgres.empty_database()
    user = "app_" + uuid.uuid4().hex[:8]
    app_url = with_login(owner_url, user, secrets.token_urlsafe(16))
    tn.run_cli(["migrate"], {"DATABASE_URL": owner_url, "APP_DATABASE_URL": app_url}, check=True)

    with psycopg.connect(app_url) as conn:
        row = conn.execute("SELECT rolsuper, rolcreaterole, rolcreatedb FROM pg_roles"
                           " WHERE rolname = current_user").fetchone()
        assert row == (False, False, False)
        for ddl in ("CREATE TABLE intruder (id int)", "DROP TABLE tasks",
                    "ALTER TABLE tasks ADD COLUMN x int"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(ddl)
            conn.rollback()

    # Everything the app does, as the app: create, upload, resize, update, the daily summary,
    # and delete (cascading to images, variants and jobs with the tables' owner's rights).
    api = start_api(app_url)
    start_worker(app_url)
    task = tn.new_task(api.base_url)
    image = tn.upload(api.base_url, task["id"], tn.jpeg_bytes(1500, 1000)).json()
    where = f"{api.base_url}/tasks/{task['id']}/images/{image['id']}"
    tn.wait_until(lambda: httpx.get(where).json()["status"] == "done", 30,
                  "the worker to resize the image as the app role")
    assert httpx.patch(f"{api.base_url}/tasks/{task['id']}", json={"state": "done"}).status_code == 200
    today = datetime.now(UTC).date().isoformat()
    tn.run_cli(["summary", "--day", today], {"DATABASE_URL": app_url}, check=True)
    assert httpx.delete(f"{api.base_url}/tasks/{task['id']}").status_code == 204
    with psycopg.connect(owner_url) as conn:
        assert conn.execute("SELECT count(*) FROM images").fetchone() == (0,)
        assert conn.execute("SELECT completed FROM daily_summaries").fetchone() == (1,)


def test_migrate_rotates_the_app_password_and_refuses_the_owner_as_the_app(tn, postgres):
    owner_url = postgres.empty_database()
    user = "app_" + uuid.uuid4().hex[:8]
    first, second = (with_login(owner_url, user, secrets.token_urlsafe(16)) for _ in range(2))
    tn.run_cli(["migrate"], {"DATABASE_URL": owner_url, "APP_DATABASE_URL": first}, check=True)
    tn.run_cli(["migrate"], {"DATABASE_URL": owner_url, "APP_DATABASE_URL": second}, check=True)
    with psycopg.connect(second) as conn:
        assert conn.execute("SELECT current_user").fetchone() == (user,)
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(first).close()
    same = tn.run_cli(["migrate"], {"DATABASE_URL": owner_url, "APP_DATABASE_URL": owner_url})
    assert same.returncode == 2
    assert "names the owner role 'tasknote'; give the app its own role" in same.stderr
    assert postgres.password not in same.stderr + same.stdout
