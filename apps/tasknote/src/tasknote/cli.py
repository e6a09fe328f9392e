"""`tasknote api|worker|summary|migrate|healthcheck`: one image, one entry point per role."""

from __future__ import annotations

import argparse
import logging
import sys
import time
import urllib.request
from datetime import date
from pathlib import Path

from tasknote import logs
from tasknote.settings import Settings, SettingsError, from_env

log = logging.getLogger("tasknote")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tasknote", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("api", help="serve the HTTP API on $PORT (default 8000)")
    w = sub.add_parser("worker", help="resize uploaded images from the job queue")
    w.add_argument("--heartbeat", type=Path, default=Path("/tmp/tasknote-worker-heartbeat"),  # noqa: S108
                   help="file touched on every loop, for `tasknote healthcheck --heartbeat`")
    w.add_argument("--once", action="store_true", help="stop when the queue has nothing due")
    s = sub.add_parser("summary", help="write the daily summary (default: yesterday, UTC)")
    s.add_argument("--day", type=date.fromisoformat, help="YYYY-MM-DD")
    sub.add_parser("migrate", help="apply pending SQL migrations (safe to run concurrently)")
    h = sub.add_parser("healthcheck",
                       help="exit 0 when healthy: a fresh heartbeat file, or a URL answering 2xx")
    h.add_argument("--heartbeat", type=Path, help="file the worker touches")
    h.add_argument("--max-age", type=float, default=60.0, help="seconds since the last touch (default 60)")
    h.add_argument("--url", help="URL to GET, e.g. http://127.0.0.1:8000/healthz")
    return p


def _settings(component: str) -> Settings:
    try:
        settings = from_env()
    except SettingsError as exc:
        for problem in exc.problems:
            print(f"tasknote {component}: invalid configuration: {problem}", file=sys.stderr)
        raise SystemExit(2) from None
    logs.setup(settings.log_level, component)
    return settings


def healthcheck(heartbeat: Path | None, max_age: float, url: str | None) -> int:
    if heartbeat is None and url is None:
        print("healthcheck: give --heartbeat PATH or --url URL", file=sys.stderr)
        return 2
    if heartbeat is not None:
        try:
            age = time.time() - heartbeat.stat().st_mtime
        except OSError:
            print(f"unhealthy: heartbeat {heartbeat} does not exist", file=sys.stderr)
            return 1
        if age > max_age:
            print(f"unhealthy: heartbeat {heartbeat} is {age:.0f}s old (max {max_age:.0f}s)", file=sys.stderr)
            return 1
    if url is not None:
        if not url.startswith(("http://", "https://")):
            print("healthcheck: --url must be http(s)", file=sys.stderr)
            return 2
        try:
            with urllib.request.urlopen(url, timeout=3) as resp:  # noqa: S310 - scheme checked above
                if not 200 <= resp.status < 300:
                    return 1
        except OSError as exc:
            print(f"unhealthy: {url}: {exc}", file=sys.stderr)
            return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "healthcheck":
        return healthcheck(args.heartbeat, args.max_age, args.url)
    settings = _settings(args.command)
    try:
        return _run(args, settings)
    except Exception as exc:
        import psycopg

        if not isinstance(exc, psycopg.Error):
            raise
        # One line, no traceback, no URL (it may carry a password): what failed and why.
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        log.error("database error", extra={"fields": {"command": args.command, "error": reason}})
        print(f"tasknote {args.command}: database error: {reason}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "api":
        from tasknote import server

        return server.serve(settings)
    if args.command == "worker":
        from tasknote import worker

        return worker.run(settings, args.heartbeat, once=args.once)
    if args.command == "migrate":
        from tasknote import migrate

        applied = migrate.apply(settings.database_url)
        if settings.app_database_url:
            try:
                migrate.ensure_app_role(settings.database_url, settings.app_database_url)
            except ValueError as exc:
                print(f"tasknote migrate: {exc}", file=sys.stderr)
                return 2
        log.info("migrations up to date", extra={"fields": {"applied": applied,
                                                            "latest": migrate.latest_version()}})
        return 0
    if args.command == "summary":
        from tasknote import summary

        result = summary.write(settings.database_url, args.day or summary.yesterday())
        log.info("daily summary written", extra={"fields": result})
        return 0
    raise AssertionError(args.command)


if __name__ == "__main__":
    sys.exit(main())
