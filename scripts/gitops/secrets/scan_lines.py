"""detect-secrets over lines, fast: a prefilter no finding can slip past, and each line scanned once.

detect-secrets (Yelp, from the lock file) runs 27 plugins and a dozen filters on every line
through its injection helper, about a quarter of a millisecond a line; tree plus history of
this repository is ~76,000 lines. Two things make the full scan fit in seconds without
changing a single result:

- A line reaches detect-secrets only if it could make a plugin fire, from the plugins' own
  patterns: the union of every regex-based detector's `denylist` (AWS, GitHub, private keys,
  basic auth, ...), the KeywordDetector's keyword list (every one of its regexes contains a
  keyword), and for the two entropy plugins a quoted run of at least 9 characters of their
  charset (HighEntropyStringsPlugin matches quoted strings only, and a string of n characters
  has at most log2(n) bits of entropy, so the hex limit 3.0 needs 9 characters and the base64
  limit 4.5 needs 23).
- Results are cached per (what detect-secrets derives from the file name, the line, whether
  the line before carries an allowlist pragma), so a line that is in the tree and in the
  commit that added it is scanned once.

tests/unit/test_secretscan_speed.py checks that the prefiltered, cached scan finds exactly what
the plain per-line scan finds.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from detect_secrets.core.scan import _process_line_based_plugins
from detect_secrets.filters import heuristic
from detect_secrets.plugins.keyword import DENYLIST
from detect_secrets.settings import default_settings, get_plugins
from detect_secrets.util.filetype import determine_file_type

_PRAGMA = "pragma: allowlist"
ENTROPY_CHARSET = r"A-Za-z0-9+/\\_=-"  # Base64HighEntropyString's charset; hex digits are a subset
MIN_ENTROPY_STRING = 9


@contextmanager
def detect_secrets_settings() -> Iterator[None]:
    with default_settings():
        yield


@functools.cache
def prefilter() -> tuple[re.Pattern[str], ...]:
    """Patterns of which a line must match one to be able to produce a detect-secrets finding
    (see the module doc). Kept apart: one alternation of all of them is slower than the loop."""
    parts = [re.compile("|".join(DENYLIST), re.IGNORECASE),
             re.compile(f"[\"'][{ENTROPY_CHARSET}]{{{MIN_ENTROPY_STRING},}}[\"']")]
    with detect_secrets_settings():
        for plugin in get_plugins():
            parts.extend(getattr(plugin, "denylist", None) or ())
    return tuple(parts)


def could_fire(line: str) -> bool:
    return any(pattern.search(line) for pattern in prefilter())


def file_signature(path: str) -> tuple[Any, ...]:
    """All detect-secrets' plugins and filters read from a file name, through their own functions:
    its file type (the KeywordDetector's regexes), its extension (the comment syntax
    is_line_allowlisted accepts), lock file, swagger file, non-text extension."""
    return (determine_file_type(path), os.path.splitext(path)[1], heuristic.is_lock_file(path),
            heuristic.is_swagger_file(path), heuristic.is_non_text_file(path))


@dataclass
class LineScanner:
    """detect-secrets findings (type, secret value) for numbered lines of one path at a time."""

    use_prefilter: bool = True
    cache: dict[tuple[Any, ...], tuple[tuple[str, str | None], ...]] = field(default_factory=dict)
    verdicts: dict[str, bool] = field(default_factory=dict)  # prefilter result per distinct line
    scanned: int = 0  # lines that reached detect-secrets

    def scan(self, path: str, lines: Iterable[tuple[int, str]]) -> list[tuple[int, str, str | None, str]]:
        """(line number, detector, secret value, line) for each finding."""
        signature = file_signature(path)
        found: list[tuple[int, str, str | None, str]] = []
        previous = ""
        for number, line in lines:
            # Only an allowlist pragma on the line before can change a line's result (the
            # "nextline" form of detect-secrets' is_line_allowlisted), so only then is it context.
            before = previous if _PRAGMA in previous else ""
            previous = line
            if self.use_prefilter:
                verdict = self.verdicts.get(line)
                if verdict is None:
                    verdict = self.verdicts[line] = could_fire(line)
                if not verdict:
                    continue
            key = (signature, line, before)
            result = self.cache.get(key)
            if result is None:
                self.scanned += 1
                context = [(1, before), (2, line)] if before else [(1, line)]
                result = tuple(
                    (secret.type, secret.secret_value)
                    for secret in _process_line_based_plugins(context, path)
                    if secret.line_number == context[-1][0]
                )
                self.cache[key] = result
            found.extend((number, kind, value, line) for kind, value in result)
        return found


