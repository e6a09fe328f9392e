"""The only place that starts processes: argv lists, timeouts, captured output, clear errors."""

from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from gitops.core.errors import GitOpsError

STDERR_TAIL_LINES = 12


@dataclass(frozen=True)
class Result:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


class CommandError(GitOpsError):
    """A command exited non-zero or timed out; the message names it and its stderr tail."""

    def __init__(self, message: str, result: Result | None = None) -> None:
        super().__init__(message)
        self.result = result


def describe(argv: Sequence[str]) -> str:
    return shlex.join(argv)


def tail(text: str, lines: int = STDERR_TAIL_LINES) -> str:
    kept = [line for line in text.strip().splitlines() if line.strip()]
    return "\n".join(kept[-lines:])


def run(
    argv: Sequence[str],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    input_text: str | None = None,
    input_bytes: bytes | None = None,
    timeout: float = 300,
    check: bool = True,
) -> Result:
    """Run argv (never through a shell) and return its captured output.

    Secrets go in through input_text/input_bytes (stdin), never argv. With check=True a
    non-zero exit raises CommandError naming the command, its exit code and stderr tail.
    """
    if isinstance(argv, str):
        raise TypeError("run() takes an argv list, not a shell string")
    args = tuple(str(a) for a in argv)
    full_env = {**os.environ, **env} if env else None
    data: bytes | None = input_bytes if input_bytes is not None else (
        input_text.encode() if input_text is not None else None
    )
    try:
        proc = subprocess.run(
            args,
            cwd=cwd,
            env=full_env,
            input=data,
            stdin=None if data is not None else subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError:
        raise CommandError(f"{args[0]} is not installed or not on PATH; install it and retry.") from None
    except subprocess.TimeoutExpired:
        raise CommandError(f"`{describe(args)}` did not finish within {timeout:g} s.") from None
    result = Result(
        args,
        proc.returncode,
        proc.stdout.decode(errors="replace"),
        proc.stderr.decode(errors="replace"),
    )
    if check and result.returncode != 0:
        detail = tail(result.stderr) or tail(result.stdout) or "(no output)"
        raise CommandError(
            f"`{describe(args)}` failed with exit code {result.returncode}:\n{detail}", result
        )
    return result


def stream(argv: Sequence[str], *, cwd: Path | None = None, timeout: float = 3600,
           env: Mapping[str, str] | None = None) -> None:
    """Run argv with its output going straight to the terminal (long builds, test runs)."""
    if isinstance(argv, str):
        raise TypeError("stream() takes an argv list, not a shell string")
    args = tuple(str(a) for a in argv)
    full_env = {**os.environ, **env} if env else None
    try:
        proc = subprocess.run(args, cwd=cwd, env=full_env, timeout=timeout, check=False,
                              stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        raise CommandError(f"{args[0]} is not installed or not on PATH; install it and retry.") from None
    except subprocess.TimeoutExpired:
        raise CommandError(f"`{describe(args)}` did not finish within {timeout:g} s.") from None
    if proc.returncode != 0:
        raise CommandError(f"`{describe(args)}` failed with exit code {proc.returncode}.")


class Background:
    """A child process that outlives one call (kubectl port-forward); stopped by its owner.

    Its output goes to a pipe the owner reads line by line, so it can wait for a readiness
    line ("Forwarding from ...") and show the tail when the child dies early.
    """

    def __init__(self, argv: tuple[str, ...], proc: subprocess.Popen[str]) -> None:
        self.argv = argv
        self._proc = proc

    @property
    def pid(self) -> int:
        return self._proc.pid

    def running(self) -> bool:
        return self._proc.poll() is None

    def readline(self) -> str:
        """One line of the child's combined output ('' at end of output)."""
        assert self._proc.stdout is not None
        return self._proc.stdout.readline()

    def stop(self, grace_s: float = 5) -> int:
        """Terminate the child (then kill it after grace_s) and return its exit code."""
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._proc.stdout is not None:
            self._proc.stdout.close()
        return self._proc.returncode

    def __enter__(self) -> Background:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def spawn(argv: Sequence[str], *, cwd: Path | None = None,
          env: Mapping[str, str] | None = None) -> Background:
    """Start argv in the background (never through a shell); the caller must stop() it."""
    if isinstance(argv, str):
        raise TypeError("spawn() takes an argv list, not a shell string")
    args = tuple(str(a) for a in argv)
    full_env = {**os.environ, **env} if env else None
    try:
        proc = subprocess.Popen(args, cwd=cwd, env=full_env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    except FileNotFoundError:
        raise CommandError(f"{args[0]} is not installed or not on PATH; install it and retry.") from None
    return Background(args, proc)
