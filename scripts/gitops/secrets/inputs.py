"""Plaintext input for a Secret: names, keys, literals and env files, checked before sealing."""

from __future__ import annotations

import re
from collections.abc import Iterable

from gitops.core.errors import GitOpsError

_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


_SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")


def check_name(name: str) -> str:
    if len(name) > 253 or not _DNS1123_SUBDOMAIN.match(name):
        raise GitOpsError(
            f"{name!r} is not a valid Kubernetes name; use lower-case letters, digits, '-' and '.', "
            "starting and ending with a letter or digit."
        )
    return name


def check_key(key: str) -> str:
    if len(key) > 253 or key in (".", "..") or not _SECRET_KEY.match(key):
        raise GitOpsError(
            f"{key!r} is not a valid Secret key; use letters, digits, '-', '_' and '.' only."
        )
    return key


def _add(values: dict[str, bytes], key: str, value: str, origin: str) -> None:
    check_key(key)
    if key in values:
        raise GitOpsError(f"key {key!r} is given twice ({origin}); give each key once.")
    values[key] = value.encode("utf-8")


def parse_literals(literals: Iterable[str], values: dict[str, bytes] | None = None) -> dict[str, bytes]:
    out = values if values is not None else {}
    for literal in literals:
        key, sep, value = literal.partition("=")
        if not sep:
            # The literal may be a value: never echo it.
            raise GitOpsError("a --from-literal argument has no '='; write it as KEY=VALUE.")
        _add(out, key, value, "--from-literal")
    return out


def parse_env_file(content: bytes, origin: str, values: dict[str, bytes] | None = None) -> dict[str, bytes]:
    """KEY=VALUE lines like `kubectl create secret --from-env-file`: '#' comments and blank lines
    are skipped and values are taken verbatim; a duplicate key is an error, not a silent override."""
    out = values if values is not None else {}
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise GitOpsError(
            f"{origin} is not UTF-8 (bad byte at offset {exc.start}); re-save it as UTF-8."
        ) from None
    for number, raw in enumerate(text.removeprefix("\ufeff").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise GitOpsError(f"{origin} line {number} has no '='; write it as KEY=VALUE.")
        _add(out, key.strip(), value, f"{origin} line {number}")
    return out

