"""Plaintext input for a Secret (names, keys, values from env files, literals and files), read
exactly as kubectl reads it.

Users move between `kubectl create secret generic` and `./inv secrets.seal`, so the same input
must give the same keys and bytes. The rules below are kubectl v1.37.1's (the version pinned in
versions.yaml), read from kubernetes/kubectl and checked by running that binary on the same
inputs (tests/unit/test_secret_inputs_kubectl.py compares every case byte for byte):

- pkg/cmd/util/env_file.go (AddFromEnvFile, processEnvFileLine): lines come from Go's
  bufio.Scanner with ScanLines, so only "\\n" ends a line and one "\\r" before it is dropped
  (U+2028, U+0085 and form feed are ordinary characters); every line must be valid UTF-8; a
  UTF-8 BOM is removed from the first line only; leading whitespace (Go's unicode.IsSpace) is
  removed, trailing whitespace is kept; empty lines and lines starting with "#" are skipped;
  the key is everything before the first "=", the value everything after it, verbatim (quotes
  included); a line without "=" takes its value from the environment (os.Getenv).
- Keys of env files must satisfy IsEnvVarName (k8s.io/apimachinery pkg/util/validation:
  `[-._a-zA-Z][-._a-zA-Z0-9]*`, not ".", "..", nor starting with ".."); every key must satisfy
  IsConfigMapKey (`[-._a-zA-Z0-9]+`, at most 253 characters, same "." rules); a key given
  twice is an error (create_secret.go addKeyFromLiteralToSecret).
- pkg/util ParseLiteralSource: split at the first "=", a leading "=" is an error, the value is
  kept verbatim (v1.37.1 strips no quotes).
- ParseFileSource: `KEY=PATH`, or `PATH` whose base name is the key.

Where kubectl loses data without a word we refuse instead, with one sentence: a line longer
than bufio.MaxScanTokenSize (kubectl stops reading there and seals the keys before it). Error
messages name the file and line, never a value.
"""

from __future__ import annotations

import getpass
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from gitops.core.errors import GitOpsError

# Go's unicode.IsSpace: the Latin-1 spaces it lists plus the Unicode White_Space property
# (src/unicode/graphic.go, tables.go). Python's str.isspace also counts U+001C..U+001F, which
# Go does not, so the set is spelled out.
GO_SPACE = (
    "\t\n\v\f\r \x85\xa0\u1680"
    + "".join(chr(c) for c in range(0x2000, 0x200B))
    + "\u2028\u2029\u202f\u205f\u3000"
)
UTF8_BOM = "\ufeff"
# bufio.MaxScanTokenSize (64 KiB) is the scanner's buffer: a line and its "\n" must fit in it.
MAX_LINE_BYTES = 64 * 1024 - 1
MAX_KEY_LENGTH = 253

_ENV_VAR_NAME = re.compile(r"[-._a-zA-Z][-._a-zA-Z0-9]*\Z")
_CONFIG_MAP_KEY = re.compile(r"[-._a-zA-Z0-9]+\Z")


def _dot_problem(key: str) -> str | None:
    """hasChDirPrefix in apimachinery's validation: "." and ".." would be path tricks."""
    if key in (".", ".."):
        return f"must not be {key!r}"
    if key.startswith(".."):
        return "must not start with '..'"
    return None


_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def check_name(name: str) -> str:
    """A Secret's (or namespace's) name: a DNS-1123 subdomain."""
    if len(name) > 253 or not _DNS1123_SUBDOMAIN.match(name):
        raise GitOpsError(
            f"{name!r} is not a valid Kubernetes name; use lower-case letters, digits, '-' and '.', "
            "starting and ending with a letter or digit."
        )
    return name


def check_key(key: str) -> str:
    """A Secret key: IsConfigMapKey, the rule the API server applies."""
    if config_map_key_problem(key):
        raise GitOpsError(
            f"{key!r} is not a valid Secret key; use letters, digits, '-', '_' and '.' only."
        )
    return key


def config_map_key_problem(key: str) -> str | None:
    """Why `key` cannot be a Secret key (IsConfigMapKey), or None."""
    if len(key) > MAX_KEY_LENGTH:
        return f"is longer than {MAX_KEY_LENGTH} characters"
    if not _CONFIG_MAP_KEY.match(key):
        return "may hold only letters, digits, '-', '_' and '.'"
    return _dot_problem(key)


def env_var_name_problem(key: str) -> str | None:
    """Why `key` cannot be a key of an env file (IsEnvVarName), or None."""
    if not _ENV_VAR_NAME.match(key):
        return "may hold only letters, digits, '-', '_' and '.' and must not start with a digit"
    return _dot_problem(key)


def add_value(values: dict[str, bytes], key: str, value: bytes, origin: str) -> None:
    """Add one key the way kubectl's addKeyFromLiteralToSecret does: valid and not yet present."""
    problem = config_map_key_problem(key)
    if problem:
        raise GitOpsError(f"the key {key!r} from {origin} {problem}; rename it.")
    if key in values:
        raise GitOpsError(f"the key {key!r} from {origin} is given twice; give each key once.")
    values[key] = value


def scanner_lines(data: bytes, origin: str) -> Iterator[tuple[int, bytes]]:
    """(1-based number, line) as bufio.ScanLines yields them: split at "\\n", one "\\r" dropped."""
    start, number, size = 0, 0, len(data)
    while start < size:
        end = data.find(b"\n", start)
        stop = size if end < 0 else end
        number += 1
        if stop - start > MAX_LINE_BYTES:
            raise GitOpsError(
                f"{origin} line {number} is longer than {MAX_LINE_BYTES} bytes, which kubectl would "
                "silently drop with every line after it; put such a value in its own file and use "
                "--from-file KEY=PATH."
            )
        line = data[start:stop]
        yield number, line[:-1] if line.endswith(b"\r") else line
        start = stop + 1


def parse_env_file(
    data: bytes,
    origin: str,
    values: dict[str, bytes] | None = None,
    environ: Mapping[bytes, bytes] | None = None,
) -> dict[str, bytes]:
    """KEY=VALUE lines exactly as `kubectl create secret generic --from-env-file` reads them."""
    out = values if values is not None else {}
    env = os.environb if environ is None else environ
    for number, raw in scanner_lines(data, origin):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise GitOpsError(f"{origin} line {number} is not valid UTF-8; save the file as UTF-8.") from None
        if number == 1:
            text = text.removeprefix(UTF8_BOM)
        text = text.lstrip(GO_SPACE)
        if not text or text.startswith("#"):
            continue
        key, sep, value = text.partition("=")
        problem = env_var_name_problem(key)
        if problem:
            # The "key" of a line without "=" may be a value: never echo it.
            raise GitOpsError(f"{origin} line {number} does not start with a valid key (a key {problem}); "
                              "write it as KEY=VALUE.")
        encoded = value.encode("utf-8") if sep else env.get(key.encode(), b"")
        add_value(out, key, encoded, f"{origin} line {number}")
    return out


def split_literal(source: str) -> tuple[str, bytes | None]:
    """KEY=VALUE as ParseLiteralSource splits it; (KEY, None) when no value was given.

    The value comes back as the bytes that were on the command line (os.fsencode undoes
    Python's surrogateescape), so a non-UTF-8 argument is sealed as kubectl would seal it.
    """
    if source.startswith("="):
        raise GitOpsError("a --from-literal argument starts with '='; write it as KEY=VALUE or KEY.")
    key, sep, value = source.partition("=")
    return key, (os.fsencode(value) if sep else None)


def split_file_source(source: str) -> tuple[str, Path]:
    """`KEY=PATH` or `PATH` (the base name is the key), as kubectl's ParseFileSource."""
    count = source.count("=")
    if count == 0:
        return Path(source).name, Path(source)
    key, _, path = source.partition("=")
    if count > 1 or not key or not path:
        raise GitOpsError(f"--from-file {source!r} is not KEY=PATH or PATH; key names and paths cannot "
                          "contain '='.")
    return key, Path(path)


def read_file_source(source: str, values: dict[str, bytes]) -> None:
    """One --from-file: the file's bytes, unchanged (binary values welcome)."""
    key, path = split_file_source(source)
    target = path.expanduser()
    if target.is_dir():
        raise GitOpsError(f"{path} is a directory; give one --from-file KEY=PATH per file.")
    try:
        content = target.read_bytes()
    except OSError as exc:
        raise GitOpsError(f"cannot read {path} ({exc.strerror}); give a readable file.") from None
    add_value(values, key, content, f"--from-file {path}")


LITERAL_WARNING = (
    "warning: a value given as --from-literal KEY=VALUE sits in your shell history and, while this "
    "runs, in /proc/<pid>/cmdline; give --from-literal KEY alone to be prompted, or pipe it on stdin."
)


@dataclass(frozen=True)
class Sources:
    """Where the values of one Secret come from, as given on the command line."""

    literals: Sequence[str] = ()
    files: Sequence[str] = ()
    env_files: Sequence[str] = ()
    stdin_env: bool = False  # KEY=VALUE lines on stdin


@dataclass(frozen=True)
class Terminal:
    """The edges collect() needs: stdin, the hidden prompt and the warning channel."""

    read_stdin: Callable[[], bytes]
    stdin_is_tty: bool
    prompt: Callable[[str], bytes]
    warn: Callable[[str], None]


def stdin_values(data: bytes, keys: Sequence[str]) -> dict[str, bytes]:
    """One line of piped stdin per value-less key, in order; the line ending is not part of it."""
    lines = data.split(b"\n")
    if data.endswith(b"\n"):
        lines.pop()
    if len(lines) < len(keys):
        raise GitOpsError(f"stdin ended before the value of {keys[len(lines)]}; give one line per value-less "
                          "--from-literal KEY.")
    if len(lines) > len(keys):
        raise GitOpsError(f"stdin holds {len(lines)} lines for {len(keys)} value-less --from-literal key(s); "
                          "give one line per key.")
    return {key: line.removesuffix(b"\r") for key, line in zip(keys, lines, strict=True)}


def collect(sources: Sources, terminal: Terminal) -> dict[str, bytes]:
    """Every value of the Secret, read the way the command line asked; nothing goes to argv or disk."""
    values: dict[str, bytes] = {}
    asked: list[str] = []
    warned = False
    for literal in sources.literals:
        key, value = split_literal(literal)
        if value is None:
            problem = config_map_key_problem(key)
            if problem:
                raise GitOpsError(f"the key {key!r} from --from-literal {problem}; rename it.")
            if key in asked:
                raise GitOpsError(f"the key {key!r} from --from-literal is given twice; give each key once.")
            asked.append(key)
            continue
        if not warned:
            terminal.warn(LITERAL_WARNING)
            warned = True
        add_value(values, key, value, "--from-literal")
    if asked and sources.stdin_env and not terminal.stdin_is_tty:
        raise GitOpsError("--stdin and a value-less --from-literal KEY both read piped stdin; use one.")
    if asked:
        if terminal.stdin_is_tty:
            prompted = {key: terminal.prompt(key) for key in asked}
        else:
            prompted = stdin_values(terminal.read_stdin(), asked)
        for key in asked:
            add_value(values, key, prompted[key], "--from-literal")
    for source in sources.files:
        read_file_source(source, values)
    for env_file in sources.env_files:
        path = Path(env_file).expanduser()
        try:
            content = path.read_bytes()
        except OSError as exc:
            raise GitOpsError(f"cannot read {path} ({exc.strerror}); give a readable file.") from None
        parse_env_file(content, str(path), values)
    if sources.stdin_env:
        if terminal.stdin_is_tty:
            terminal.warn("reading KEY=VALUE lines from stdin; end with Ctrl-D")
        parse_env_file(terminal.read_stdin(), "stdin", values)
    return values


def hidden_prompt(key: str, ask: Callable[[str], str] = getpass.getpass) -> bytes:
    """Ask twice without echo (getpass turns the terminal's echo off) and insist on the same answer."""
    first = ask(f"value for {key} (not echoed): ")
    if ask(f"value for {key} again: ") != first:
        raise GitOpsError(f"the two values typed for {key} differ; run the command again.")
    return os.fsencode(first)


def one_stdin_value(read_stdin: Callable[[], bytes], what: str) -> bytes:
    """A single value from piped stdin: one line, its line ending not included."""
    data = read_stdin()
    line = data.removesuffix(b"\n").removesuffix(b"\r")
    if b"\n" in line:
        raise GitOpsError(f"stdin holds more than one line; pipe only the {what}.")
    return line
