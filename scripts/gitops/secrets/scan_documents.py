"""Plaintext secrets the line detectors cannot see: Kubernetes Secret documents (YAML or JSON,
one document at a time), kustomize secretGenerators fed from files in Git, and `.env` files.

- A `kind: Secret` with `data` or `stringData` is plaintext (base64 is an encoding), whether
  it is YAML or JSON, alone, in a `List`, or one document of many. Each document is parsed on
  its own, so one that does not parse (a Helm template, a typo) hides nothing else in its file.
  Files of any name are read; a document is parsed only when one of its lines names
  `kind: Secret` / `"kind": "Secret"` (or SealedSecret, for the ciphertexts that are safe).
- kustomize's secretGenerator (kustomize api/types/secretgenerator.go, GeneratorArgs: `envs`,
  `files` as `[key=]path`, `literals` as `key=value`) turns files and literals into Secrets at
  build time, so a path it reads that is in Git, or a literal value, is a plaintext secret in Git.
- An env file (`.env`, `.env.local`, `prod.env`) assigning a non-empty, non-placeholder value
  to a key that names a secret (detect-secrets' keyword list, plus token and credential):
  detect-secrets' KeywordDetector only reads quoted values in files it does not know.

Everything works on numbered lines and returns (line, kind) pairs, so the caller can stream a
file of any size through it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

import yaml

PLAIN_SECRET = "Plaintext Kubernetes Secret"  # noqa: S105  # pragma: allowlist secret (a name)
GENERATOR_FILE = "Plaintext file read by a kustomize secretGenerator"
GENERATOR_LITERAL = "Plaintext literal in a kustomize secretGenerator"
ENV_SECRET = "Plaintext secret in an env file"  # noqa: S105  # pragma: allowlist secret (a name)

_DOCUMENT_START = re.compile(r"^---(\s|$)")
_DOCUMENT_END = re.compile(r"^\.\.\.\s*$")
_SECRET_KIND = re.compile(r"""["']?kind["']?\s*:\s*["']?(Sealed)?Secret["']?\s*(,|}|#|$)""")
_KUSTOMIZATION = ("kustomization.yaml", "kustomization.yml", "Kustomization")
_ENV_NAME = re.compile(r"(^|\.)env($|\.)")
_SECRET_KEY = re.compile(
    r"api_?key|auth_?key|service_?key|account_?key|db_?key|database_?key|priv_?key|private_?key|client_?key"
    r"|db_?pass|database_?pass|key_?pass|password|passwd|pwd|secret|token|credential|access_?key",
    re.IGNORECASE,
)
_PLACEHOLDER = re.compile(
    r"^(\$\{?[\w.-]*\}?|<[^>]*>|\{\{.*\}\}|x{3,}|\*{3,}|\.{3}|changeme|change_me|change-me|replace_me|todo|"
    r"example|dummy|none|null|false|true)$",
    re.IGNORECASE,
)
# Larger than any Secret manifest (1 MiB of data as base64 plus metadata): beyond it a "document"
# of a file that is not YAML is not a Kubernetes object, and holding it would defeat streaming.
MAX_DOCUMENT_BYTES = 4 * 1024 * 1024
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when the wheel has it


def mentions_secret_kind(line: str) -> bool:
    return bool(_SECRET_KIND.search(line))


def is_env_file(path: str) -> bool:
    return bool(_ENV_NAME.search(PurePosixPath(path).name))


def is_kustomization(path: str) -> bool:
    return PurePosixPath(path).name in _KUSTOMIZATION


def is_structured(path: str) -> bool:
    return path.endswith((".yaml", ".yml", ".json"))


@dataclass
class Document:
    start: int  # 1-based line of its first line
    lines: list[str] = field(default_factory=list)
    size: int = 0
    hinted: bool = False

    def text(self) -> str:
        return "\n".join(self.lines)


class DocumentSplitter:
    """YAML documents split at `---`/`...` lines, fed one line at a time. Unless `keep_all`, only
    documents naming a Secret or SealedSecret kind are kept; the others are dropped as they pass."""

    def __init__(self, keep_all: bool) -> None:
        self.keep_all = keep_all
        self.current: Document | None = None

    def _done(self) -> Document | None:
        doc = self.current
        return doc if doc is not None and (self.keep_all or doc.hinted) else None

    def feed(self, number: int, line: str) -> Document | None:
        if _DOCUMENT_START.match(line) or _DOCUMENT_END.match(line):
            finished = self._done()
            content = line[3:] if _DOCUMENT_START.match(line) else ""
            self.current = Document(number, [content]) if content.strip() else Document(number + 1)
            return finished
        if self.current is None:
            self.current = Document(number)
        current = self.current
        if _SECRET_KIND.search(line):
            current.hinted = True
        current.size += len(line) + 1
        if current.size > MAX_DOCUMENT_BYTES and not current.hinted and not self.keep_all:
            current.lines, current.size = [], 0  # not a manifest: stop holding it
            return None
        current.lines.append(line)
        return None

    def close(self) -> Document | None:
        finished, self.current = self._done(), None
        return finished


def documents(lines: Iterable[tuple[int, str]], keep_all: bool) -> Iterator[Document]:
    splitter = DocumentSplitter(keep_all)
    for number, line in lines:
        if (doc := splitter.feed(number, line)) is not None:
            yield doc
    if (doc := splitter.close()) is not None:
        yield doc


def parse(text: str, json_first: bool) -> list[Any]:
    """The objects of one document: [] when it does not parse (templates are the manifests
    checks' business, not the scanner's)."""
    if json_first:
        decoder, position, out = json.JSONDecoder(), 0, []
        stripped = text.strip()
        try:
            while position < len(stripped):
                obj, position = decoder.raw_decode(stripped, position)
                out.append(obj)
                while position < len(stripped) and stripped[position].isspace():
                    position += 1
            return out
        except json.JSONDecodeError:
            pass
    try:
        return [yaml.load(text, Loader=_LOADER)]  # noqa: S506 - a safe loader (CSafeLoader/SafeLoader)
    except yaml.YAMLError:
        return []
    except RecursionError:
        return []


def objects(docs: Iterable[Any]) -> Iterator[dict[str, Any]]:
    for doc in docs:
        if not isinstance(doc, dict):
            continue
        if str(doc.get("kind", "")).endswith("List"):
            yield from (item for item in doc.get("items") or [] if isinstance(item, dict))
        else:
            yield doc


def _line_of(document: Document, key: str, value: Any) -> int:
    """The line of `key: value` in the document, else its first line."""
    if value is not None:
        quoted = rf"""["']?{re.escape(str(value))}["']?"""
        wanted = re.compile(rf"""["']?{re.escape(key)}["']?\s*:\s*{quoted}\s*(,|$)""")
        for offset, line in enumerate(document.lines):
            if wanted.search(line):
                return document.start + offset
    return document.start


@dataclass
class DocumentFindings:
    findings: list[tuple[int, str]] = field(default_factory=list)
    ciphertexts: set[str] = field(default_factory=set)


def scan_document(path: str, document: Document, out: DocumentFindings,
                  exists: Callable[[str], bool] | None = None) -> None:
    """Plain Secrets, SealedSecret ciphertexts and secretGenerator inputs of one document."""
    for obj in objects(parse(document.text(), path.endswith(".json"))):
        kind = obj.get("kind")
        if kind == "Secret" and (obj.get("data") or obj.get("stringData")):
            name = (obj.get("metadata") or {}).get("name")
            out.findings.append((_line_of(document, "name", name), PLAIN_SECRET))
        elif kind == "SealedSecret":
            data = (obj.get("spec") or {}).get("encryptedData") or {}
            out.ciphertexts.update(str(v) for v in data.values())
        if is_kustomization(path) and exists is not None:
            out.findings.extend(generator_findings(path, obj, document, exists))


def scan_documents(path: str, lines: Iterable[tuple[int, str]],
                   exists: Callable[[str], bool] | None = None) -> DocumentFindings:
    out = DocumentFindings()
    for document in documents(lines, keep_all=keeps_all_documents(path)):
        scan_document(path, document, out, exists)
    return out


def keeps_all_documents(path: str) -> bool:
    """JSON files and kustomizations are parsed whole; other files only where a Secret kind is named."""
    return is_kustomization(path) or path.endswith(".json")


def generator_findings(path: str, kustomization: dict[str, Any], document: Document,
                       exists: Callable[[str], bool]) -> Iterator[tuple[int, str]]:
    base = PurePosixPath(path).parent
    for generator in kustomization.get("secretGenerator") or []:
        if not isinstance(generator, dict):
            continue
        for source in [*(generator.get("envs") or []), *(generator.get("files") or [])]:
            file = str(source).split("=", 1)[-1]
            if exists(str(base / file)):
                yield _source_line(document, str(source)), GENERATOR_FILE
        for literal in generator.get("literals") or []:
            _, sep, value = str(literal).partition("=")
            if sep and value and not _PLACEHOLDER.match(value.strip()):
                yield _source_line(document, str(literal)), GENERATOR_LITERAL


def _source_line(document: Document, source: str) -> int:
    for offset, line in enumerate(document.lines):
        if source in line:
            return document.start + offset
    return document.start


def env_findings(lines: Iterable[tuple[int, str]]) -> Iterator[tuple[int, str]]:
    """KEY=VALUE lines of an env file that put a value in a secret-named key."""
    for number, line in lines:
        text = line.strip()
        if not text or text.startswith("#") or "pragma: allowlist secret" in text:
            continue
        key, sep, value = text.removeprefix("export ").partition("=")
        if not sep or not _SECRET_KEY.search(key):
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        if value and not _PLACEHOLDER.match(value):
            yield number, ENV_SECRET
