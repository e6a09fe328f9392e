"""A port-forward child process: start it, wait for the local port it reports, always stop it.

The argv comes from gitops.cluster.port (the one place that builds kubectl argv); this module
only manages the process, so it is tested with a small script standing in for kubectl.
"""

from __future__ import annotations

import queue
import re
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from gitops.core import run
from gitops.core.errors import GitOpsError

# kubectl port-forward prints this once it listens: client-go tools/portforward/portforward.go
# getListener, fmt.Fprintf(pf.out, "Forwarding from %s -> %d\n", ...).
FORWARDING = re.compile(r"Forwarding from 127\.0\.0\.1:(\d+) ->")


def _reader(child: run.Background, lines: queue.Queue[str]) -> None:
    for line in iter(child.readline, ""):
        lines.put(line)
    lines.put("")


@contextmanager
def forwarded(argv: Sequence[str], *, what: str, ready_timeout_s: float = 30) -> Iterator[int]:
    """Run a port-forward argv and yield the local port it reports; stop it on exit."""
    child = run.spawn(argv)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_reader, args=(child, lines), daemon=True).start()
    seen: list[str] = []
    deadline = time.monotonic() + ready_timeout_s
    try:
        port = None
        while port is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise GitOpsError(f"port-forward to {what} did not start within {ready_timeout_s:g} s"
                                  f"{': ' + seen[-1] if seen else ''}; check the service exists.")
            try:
                line = lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line == "":
                last = seen[-1] if seen else "no output"
                raise GitOpsError(f"port-forward to {what} exited: {last}; check the service and namespace.")
            seen.append(line.strip())
            match = FORWARDING.search(line)
            if match:
                port = int(match.group(1))
        yield port
    finally:
        child.stop()
