"""API throughput: wrk on loopback against GET /tasks/{id} and POST /tasks, beside pgbench
running the equivalent SQL on the same database in the same run (the reference: what the
database alone does for the same work on this machine). Prints rps, p99 and API/pgbench.

    .venv/bin/python bench/api_throughput.py [--duration 10] [--connections 64] [--no-redis]

Target (issue 15): one API process (scale is replicas, not processes), no routing bypass;
GET >= 0.2x pgbench's tps and GET p99 <= 2x pgbench's p99, with and without Redis.
Needs: docker with the air-gapped postgres:17-trixie / redis:8-trixie, wrk and pgbench
(Debian: apt-get install wrk postgresql-client)."""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import _pg  # beside this script: the script's folder is on sys.path when run as a file
import httpx
import psycopg
from gitops.core import run
from tasknote.store import TASK_COLS as COLS  # the bench SQL reads the same columns the API does

SEED = 10_000
GET_SQL = f"\\set n random(1, {SEED})\nSELECT {COLS} FROM tasks WHERE id = md5(:n::text)::uuid;\n"
# The same INSERT ... RETURNING the API runs (constant text, no input: a pgbench script).
POST_SQL = ("INSERT INTO tasks (id, title, description, state, completed_at)"  # noqa: S608
            " VALUES (gen_random_uuid(), 'bench', NULL, 'todo', NULL) RETURNING " + COLS + ";\n")


@dataclass
class Result:
    rps: float
    p99_ms: float
    errors: int = 0


def task_id(n: int) -> str:
    return str(uuid.UUID(hashlib.md5(str(n).encode()).hexdigest()))  # noqa: S324 - an id, not security


def seed(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO tasks (id, title, description) SELECT md5(n::text)::uuid, 'task ' || n, 'bench'"
            " FROM generate_series(1, %s) n ON CONFLICT DO NOTHING", (SEED,))
        conn.execute("VACUUM ANALYZE tasks")


def lua_get(path: Path) -> Path:
    ids = ", ".join(f'"{task_id(n)}"' for n in range(1, 2001))
    path.write_text(f"""ids = {{{ids}}}
request = function()
  return wrk.format("GET", "/tasks/" .. ids[math.random(#ids)])
end
""")
    return path


def lua_post(path: Path) -> Path:
    path.write_text("""wrk.method = "POST"
wrk.body = '{"title": "bench", "description": "a task made by wrk"}'
wrk.headers["Content-Type"] = "application/json"
""")
    return path


def _ms(text: str) -> float:
    for unit, factor in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * factor
    return float(text)


def wrk(url: str, script: Path, connections: int, duration: int) -> Result:
    out = run.run(["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(script), url],
                  timeout=duration + 60).stdout
    rps, p99, errors = 0.0, 0.0, 0
    for line in out.splitlines():
        parts = line.split()
        if line.startswith("Requests/sec:"):
            rps = float(parts[1])
        elif parts[:1] == ["99%"]:
            p99 = _ms(parts[1])
        elif line.strip().startswith("Non-2xx or 3xx responses:"):
            errors += int(parts[-1])
        elif line.strip().startswith("Socket errors:"):
            errors += sum(int(p.strip(",")) for p in parts if p.strip(",").isdigit())
    return Result(rps, p99, errors)


def pgbench(db: _pg.Database, sql: str, connections: int, duration: int, workdir: Path) -> Result:
    script = workdir / "script.sql"
    script.write_text(sql)
    logdir = workdir / f"log-{time.monotonic_ns()}"
    logdir.mkdir()
    out = run.run(["pgbench", "-n", "-M", "prepared", "-c", str(connections), "-j", "2", "-T", str(duration),
                   "-f", str(script), "-l", "--log-prefix", str(logdir / "pgbench"),
                   "-h", db.host, "-p", str(db.port), "-U", db.user, db.name],
                  env={"PGPASSWORD": db.password}, timeout=duration + 60).stdout
    tps = 0.0
    for line in out.splitlines():
        if line.startswith("tps ="):
            tps = float(line.split()[2])
    latencies = sorted(int(line.split()[2]) for f in logdir.iterdir() for line in f.read_text().splitlines())
    p99 = latencies[int(len(latencies) * 0.99)] / 1000 if latencies else 0.0
    return Result(tps, p99)


def start_api(db_url: str, redis_url: str) -> tuple[run.Background, str]:
    port = _pg.free_port()
    env = {"DATABASE_URL": db_url, "REDIS_URL": redis_url, "PORT": str(port), "HOST": "127.0.0.1",
           "LOG_LEVEL": "WARNING"}
    proc = run.spawn([sys.executable, "-m", "tasknote.cli", "api"], env=env)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(base + "/ready", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if not proc.running() or time.monotonic() > deadline:
            raise SystemExit("the API did not become ready")
        time.sleep(0.2)
    return proc, base


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=int, default=10, help="seconds per measurement")
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--no-redis", action="store_true", help="run the API without the Redis cache")
    args = ap.parse_args()
    missing = [t for t in ("wrk", "pgbench", "docker") if shutil.which(t) is None]
    if missing:
        print(f"missing: {', '.join(missing)} (Debian: apt-get install wrk postgresql-client docker.io)")
        return 2
    c, d = args.connections, args.duration
    with _pg.postgres() as db, _pg.redis() as redis_url, tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        run.run([sys.executable, "-m", "tasknote.cli", "migrate"], env={"DATABASE_URL": db.url})
        seed(db.url)
        ref_get = pgbench(db, GET_SQL, c, d, work)
        ref_post = pgbench(db, POST_SQL, c, d, work)
        print(f"pgbench (reference)   GET-equivalent {ref_get.rps:9.0f} tps  p99 {ref_get.p99_ms:6.2f} ms")
        print(f"pgbench (reference)  POST-equivalent {ref_post.rps:9.0f} tps  p99 {ref_post.p99_ms:6.2f} ms")
        get_lua, post_lua = lua_get(work / "get.lua"), lua_post(work / "post.lua")
        proc, base = start_api(db.url, "" if args.no_redis else redis_url)
        try:
            wrk(base, get_lua, c, 3)  # warm-up: caches, prepared statements, pool
            get = wrk(base, get_lua, c, d)
            post = wrk(base + "/tasks", post_lua, c, d)
        finally:
            proc.stop()
        cache = "no cache" if args.no_redis else "redis cache"
        for name, res, ref in (("GET /tasks/{id}", get, ref_get), ("POST /tasks", post, ref_post)):
            print(f"API ({cache}) {name:16} {res.rps:9.0f} rps  p99 {res.p99_ms:6.2f} ms  errors {res.errors}"
                  f"  API/pgbench {res.rps / ref.rps:5.3f}  p99 API/pgbench {res.p99_ms / ref.p99_ms:5.2f}")
        ratio, tail = get.rps / ref_get.rps, get.p99_ms / ref_get.p99_ms
        ok = ratio >= 0.2 and tail <= 2 and get.errors == 0
        print(f"connections={c} duration={d}s per measurement, loopback, same machine, same run")
        print(f"GET ({cache}): {ratio:.3f}x pgbench tps (target >= 0.2), p99 {tail:.2f}x pgbench p99"
              f" (target <= 2) -> {'MET' if ok else 'NOT MET'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
