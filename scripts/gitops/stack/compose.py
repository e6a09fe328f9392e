"""The compose stack (apps/tasknote/compose.yaml): up with a generated password, down, logs.

POSTGRES_PASSWORD reaches docker compose through its environment only (never argv, never a
file). A stack whose db container exists keeps that container's password (read from the
engine, held in memory); otherwise a fresh one is generated and, because an existing volume
still holds the old one, set on the database role over the container's local socket (stdin).
"""

from __future__ import annotations

import json
import secrets
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from gitops.core import run, tools
from gitops.core.errors import GitOpsError
from gitops.core.repo import Repo
from gitops.images import app, base_pins

DEFAULT_PROJECT = app.STACK_PROJECT
DEFAULT_PORT = app.STACK_PORT
DB_USER = "tasknote"
LONG_RUNNING = ("db", "cache", "api", "worker")
ONE_SHOT = ("migrate",)
PASSWORD_VAR = "POSTGRES_PASSWORD"  # noqa: S105  # the variable's name, not a value


@dataclass(frozen=True)
class Stack:
    repo: Repo
    project: str = DEFAULT_PROJECT
    port: int = DEFAULT_PORT
    image: str = app.IMAGE_TAG
    # POSTGRES_IMAGE override for an air-gapped stand-in (gitops.images.base_pins); set by up().
    service_images: dict[str, str] = field(default_factory=dict)

    @property
    def compose_file(self) -> Path:
        return self.repo.app / "compose.yaml"

    def __post_init__(self) -> None:
        if not 1 <= int(self.port) <= 65535:
            raise GitOpsError(f"--port {self.port} is not a TCP port; pass one from 1 to 65535.")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def argv(self, *args: str) -> list[str]:
        return ["docker", "compose", "-f", str(self.compose_file), "-p", self.project, *args]

    def env(self, password: str) -> dict[str, str]:
        """What the compose process gets in its environment (the file interpolates these)."""
        return {PASSWORD_VAR: password, "TASKNOTE_STACK": self.project,
                "TASKNOTE_API_PORT": str(self.port), "TASKNOTE_IMAGE": self.image, **self.service_images}


@dataclass(frozen=True)
class Service:
    name: str
    state: str  # created, running, restarting, exited, dead, ...
    health: str  # healthy, unhealthy, starting, or "" without a healthcheck
    exit_code: int

    def describe(self) -> str:
        if self.state == "exited":
            return f"exited {self.exit_code}"
        return f"{self.state}{f' ({self.health})' if self.health else ''}"


def parse_ps(text: str) -> dict[str, Service]:
    """`docker compose ps --format json`: one object per line (compose >= 2.21) or one array."""
    text = text.strip()
    if not text:
        return {}
    rows = json.loads(text) if text.startswith("[") else [json.loads(line) for line in text.splitlines()
                                                          if line.strip()]
    return {row["Service"]: Service(row["Service"], str(row.get("State", "")), str(row.get("Health", "")),
                                    int(row.get("ExitCode") or 0)) for row in rows}


@dataclass(frozen=True)
class Failure:
    """A service that cannot get healthy: its name (for its logs) and the one-sentence reason."""

    service: str
    message: str


def assess(services: Mapping[str, Service]) -> tuple[bool, Failure | None]:
    """(every service where it should be, the failure if one cannot get there)."""
    for name in ONE_SHOT:
        svc = services.get(name)
        if svc and svc.state == "exited" and svc.exit_code != 0:
            return False, Failure(name, f"the {name} service exited with code {svc.exit_code}")
    for name in LONG_RUNNING:
        svc = services.get(name)
        if svc and (svc.state in ("exited", "dead", "restarting") or svc.health == "unhealthy"):
            return False, Failure(name, f"the {name} service is {svc.describe()}")
    done = all(name in services and services[name].state == "running"
               and services[name].health == "healthy" for name in LONG_RUNNING) and all(
        name in services and services[name].state == "exited" for name in ONE_SHOT)
    return done, None


def password_from_env(lines: Sequence[str]) -> str | None:
    prefix = PASSWORD_VAR + "="
    return next((line[len(prefix):] for line in lines if line.startswith(prefix)), None) or None


def existing_password(stack: Stack) -> str | None:
    """The password the stack's db container was created with, if that container exists."""
    ids = project_containers(stack, service="db")
    if not ids:
        return None
    env = run.run(["docker", "inspect", "--format", "{{json .Config.Env}}", ids[0]], timeout=30)
    return password_from_env(json.loads(env.stdout))


def compose(stack: Stack, *args: str, password: str | None = None, timeout: float = 300,
            check: bool = True) -> run.Result:
    """A compose command that reads no password still needs one to interpolate the file."""
    return run.run(stack.argv(*args), env=stack.env(password or secrets.token_urlsafe(16)),
                   timeout=timeout, check=check)


def service_states(stack: Stack, password: str | None = None) -> dict[str, Service]:
    return parse_ps(compose(stack, "ps", "--all", "--format", "json", password=password, timeout=30).stdout)


def logs_tail(stack: Stack, service: str, lines: int = 15) -> str:
    result = compose(stack, "logs", "--no-color", "--tail", str(lines), service, timeout=30, check=False)
    return run.tail(result.stdout + result.stderr, lines)


def failed(stack: Stack, failure: Failure) -> GitOpsError:
    """The error for a service that cannot get healthy, with its last log lines."""
    return GitOpsError(f"{failure.message}; its last log lines:\n{logs_tail(stack, failure.service)}")


def role_password_command(stack: Stack, password: str) -> tuple[list[str], dict[str, str], str]:
    """(argv, environment, stdin) of the psql call that sets the role's password."""
    literal = password.replace("'", "''")
    # psql reads the statement from stdin, so the password is in no argv and no process list.
    argv = stack.argv("exec", "-T", "db", "psql", "-v", "ON_ERROR_STOP=1", "--no-psqlrc", "-q",
                      "-U", DB_USER, "-d", "postgres")
    return argv, stack.env(password), f"ALTER ROLE {DB_USER} PASSWORD '{literal}';\n"


def set_role_password(stack: Stack, password: str) -> None:
    """Make the database role's password the one this run generated (the volume may be older);
    over the container's trusted local socket, the statement on stdin."""
    argv, env, statement = role_password_command(stack, password)
    run.run(argv, env=env, input_text=statement, timeout=60)


def wait_healthy(stack: Stack, password: str, timeout_s: float, progress: Callable[[str], None],
                 poll_s: float = 1.0) -> dict[str, Service]:
    """Poll the services until all are healthy (migrate exited 0); print each change of state."""
    started = time.monotonic()
    seen: dict[str, str] = {}
    while True:
        current = service_states(stack, password)
        elapsed = time.monotonic() - started
        for name in (*LONG_RUNNING, *ONE_SHOT):
            state = current[name].describe() if name in current else "not created"
            if seen.get(name) != state:
                progress(f"  {name:<8} {state:<22} {elapsed:5.1f} s")
                seen[name] = state
        done, failure = assess(current)
        if failure:
            raise failed(stack, failure)
        if done:
            return current
        if elapsed > timeout_s:
            waiting = ", ".join(f"{n} {s}" for n, s in seen.items()
                                if not (s == "running (healthy)" or (n in ONE_SHOT and s == "exited 0")))
            raise GitOpsError(f"the stack was not healthy within {timeout_s:g} s (still waiting: {waiting}); "
                              f"see ./inv stack.logs.")
        time.sleep(poll_s)


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def project_containers(stack: Stack, service: str | None = None) -> list[str]:
    """Ids of the project's containers (any state), or of one service's."""
    argv = ["docker", "ps", "-aq", "--filter", f"label=com.docker.compose.project={stack.project}"]
    if service is not None:
        argv += ["--filter", f"label=com.docker.compose.service={service}"]
    return run.run(argv, timeout=30).stdout.split()


def up(stack: Stack, *, build: bool = True, timeout_s: float = 300,
       progress: Callable[[str], None] = print) -> dict[str, Service]:
    """Build the image (unless build=False), start every service and wait until all are healthy."""
    tools.docker_engine(stack.repo)
    # Another stack (or program) on the port would fail compose half-way; say so before building.
    if not project_containers(stack) and not port_free(stack.port):
        raise GitOpsError(f"port {stack.port} on 127.0.0.1 is already in use; pass --port with a free one "
                          f"(and --project to run a second stack).")

    stack = replace(stack, service_images=base_pins.standin_overrides(base_pins.COMPOSE_VARS))
    if build:
        progress(f"building {stack.image}")
        app.build(stack.repo, app.local_spec(stack.repo, tag=stack.image))
    else:
        app.inspect(stack.image)  # a missing image is one sentence, not a compose pull error
    password = existing_password(stack)
    fresh = password is None
    password = password or secrets.token_urlsafe(24)
    if fresh:
        # The role's password lives in the volume: align it before the app services connect.
        progress("starting db and cache with a new generated password")
        run.stream(stack.argv("up", "-d", "--no-build", "--wait", "db", "cache"), env=stack.env(password),
                   timeout=timeout_s)
        set_role_password(stack, password)
    progress(f"starting the {stack.project} stack")
    try:
        run.stream(stack.argv("up", "-d", "--no-build", "--remove-orphans"), env=stack.env(password),
                   timeout=timeout_s)
    except run.CommandError:
        _, failure = assess(service_states(stack, password))
        if failure:
            raise failed(stack, failure) from None
        raise
    return wait_healthy(stack, password, timeout_s, progress)


def down(stack: Stack, *, volumes: bool = False) -> None:
    """Stop and remove the stack's containers and network (and its database volume with volumes)."""
    tools.docker_engine(stack.repo)
    args = ["down", "--remove-orphans", "--timeout", "20", *(["--volumes"] if volumes else [])]
    run.stream(stack.argv(*args), env=stack.env(secrets.token_urlsafe(16)), timeout=180)


def logs(stack: Stack, *, services: Sequence[str] = (), tail: int = 100, follow: bool = False) -> None:
    """Show (and with follow, keep showing) the services' logs; Ctrl-C ends a follow."""
    tools.docker_engine(stack.repo)
    args = ["logs", "--tail", str(tail), *(["--follow"] if follow else []), *services]
    run.stream(stack.argv(*args), env=stack.env(secrets.token_urlsafe(16)),
               timeout=7 * 24 * 3600 if follow else 120)
