"""Defaults of the local app image and compose stack.

No imports on purpose: the `app` and `stack` task signatures and help strings show these values,
and loading the task collection must not import the domain modules that own them.
"""

from __future__ import annotations

IMAGE_TAG = "tasknote:dev"
STACK_PROJECT = "tasknote"
STACK_PORT = 8000
