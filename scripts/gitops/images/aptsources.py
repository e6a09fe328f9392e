"""This machine's apt sources: which Debian mirror the air-gapped images are built from.

The mirror a machine already uses is the one that reaches the network here (a proxy or a local
mirror); the images' own sources point at it too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

APT_SOURCES = Path("/etc/apt")


DEBIAN_CODENAMES = frozenset(
    {"bullseye", "bookworm", "trixie", "forky", "duke", "sid",
     "oldstable", "stable", "testing", "unstable"}
)


@dataclass(frozen=True)
class AptSource:
    types: tuple[str, ...]
    uris: tuple[str, ...]
    suites: tuple[str, ...]
    components: tuple[str, ...]


def parse_one_line(text: str) -> list[AptSource]:
    """Parse sources.list one-line entries: `deb [opts] uri suite component...`."""
    found: list[AptSource] = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        line = re.sub(r"\[[^\]]*\]", " ", line)
        words = line.split()
        if len(words) < 3 or words[0] not in ("deb", "deb-src"):
            continue
        found.append(AptSource((words[0],), (words[1],), (words[2],), tuple(words[3:])))
    return found


def parse_deb822(text: str) -> list[AptSource]:
    """Parse deb822 `.sources` stanzas; `Enabled: no` stanzas are left out."""
    found: list[AptSource] = []
    for stanza in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        key = ""
        for raw in stanza.splitlines():
            if raw.startswith("#") or not raw.strip():
                continue
            if raw[0] in " \t" and key:
                fields[key] += " " + raw.strip()
                continue
            key, _, value = raw.partition(":")
            key = key.strip().lower()
            fields[key] = value.strip()
        if not fields or fields.get("enabled", "yes").lower() == "no":
            continue
        if "uris" not in fields or "suites" not in fields:
            continue
        found.append(AptSource(
            tuple(fields.get("types", "deb").split()), tuple(fields["uris"].split()),
            tuple(fields["suites"].split()), tuple(fields.get("components", "").split()),
        ))
    return found


def read_apt_sources(root: Path = APT_SOURCES) -> list[AptSource]:
    """Every enabled source of this machine (`sources.list`, `sources.list.d/*.list|*.sources`)."""
    files = [root / "sources.list"]
    parts = root / "sources.list.d"
    if parts.is_dir():
        files += sorted(p for p in parts.iterdir() if p.suffix in (".list", ".sources"))
    sources: list[AptSource] = []
    for path in files:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        sources += parse_deb822(text) if path.suffix == ".sources" else parse_one_line(text)
    return sources


def pick_mirror(sources: Iterable[AptSource], suite: str) -> str | None:
    """The archive mirror for `suite`: a `deb` source of exactly that suite, else the mirror
    this machine uses for any other Debian release (it serves every suite), else None."""
    candidates = [s for s in sources if "deb" in s.types and "main" in s.components]

    def mirror_of(source: AptSource) -> str | None:
        for uri in source.uris:
            if re.match(r"^(https?|ftp|file)://", uri) and not uri.rstrip("/").endswith("-security"):
                return uri.rstrip("/")
        return None

    for source in candidates:
        if suite in source.suites and (found := mirror_of(source)):
            return found
    for source in candidates:
        if any(s in DEBIAN_CODENAMES for s in source.suites) and (found := mirror_of(source)):
            return found
    return None


def security_mirror(mirror: str) -> str | None:
    """deb.debian.org's security archive sits next to it; other mirrors are left alone."""
    if re.match(r"^https?://deb\.debian\.org/debian$", mirror):
        return mirror + "-security"
    return None


def sources_file(mirror: str, suite: str) -> str:
    """The image's own deb822 sources, pointing at the mirror it was built from."""
    text = (f"Types: deb\nURIs: {mirror}\nSuites: {suite} {suite}-updates\nComponents: main\n"
            "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n")
    if security := security_mirror(mirror):
        text += (f"\nTypes: deb\nURIs: {security}\nSuites: {suite}-security\nComponents: main\n"
                 "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n")
    return text

