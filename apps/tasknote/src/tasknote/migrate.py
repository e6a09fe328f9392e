"""Versioned SQL migrations (migrations/NNNN_name.sql), applied in order under a PostgreSQL
advisory lock: a second `tasknote migrate` running at the same moment waits for the first, then
finds nothing left to do. Each file commits together with its row in schema_migrations."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from importlib import resources

import psycopg
from psycopg import sql

log = logging.getLogger(__name__)

# Any fixed 64-bit number works; it only has to be the same for every migrator.
LOCK_KEY = 0x7461736B6E6F7465  # "tasknote"
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def available() -> list[Migration]:
    found = []
    for entry in resources.files("tasknote.migrations").iterdir():
        m = _NAME.match(entry.name)
        if m:
            found.append(Migration(int(m.group(1)), m.group(2), entry.read_text(encoding="utf-8")))
    found.sort(key=lambda mig: mig.version)
    versions = [mig.version for mig in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"two migration files share a version number: {versions}")
    return found


def latest_version() -> int:
    migs = available()
    return migs[-1].version if migs else 0


def apply(database_url: str) -> list[int]:
    """Apply pending migrations; return the versions applied by this call."""
    applied_now: list[int] = []
    with psycopg.connect(database_url, autocommit=True, connect_timeout=10) as conn:
        # Session-level lock first, then the bookkeeping table: concurrent CREATE TABLE IF NOT
        # EXISTS can itself fail, so nothing happens before the lock is held.
        conn.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version integer PRIMARY KEY, name text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
            for mig in available():
                if mig.version in done:
                    continue
                with conn.transaction():
                    conn.execute(mig.sql.encode())  # bytes: several statements, no parameters
                    conn.execute(
                        "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                        (mig.version, mig.name),
                    )
                log.info("migration applied", extra={"fields": {"version": mig.version, "name": mig.name}})
                applied_now.append(mig.version)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))
    return applied_now


APP_GROUP = "tasknote_dml"  # made, and granted its DML, by migrations/0007_app_role.sql


def login_of(url: str) -> tuple[str, str]:
    """(user, password) of a postgresql:// URL; ValueError naming what is missing."""
    params = psycopg.conninfo.conninfo_to_dict(url)
    user, password = str(params.get("user") or ""), str(params.get("password") or "")
    if not user or not password:
        raise ValueError("APP_DATABASE_URL must name a user and a password "
                         "(postgresql://USER:PASSWORD@HOST:5432/DB)")
    return user, password


def ensure_app_role(database_url: str, app_url: str) -> str:
    """Make the app's login role exist with the URL's password, as a member of APP_GROUP and
    nothing more (no superuser, no CREATEDB/CREATEROLE). Runs as the owner after the migrations;
    returns the role's name. The password goes to the server as a SCRAM verifier computed here
    (libpq's PQencryptPasswordConn), never as plaintext a statement log could keep."""
    user, password = login_of(app_url)
    with psycopg.connect(database_url, autocommit=True, connect_timeout=10) as conn:
        owner = conn.execute("SELECT current_user").fetchone()
        if owner and owner[0] == user:
            raise ValueError(f"APP_DATABASE_URL names the owner role {user!r}; give the app its own role")
        verifier = conn.pgconn.encrypt_password(password.encode(), user.encode(), b"scram-sha-256").decode()
        conn.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
        try:
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (user,)).fetchone()
            verb = sql.SQL("ALTER") if exists else sql.SQL("CREATE")
            attributes = sql.SQL("LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS INHERIT")
            conn.execute(sql.SQL("{} ROLE {} {} PASSWORD {}").format(
                verb, sql.Identifier(user), attributes, sql.Literal(verifier)))
            conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(APP_GROUP), sql.Identifier(user)))
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))
    log.info("app role ready", extra={"fields": {"role": user, "member_of": APP_GROUP}})
    return user
