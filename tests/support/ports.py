"""A free loopback TCP port, for servers a test starts (or a port known to have no listener)."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A port nothing listens on right now: bind to port 0, note what the kernel gave, close.
    Another process could take it before the caller does; on loopback in a test run that is rare
    enough, and the caller's start fails loudly if it happens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
