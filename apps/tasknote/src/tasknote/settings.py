"""Configuration comes only from the environment and is checked once, at start-up: a bad value
stops the process with one sentence per bad value, instead of failing later under load."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


class SettingsError(Exception):
    """Every bad value, one line each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Settings:
    database_url: str
    redis_url: str
    log_level: str
    feature_beta: bool
    max_upload_bytes: int
    host: str
    port: int
    db_pool_max: int
    cache_ttl_seconds: int
    worker_lease_seconds: float
    worker_max_attempts: int
    worker_poll_seconds: float
    graceful_timeout_seconds: float
    idempotency_ttl_seconds: int
    app_database_url: str = ""
    upload_slots: int = 0
    scratch_dir: str = ""
    decode_budget_bytes: int = 0


N = TypeVar("N", int, float)


def _number(convert: Callable[[str], N], lo: N, hi: N, expected: str) -> Callable[[str, str], N]:
    """One parser for both kinds; `expected` is the sentence's middle, e.g. "an integer between 1
    and 64", so a value that does not convert and one out of range read the same."""
    def parse(name: str, raw: str) -> N:
        try:
            value: N | None = convert(raw)
        except ValueError:
            value = None
        if value is None or not lo <= value <= hi:
            raise ValueError(f"{name} must be {expected}; got {raw!r}")
        return value

    return parse


def _int(lo: int, hi: int) -> Callable[[str, str], int]:
    return _number(int, lo, hi, f"an integer between {lo} and {hi}")


def _float(lo: float, hi: float) -> Callable[[str, str], float]:
    return _number(float, lo, hi, f"a number between {lo:g} and {hi:g}")


def _bool(name: str, raw: str) -> bool:
    low = raw.strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise ValueError(f"{name} must be one of true, false, 1, 0; got {raw!r}")


def _level(name: str, raw: str) -> str:
    up = raw.strip().upper()
    if up not in LOG_LEVELS:
        raise ValueError(f"{name} must be one of {', '.join(LOG_LEVELS)}; got {raw!r}")
    return up


def _url(*schemes: str, required: bool) -> Callable[[str, str], str]:
    def parse(name: str, raw: str) -> str:
        raw = raw.strip()
        if not raw:
            if required:
                raise ValueError(f"{name} is required (e.g. {schemes[0]}://HOST:PORT/...)")
            return ""
        scheme = raw.split("://", 1)[0] if "://" in raw else ""
        if scheme not in schemes:
            # Never echo the value: a URL may carry a password.
            raise ValueError(f"{name} must be a URL starting with {' or '.join(s + '://' for s in schemes)}")
        return raw

    return parse


def _text(name: str, raw: str) -> str:
    return raw


# env name -> (field, default, parser)
_SPEC: dict[str, tuple[str, str, Callable[[str, str], Any]]] = {
    "DATABASE_URL": ("database_url", "", _url("postgresql", "postgres", required=True)),
    "REDIS_URL": ("redis_url", "", _url("redis", "rediss", "unix", required=False)),
    "LOG_LEVEL": ("log_level", "INFO", _level),
    "FEATURE_BETA": ("feature_beta", "false", _bool),
    "MAX_UPLOAD_BYTES": ("max_upload_bytes", str(10 * 1024 * 1024), _int(1, 1024**3)),
    "HOST": ("host", "0.0.0.0", _text),  # noqa: S104 - a container listens on all its interfaces
    "PORT": ("port", "8000", _int(1, 65535)),
    "DB_POOL_MAX": ("db_pool_max", "10", _int(1, 200)),
    "CACHE_TTL_SECONDS": ("cache_ttl_seconds", "60", _int(1, 86400)),
    "WORKER_LEASE_SECONDS": ("worker_lease_seconds", "60", _float(1, 3600)),
    "WORKER_MAX_ATTEMPTS": ("worker_max_attempts", "5", _int(1, 100)),
    "WORKER_POLL_SECONDS": ("worker_poll_seconds", "1", _float(0.05, 60)),
    "GRACEFUL_TIMEOUT_SECONDS": ("graceful_timeout_seconds", "20", _float(0, 600)),
    # How long a stored Idempotency-Key response is replayed (published in the README).
    "IDEMPOTENCY_TTL_SECONDS": ("idempotency_ttl_seconds", str(24 * 3600), _int(60, 30 * 86400)),
    # `tasknote migrate` only: the login role the API, worker and summary use; migrate (as the
    # owner) makes it exist with this password and grants it the app's DML (see migrate.py).
    "APP_DATABASE_URL": ("app_database_url", "", _url("postgresql", "postgres", required=False)),
    # 0: derived from the container's memory limit (limits.upload_slots / limits.decode_budget).
    "UPLOAD_SLOTS": ("upload_slots", "0", _int(0, 1024)),
    "DECODE_BUDGET_BYTES": ("decode_budget_bytes", "0", _int(0, 64 * 1024**3)),
    # Disk-backed directory where uploads are streamed before they go to PostgreSQL; empty:
    # the system's temporary directory.
    "SCRATCH_DIR": ("scratch_dir", "", _text),
}
# Credentials may come from a file instead (NAME_FILE=/path, e.g. a mounted Secret), so they are
# not in the process environment that `docker inspect` and /proc/<pid>/environ show.
FILE_VARIABLES = ("DATABASE_URL", "REDIS_URL", "APP_DATABASE_URL")


def _from_files(env: Mapping[str, str], problems: list[str]) -> dict[str, str]:
    """NAME from the file NAME_FILE names, for each of FILE_VARIABLES that has one (trailing
    newline dropped); setting both NAME and NAME_FILE is an error, never a silent choice."""
    values: dict[str, str] = {}
    for name in FILE_VARIABLES:
        path = env.get(name + "_FILE", "")
        if not path:
            continue
        if env.get(name):
            problems.append(f"{name} and {name}_FILE are both set; set only one")
            continue
        try:
            with open(path, encoding="utf-8") as fh:
                values[name] = fh.read().rstrip("\r\n")
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or type(exc).__name__
            problems.append(f"{name}_FILE names {path!r}, which cannot be read ({reason})")
    return values


def from_env(env: Mapping[str, str] | None = None) -> Settings:
    """Parse every variable; collect all problems so one run names every bad value."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    problems: list[str] = []
    from_files = _from_files(env, problems)
    for name, (field, default, parse) in _SPEC.items():
        raw = from_files.get(name, env.get(name, default))
        try:
            values[field] = parse(name, raw)
        except ValueError as exc:
            problems.append(str(exc))
    if problems:
        raise SettingsError(problems)
    return Settings(**values)
