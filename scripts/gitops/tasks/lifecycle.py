"""Top-level tasks for a whole cluster's life: bootstrap, smoke, conformance."""

from __future__ import annotations

TASKS: list[object] = []
