"""Run the API under uvicorn with Kubernetes-style graceful shutdown.

On SIGTERM: /ready turns 503 at once, the server keeps serving for SHUTDOWN_DELAY_SECONDS (so the
endpoint is removed from Services before we stop accepting), then stops accepting, lets in-flight
requests finish (up to GRACEFUL_TIMEOUT_SECONDS) and exits 0. With WEB_CONCURRENCY > 1 the parent
binds the socket once, forks that many servers sharing it, and forwards the signal to them."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import sys
import threading
import time
from types import FrameType

import uvicorn

from tasknote.api import Runtime, create_app
from tasknote.settings import Settings

log = logging.getLogger(__name__)


class GracefulServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, runtime: Runtime, delay: float) -> None:
        super().__init__(config)
        self.runtime = runtime
        self.delay = delay

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # Not appended to _captured_signals: uvicorn would re-raise the signal after shutdown and
        # the process would die by SIGTERM (exit 143) instead of exiting 0.
        if self.runtime.draining:
            self.should_exit = True  # a second signal: stop waiting
            return
        self.runtime.draining = True
        log.info("SIGTERM: not ready; draining", extra={"fields": {"delay_s": self.delay}})
        timer = threading.Timer(self.delay, self._stop)
        timer.daemon = True
        timer.start()

    def _stop(self) -> None:
        self.should_exit = True


def _serve_one(settings: Settings, sock: socket.socket) -> None:
    app = create_app(settings)
    # loop/http left at uvicorn's "auto": uvloop and httptools whenever they are installed.
    config = uvicorn.Config(
        app, lifespan="on", access_log=False, log_config=None,
        timeout_graceful_shutdown=round(settings.graceful_timeout_seconds), timeout_keep_alive=5,
        backlog=2048, server_header=False,
    )
    server = GracefulServer(config, app.state.runtime, settings.shutdown_delay_seconds)
    server.run(sockets=[sock])
    if not server.started:
        raise SystemExit(3)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def serve(settings: Settings) -> int:
    sock = _bind(settings.host, settings.port)
    log.info("listening", extra={"fields": {"host": settings.host, "port": settings.port,
                                            "workers": settings.web_concurrency}})
    if settings.web_concurrency == 1:
        _serve_one(settings, sock)
        return 0
    return _supervise(settings, sock)


def _supervise(settings: Settings, sock: socket.socket) -> int:
    """Fork the servers before any thread or event loop exists in this process, restart one that
    dies unexpectedly, and on SIGTERM/SIGINT forward the signal and wait for all of them."""
    children: dict[int, int] = {}
    stopping = False

    parent = os.getpid()

    def spawn(slot: int) -> None:
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                _die_with_parent(parent)
                _serve_one(settings, sock)
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
            except BaseException:
                log.exception("api worker crashed")
                code = 1
            finally:
                sys.stdout.flush()
                os._exit(code)
        children[pid] = slot

    def forward(sig: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)

    for slot in range(settings.web_concurrency):
        spawn(slot)
    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    worst = 0
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        slot = children.pop(pid, -1)
        code = os.waitstatus_to_exitcode(status)
        _metrics_process_dead(pid)
        if stopping:
            worst = max(worst, 0 if code == 0 else 1)
        elif slot >= 0:
            log.error("api worker exited; starting another", extra={"fields": {"pid": pid, "code": code}})
            time.sleep(0.5)
            spawn(slot)
    return worst


def _die_with_parent(parent: int) -> None:
    """A server whose supervisor was SIGKILLed must not live on as an orphan holding the port:
    ask the kernel for SIGTERM when the parent dies (Linux), else watch the parent pid."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        if libc.prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl failed")
    except (ImportError, OSError, AttributeError):
        def watch() -> None:
            while os.getppid() == parent:
                time.sleep(1)
            os.kill(os.getpid(), signal.SIGTERM)

        threading.Thread(target=watch, daemon=True, name="parent-watch").start()
    if os.getppid() != parent:  # it died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)


def _metrics_process_dead(pid: int) -> None:
    """Drop a dead server's live gauges (in-flight) from the multiprocess metrics."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
