"""renovate.json's custom regex managers applied with Python's `re`, as Renovate applies them.

JS-only syntax and how it is read here (Renovate: "Renovate supports the ECMAScript (JavaScript)
flavor of regex ... uses uhop/node-re2 [google/re2]", https://docs.renovatebot.com/modules/manager/regex/):
- named groups are written `(?<name>...)` (ECMAScript); Python spells them `(?P<name>...)`;
- a managerFilePatterns entry between slashes, "/.../", is a regex over the repository-relative
  path; any other entry is a glob (https://docs.renovatebot.com/configuration-options/#managerfilepatterns);
- RE2 has no lookaround and no backreferences: such a pattern is refused here, as RE2 would;
- RE2's \\w, \\d and \\s are ASCII: the patterns are compiled with re.ASCII;
- matching is per file, not per line (`^`/`$` are the file's ends): no re.MULTILINE.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

NAMED_GROUP = re.compile(r"\(\?<(?=[A-Za-z_])")
RE2_UNSUPPORTED = re.compile(r"\(\?<?[=!]|\\[1-9]")
SKIPPED_DIRS = {".git", ".venv", ".cache", "node_modules", "__pycache__", ".mypy_cache", ".ruff_cache",
                ".pytest_cache"}


def to_python(pattern: str) -> re.Pattern[str]:
    """An ECMAScript/RE2 matchString as a Python pattern (see the module docstring)."""
    if RE2_UNSUPPORTED.search(pattern):
        raise ValueError(f"RE2 does not support lookaround or backreferences: {pattern}")
    return re.compile(NAMED_GROUP.sub("(?P<", pattern), re.ASCII)


def file_matches(patterns: list[str], relative: str) -> bool:
    for pattern in patterns:
        if len(pattern) > 1 and pattern.startswith("/") and pattern.endswith("/"):
            if re.search(pattern[1:-1], relative):
                return True
        elif fnmatch.fnmatchcase(relative, pattern):
            return True
    return False


def repository_files(root: Path) -> list[str]:
    """Repository-relative paths of every file, tool caches and virtualenvs left out."""
    found = []
    for directory, subdirs, names in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if d not in SKIPPED_DIRS)
        base = Path(directory).relative_to(root)
        found += [(base / name).as_posix() for name in sorted(names)]
    return found


@dataclass(frozen=True)
class Match:
    manager: int  # index in customManagers
    file: str
    start: int
    end: int
    groups: dict[str, str]

    def template(self, manager: dict[str, Any], field: str) -> str:
        """A capture group, or the manager's <field>Template with {{{group}}} filled in."""
        if self.groups.get(field):
            return self.groups[field]
        template = str(manager.get(f"{field}Template", ""))
        return re.sub(r"\{\{\{?(\w+)\}?\}\}", lambda m: self.groups.get(m.group(1), ""), template)


def matches(config: dict[str, Any], root: Path, files: list[str] | None = None) -> Iterator[Match]:
    """Every match of every regex custom manager over the repository's files."""
    files = repository_files(root) if files is None else files
    for index, manager in enumerate(config.get("customManagers") or []):
        if manager.get("customType") != "regex":
            continue
        patterns = [to_python(p) for p in manager["matchStrings"]]
        for relative in files:
            if not file_matches(manager.get("managerFilePatterns") or [], relative):
                continue
            text = (root / relative).read_text(encoding="utf-8", errors="replace")
            for pattern in patterns:
                for found in pattern.finditer(text):
                    groups = {k: v for k, v in found.groupdict().items() if v is not None}
                    yield Match(index, relative, found.start(), found.end(), groups)
