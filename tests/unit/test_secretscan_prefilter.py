"""The fast line scan finds exactly what detect-secrets finds on its own: the prefilter and the
per-line cache of scan_lines change the speed, never a result.

Corpus: this repository's Python, YAML and Markdown files under scripts/, tests/unit/, base/ and
argocd/ (real lines of every shape we commit), plus planted lines that fire each kind of plugin
(built at run time; dummy values)."""

from __future__ import annotations

import pytest
from detect_secrets.core.scan import _process_line_based_plugins
from gitops.secrets import scan_lines
from support.checkout import ROOT

AKIA = "AKIA" + "IOSFODNN7EXAMPLQ"  # pragma: allowlist secret
PLANTED = [
    f"aws_access_key_id = {AKIA}",
    "token = 'ghp_" + "a" * 20 + "B1c2D3e4F5g6H7i8J9k0'",
    "-----BEGIN " + "RSA PRIVATE KEY-----",
    "url = 'https://admin:" + "hunter2hunter2@db.example.com/x'",
    "jwt = 'eyJhbGciOiJIUzI1NiJ9." + "eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlLXZhbHVl'",
    "stripe = 'sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc'",
    'password = "correct-horse-battery"',
    "checksum = '" + "9f86d081884c7d659a2feaa0c55ad015" + "'",  # pragma: allowlist secret
    "blob = '" + "Zm9vYmFyYmF6cXV4cXV1eDEyMzQ1Njc4OTBhYmNkZWZnaGlq" + "'",  # pragma: allowlist secret
    "# pragma: allowlist nextline secret",
    'password = "next-line-is-allowed-by-pragma"',
    'password = "this-one-is-inline-allowed"  # pragma: allowlist secret',
    "ip = '8.8.8.8'",
]


def corpus() -> list[tuple[str, list[str]]]:
    files = []
    for folder in ("scripts", "tests/unit", "base", "argocd"):
        for path in sorted((ROOT / folder).rglob("*")):
            if path.suffix in (".py", ".yaml", ".md") and path.is_file():
                rel = str(path.relative_to(ROOT))
                files.append((rel, path.read_text(encoding="utf-8", errors="replace").split("\n")))
    for name in ("config.py", "values.yaml", "settings.json", ".env", "Dockerfile"):
        files.append((f"planted/{name}", PLANTED))
    return files


def reference(path: str, lines: list[str]) -> set[tuple[int, str, str | None]]:
    numbered = list(enumerate(lines, start=1))
    return {(s.line_number, s.type, s.secret_value) for s in _process_line_based_plugins(numbered, path)}


@pytest.fixture(scope="module")
def files():
    return corpus()


def test_prefiltered_cached_scan_equals_plain_detect_secrets(files) -> None:
    fast = scan_lines.LineScanner()
    total = 0
    with scan_lines.detect_secrets_settings():
        for path, lines in files:
            expected = reference(path, lines)
            got = {(n, kind, value) for n, kind, value, _ in fast.scan(path, enumerate(lines, start=1))}
            assert got == expected, path
            total += len(lines)
    planted_hits = {kind for path, lines in files if path.startswith("planted/")
                    for _, kind, _, _ in fast.scan(path, enumerate(lines, start=1))}
    assert {"AWS Access Key", "GitHub Token", "Private Key", "Basic Auth Credentials", "JSON Web Token",
            "Stripe Access Key", "Secret Keyword", "Hex High Entropy String",
            "Base64 High Entropy String"} <= planted_hits
    assert fast.scanned < total / 3, "the prefilter let most lines through"


def test_the_cache_scans_a_repeated_line_once() -> None:
    scanner = scan_lines.LineScanner()
    line = 'password = "repeated-in-many-files"'
    with scan_lines.detect_secrets_settings():
        for n in range(5):
            assert [k for _, k, _, _ in scanner.scan(f"app{n}.py", [(1, line)])] == ["Secret Keyword"]
    assert scanner.scanned == 1
