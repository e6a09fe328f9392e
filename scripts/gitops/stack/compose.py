"""The compose stack (apps/tasknote/compose.yaml): up with generated credentials, down, logs.

Every credential (the database owner's password and URL, the app role's URL, Redis's password
and ACL config) is a file in a 0700 directory on /dev/shm (RAM, never the disk, never argv or
an environment value a container shows), which compose bind-mounts read-only as secrets. A
stack whose directory exists keeps its credentials; otherwise fresh ones are generated and,
because an existing volume still holds the old owner password, it is set on the database role
over the container's local socket (stdin). The app role's password is set by `tasknote
migrate` on every start; Redis keeps nothing.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
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
APP_DB_USER = "tasknote_app"
REDIS_USER = "tasknote"
SECRETS_ROOT = Path("/dev/shm")  # noqa: S108 - RAM-backed on purpose: credentials never touch the disk
SECRET_FILES = ("db_owner_password", "owner_database_url", "app_database_url", "redis_url", "redis_conf")


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

    @property
    def secrets_dir(self) -> Path:
        return SECRETS_ROOT / f"tasknote-stack-{self.project}"

    def env(self, password: str | None = None) -> dict[str, str]:
        """What the compose process gets in its environment (the file interpolates these); no
        credential: those are files in secrets_dir."""
        return {"TASKNOTE_STACK": self.project, "TASKNOTE_API_PORT": str(self.port),
                "TASKNOTE_IMAGE": self.image, "TASKNOTE_SECRETS_DIR": str(self.secrets_dir),
                **self.service_images}


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


def credential_files(owner_password: str, app_password: str, redis_password: str) -> dict[str, str]:
    """The content of every secret file compose mounts (pure: the passwords are given)."""
    return {
        "db_owner_password": owner_password,
        "owner_database_url": f"postgresql://{DB_USER}:{owner_password}@db:5432/tasknote",
        "app_database_url": f"postgresql://{APP_DB_USER}:{app_password}@db:5432/tasknote",
        "redis_url": f"redis://{REDIS_USER}:{redis_password}@cache:6379/0",
        # Redis ACL (redis.io/docs/latest/operate/oss_and_stack/management/security/acl): no
        # anonymous default user, the app's user without the dangerous commands, and a user
        # that may only PING for the healthcheck. protected-mode is the default, said here.
        "redis_conf": "\n".join((
            "protected-mode yes", 'save ""', "appendonly no",
            "user default off",
            f"user {REDIS_USER} on >{redis_password} ~* &* +@all -@dangerous",
            "user healthcheck on nopass -@all +ping", "")),
    }


def write_credentials(directory: Path, files: Mapping[str, str]) -> None:
    """The directory 0700 (only this user reaches the files on the host); the files 0444 so the
    containers' own users (65532, 999) can read them through the read-only bind mounts."""
    directory.mkdir(mode=0o700, parents=False, exist_ok=True)
    os.chmod(directory, 0o700)
    for name, content in files.items():
        tmp = directory / f".{name}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o444)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(content)
        os.replace(tmp, directory / name)


def existing_password(stack: Stack) -> str | None:
    """The owner password of the stack's credentials, if they exist."""
    try:
        return (stack.secrets_dir / "db_owner_password").read_text(encoding="utf-8") or None
    except OSError:
        return None


def ensure_credentials(stack: Stack) -> tuple[str, bool]:
    """(owner password, whether it is new): the stack's credentials, generated when missing."""
    password = existing_password(stack)
    if password is not None and all((stack.secrets_dir / name).exists() for name in SECRET_FILES):
        return password, False
    password = secrets.token_urlsafe(24)
    write_credentials(stack.secrets_dir, credential_files(password, secrets.token_urlsafe(24),
                                                          secrets.token_urlsafe(24)))
    return password, True


def remove_credentials(stack: Stack) -> None:
    shutil.rmtree(stack.secrets_dir, ignore_errors=True)


@contextlib.contextmanager
def interpolation_env(stack: Stack) -> Iterator[dict[str, str]]:
    """The environment for a compose command that starts nothing (ps, logs, down): compose
    still needs the secret files named; without the stack's own, empty placeholders do."""
    if stack.secrets_dir.exists():
        yield stack.env()
        return
    placeholder = Path(tempfile.mkdtemp(prefix="tasknote-stack-none-", dir=SECRETS_ROOT))
    try:
        for name in SECRET_FILES:
            (placeholder / name).touch(mode=0o400)
        yield {**stack.env(), "TASKNOTE_SECRETS_DIR": str(placeholder)}
    finally:
        shutil.rmtree(placeholder, ignore_errors=True)


def compose(stack: Stack, *args: str, password: str | None = None, timeout: float = 300,
            check: bool = True) -> run.Result:
    """A compose command with the stack's environment (no credential in it)."""
    with interpolation_env(stack) as env:
        return run.run(stack.argv(*args), env=env, timeout=timeout, check=check)


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
    password, fresh = ensure_credentials(stack)
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
    with interpolation_env(stack) as env:
        run.stream(stack.argv(*args), env=env, timeout=180)
    if volumes:
        remove_credentials(stack)  # the data they opened is gone


def logs(stack: Stack, *, services: Sequence[str] = (), tail: int = 100, follow: bool = False) -> None:
    """Show (and with follow, keep showing) the services' logs; Ctrl-C ends a follow."""
    tools.docker_engine(stack.repo)
    args = ["logs", "--tail", str(tail), *(["--follow"] if follow else []), *services]
    with interpolation_env(stack) as env:
        run.stream(stack.argv(*args), env=env, timeout=7 * 24 * 3600 if follow else 120)
