"""The task decorator every namespace uses: help on every argument, one-line errors."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from invoke.exceptions import Exit
from invoke.tasks import task as invoke_task

from gitops.core.errors import GitOpsError


def task(help: dict[str, str] | None = None, **kwargs: Any) -> Callable[[Callable[..., Any]], Any]:
    """invoke's @task, refusing an undocumented argument and turning GitOpsError into exit 1.

    Every argument is an option (`--tag 1.2.0`), never positional: invoke would otherwise read
    `--help` after the task name as a positional value. An argument without a default is
    required, and its absence is one sentence, not a None passed on.
    """
    documented = help or {}

    def decorate(body: Callable[..., Any]) -> Any:
        signature = inspect.signature(body)
        params = list(signature.parameters)[1:]
        required = [p for p in params if signature.parameters[p].default is inspect.Parameter.empty]
        missing = [p for p in params if p.replace("_", "-") not in documented and p not in documented]
        if missing:
            raise TypeError(f"task {body.__name__} has no help for {', '.join(missing)}")
        if not (body.__doc__ or "").strip():
            raise TypeError(f"task {body.__name__} has no docstring")

        @functools.wraps(body)
        def wrapper(*args: Any, **kw: Any) -> Any:
            absent = [p for p in required if kw.get(p) is None]
            if absent:
                flag = absent[0].replace("_", "-")
                what = documented.get(flag) or documented.get(absent[0])
                raise Exit(f"error: --{flag} is required: give {what}.", code=1)
            try:
                return body(*args, **kw)
            except GitOpsError as exc:
                raise Exit(f"error: {exc}", code=1) from None

        return invoke_task(wrapper, help=documented, positional=[], **kwargs)

    return decorate
