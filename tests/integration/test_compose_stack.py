"""The compose stack comes up healthy through `compose.up` and passes the shared smoke suite, the
same run_smoke(repo, None) path `./inv smoke --target compose` takes; then `compose.down --volumes`
leaves nothing behind (asserted in the fixture's teardown)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from gitops.core import run
from gitops.stack import compose
from gitops.verify.smoke_targets import describe_report, run_smoke
from support.checkout import this_repo
from support.ports import free_port


@pytest.fixture(scope="module")
def compose_stack(tasknote_image: str) -> Iterator[compose.Stack]:
    """A stack of this run's own (project name and port), so it never meets another one."""
    up = compose.Stack(this_repo(), project=f"tasknote-it-{uuid.uuid4().hex[:8]}", port=free_port(),
                       image=tasknote_image)
    lines: list[str] = []
    before: list[str] = []
    try:
        compose.up(up, build=False, timeout_s=240, progress=lines.append)
        yield up
    finally:
        before = project_resources(up.project)
        compose.down(up, volumes=True)
    # Reached only when up and the tests went through: down --volumes leaves nothing behind
    # (checked on this stack rather than on a second one brought up just for it).
    assert before, "the stack had containers and volumes to remove"
    assert project_resources(up.project) == []


def project_resources(project: str) -> list[str]:
    label = f"label=com.docker.compose.project={project}"
    containers = run.run(["docker", "ps", "-aq", "--filter", label]).stdout.split()
    volumes = run.run(["docker", "volume", "ls", "-q", "--filter", label]).stdout.split()
    return containers + volumes


def test_every_service_is_healthy_and_migrate_completed(compose_stack: compose.Stack) -> None:
    services = compose.service_states(compose_stack)
    assert {n: s.describe() for n, s in services.items()} == {
        "db": "running (healthy)", "cache": "running (healthy)", "api": "running (healthy)",
        "worker": "running (healthy)", "migrate": "exited 0"}


def test_the_password_is_in_no_container_argv(compose_stack: compose.Stack) -> None:
    password = compose.existing_password(compose_stack)
    assert password
    ids = run.run(["docker", "ps", "-aq", "--filter",
                   f"label=com.docker.compose.project={compose_stack.project}"]).stdout.split()
    # db, cache, api, worker and the exited migrate: an empty list would pass the loop vacuously.
    assert len(ids) == 5, ids
    for cid in ids:
        # Not in argv, and not in the environment either: credentials are mounted files.
        shown = run.run(["docker", "inspect", "--format",
                         "{{json .Config.Cmd}} {{json .Args}} {{json .Config.Env}}", cid]).stdout
        assert password not in shown
        assert "@db:5432" not in shown and "@cache:6379" not in shown


def psql(stack: compose.Stack, role: str, statement: str) -> run.Result:
    """A statement as `role` over the db container's local socket (trusted there)."""
    return compose.compose(stack, "exec", "-T", "db", "psql", "-X", "-At", "-v", "ON_ERROR_STOP=1",
                           "-U", role, "-d", "tasknote", "-c", statement, check=False, timeout=60)


def test_the_app_connects_as_a_role_that_is_no_superuser_and_cannot_create_tables(
        compose_stack: compose.Stack) -> None:
    # Whom the running api and worker are connected as, from the server's own view.
    sessions = psql(compose_stack, "tasknote",
                    "SELECT DISTINCT a.usename, r.rolsuper FROM pg_stat_activity a"
                    " JOIN pg_roles r ON r.rolname = a.usename"
                    " WHERE a.backend_type = 'client backend' AND a.pid <> pg_backend_pid()")
    assert sessions.returncode == 0, sessions.stderr
    assert sessions.stdout.split() == [f"{compose.APP_DB_USER}|f"]
    create = psql(compose_stack, compose.APP_DB_USER, "CREATE TABLE intruder (id int)")
    assert create.returncode != 0
    assert "permission denied for schema public" in create.stderr
    # ... while the DML it needs works (and is rolled back).
    dml = psql(compose_stack, compose.APP_DB_USER,
               "BEGIN; INSERT INTO tasks (id, title) VALUES (gen_random_uuid(), 'x'); ROLLBACK")
    assert dml.returncode == 0, dml.stderr


def test_redis_refuses_anonymous_clients(compose_stack: compose.Stack) -> None:
    anonymous = compose.compose(compose_stack, "exec", "-T", "cache", "redis-cli", "ping", check=False,
                                timeout=30)
    said = anonymous.stdout + anonymous.stderr
    assert "PONG" not in said and ("NOAUTH" in said or "NOPERM" in said), said


def test_the_smoke_suite_passes_against_the_stack(compose_stack: compose.Stack,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASKNOTE_COMPOSE_URL", compose_stack.url)
    lines: list[str] = []
    report = run_smoke(this_repo(), None, timeout_s=120, progress=lines.append)  # None: the compose stack
    assert report.ok, describe_report(report) + "\n" + "\n".join(lines)
    assert len(report.outcomes) == 11


def test_up_again_keeps_the_running_stack_and_its_password(compose_stack: compose.Stack) -> None:
    before = compose.existing_password(compose_stack)
    compose.up(compose_stack, build=False, timeout_s=120, progress=lambda _line: None)
    assert compose.existing_password(compose_stack) == before
