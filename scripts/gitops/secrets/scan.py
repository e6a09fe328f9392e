"""Secret scanner over the working tree and the whole Git history.

Two checks:
- detect-secrets (Yelp's maintained scanner, from the lock file) for private keys, tokens and
  high-entropy strings, line by line;
- our own: a YAML document `kind: Secret` carrying `data` or `stringData` is a plaintext
  secret in Git (base64 is an encoding, not encryption) and fails wherever it is.

Known-safe findings are listed in .secretscan-allow.yaml, each with a reason. Four safe shapes
are recognised without an entry: SealedSecret ciphertext (values of spec.encryptedData), content
digests (64 hex characters on a line naming sha256), Git object ids (40 hex characters on a line
naming a revision, commit, sha or ref) and keyword hits whose value is a Kubernetes name without
digits (`SEALED_SECRETS_NAMESPACE = "kube-system"`).

History is scanned as the lines each commit added (`git log -p` over all refs), so every line
that ever existed is scanned once, and YAML blobs of every commit are parsed once per content.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from detect_secrets.core.scan import _process_line_based_plugins
from detect_secrets.settings import default_settings

from gitops.core import run
from gitops.core.errors import GitOpsError

ALLOWLIST = ".secretscan-allow.yaml"
# Every local branch and tag by default: a secret on a side branch leaks as soon as it is pushed.
ALL_REFS = ("--all",)
PLAIN_SECRET = "Plaintext Kubernetes Secret"  # noqa: S105  # pragma: allowlist secret (a name)
MAX_BYTES = 1_000_000
YAML_SUFFIXES = (".yaml", ".yml")
_HEX_DIGEST = re.compile(r"^[0-9a-fA-F]{64}$")
_GIT_OBJECT = re.compile(r"^[0-9a-f]{40}$")
_GIT_CONTEXT = re.compile(r"revision|commit|\bsha\b|\bref\b", re.IGNORECASE)
# A Kubernetes name, namespace or label key ("kube-system", "sealedsecrets.bitnami.com/x").
_K8S_NAME = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    kind: str
    origin: str | None = None  # None: the working tree; else the commit or blob it came from

    def describe(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.kind}" + (f" ({self.origin})" if self.origin else "")


@dataclass(frozen=True)
class Allowed:
    pattern: str
    kinds: tuple[str, ...]
    reason: str
    match: re.Pattern[str] | None = None  # when set, only lines matching it are allowed

    def covers(self, path: str, kind: str, line: str = "") -> bool:
        # A plaintext Secret is never "known safe": it must be sealed instead.
        if kind == PLAIN_SECRET:
            return False
        if self.match is not None and not self.match.search(line):
            return False
        return fnmatch.fnmatch(path, self.pattern) and ("*" in self.kinds or kind in self.kinds)


def load_allowlist(path: Path) -> list[Allowed]:
    """Entries: {path: glob, types: [detector names or "*"], reason: why it is safe,
    match: optional regex the finding's line must match}."""
    if not path.exists():
        return []
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError:
        raise GitOpsError(f"{path.name} is not valid YAML; fix it.") from None
    entries = data.get("allow", []) if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise GitOpsError(f"{path.name} must hold a list under `allow:`; fix it.")
    out = []
    for number, entry in enumerate(entries, start=1):
        if not (isinstance(entry, dict) and entry.get("path") and entry.get("types")
                and str(entry.get("reason", "")).strip()):
            raise GitOpsError(f"{path.name} entry {number} needs path, types and a reason; complete it.")
        if PLAIN_SECRET in entry["types"]:
            raise GitOpsError(f"{path.name} entry {number} allows a plaintext Secret; seal it instead.")
        try:
            match = re.compile(str(entry["match"])) if entry.get("match") else None
        except re.error:
            raise GitOpsError(f"{path.name} entry {number} `match` is not a regex; fix it.") from None
        kinds = tuple(str(t) for t in entry["types"])
        out.append(Allowed(str(entry["path"]), kinds, str(entry["reason"]), match))
    return out


def skipped(path: str, allow: Sequence[Allowed]) -> bool:
    """Non-YAML files allowed for every detector are not read at all (lock files); YAML files are
    always read, for the plaintext-Secret check."""
    return not path.endswith(YAML_SUFFIXES) and any(
        a.match is None and "*" in a.kinds and a.covers(path, "*") for a in allow
    )


# --- our own check -------------------------------------------------------------------------


def _documents(text: str) -> list[Any]:
    try:
        return list(yaml.safe_load_all(text))
    except yaml.YAMLError:
        return []  # templated or broken YAML is reported by the manifests checks, not here


def _flatten(docs: Iterable[Any]) -> Iterator[dict[str, Any]]:
    for doc in docs:
        if isinstance(doc, dict):
            if doc.get("kind") == "List" or str(doc.get("kind", "")).endswith("List"):
                yield from (i for i in doc.get("items") or [] if isinstance(i, dict))
            else:
                yield doc


def plain_secrets(text: str) -> list[int]:
    """1-based line of each `kind: Secret` document with data, 0 when the line is unknown."""
    lines = []
    for doc in _flatten(_documents(text)):
        if doc.get("kind") == "Secret" and (doc.get("data") or doc.get("stringData")):
            name = (doc.get("metadata") or {}).get("name")
            lines.append(_line_of_secret(text, name))
    return lines


def _line_of_secret(text: str, name: Any) -> int:
    for number, line in enumerate(text.splitlines(), start=1):
        if name and re.match(rf"\s*name:\s*['\"]?{re.escape(str(name))}['\"]?\s*$", line):
            return number
    return 0


def ciphertexts(text: str) -> set[str]:
    """Values of spec.encryptedData in SealedSecret documents: ciphertext, safe to commit."""
    out: set[str] = set()
    for doc in _flatten(_documents(text)):
        if doc.get("kind") == "SealedSecret":
            data = (doc.get("spec") or {}).get("encryptedData") or {}
            out.update(str(v) for v in data.values())
    return out


# --- detect-secrets ------------------------------------------------------------------------


def _safe_shape(kind: str, value: str | None, line: str, sealed: set[str]) -> bool:
    if value is None:
        return False
    if len(value) >= 8 and any(value in c for c in sealed):
        return True
    if kind == "Secret Keyword" and _K8S_NAME.match(value) and not any(c.isdigit() for c in value):
        # `SEALED_SECRETS_NAMESPACE = "kube-system"`: the keyword is in a name and the value is a
        # Kubernetes name (lower-case, no digits), not a credential.
        return True
    if kind != "Hex High Entropy String":
        return False
    if _HEX_DIGEST.match(value) and "sha256" in line.lower():
        return True
    # Git object ids, e.g. an Argo CD Application's status.sync.revision.
    return bool(_GIT_OBJECT.match(value)) and bool(_GIT_CONTEXT.search(line))


def detect(path: str, numbered_lines: Sequence[tuple[int, str]], sealed: set[str],
           allow: Sequence[Allowed]) -> list[tuple[int, str]]:
    """(line, detector name) for each detect-secrets finding in these lines that is not allowed."""
    text_of = dict(numbered_lines)
    found = []
    with default_settings():
        for secret in _process_line_based_plugins(list(numbered_lines), path):
            line = text_of.get(secret.line_number, "")
            if _safe_shape(secret.type, secret.secret_value, line, sealed):
                continue
            if not any(a.covers(path, secret.type, line) for a in allow):
                found.append((secret.line_number, secret.type))
    return found


def scan_text(path: str, text: str, allow: Sequence[Allowed], *, origin: str | None = None,
              lines: Sequence[tuple[int, str]] | None = None, full_text: bool = True) -> list[Finding]:
    """Both checks over one file's content (or, for history, the lines a commit added)."""
    is_yaml = path.endswith(YAML_SUFFIXES)
    sealed = ciphertexts(text) if is_yaml and full_text else set()
    numbered = list(lines) if lines is not None else list(enumerate(text.splitlines(), start=1))
    findings = [Finding(path, n, kind, origin) for n, kind in detect(path, numbered, sealed, allow)]
    if is_yaml and full_text:
        findings += [Finding(path, n, PLAIN_SECRET, origin) for n in plain_secrets(text)]
    return findings


def _decode(data: bytes) -> str | None:
    if b"\0" in data[:8192] or len(data) > MAX_BYTES:
        return None
    return data.decode("utf-8", errors="replace")


# --- working tree --------------------------------------------------------------------------


def _git(root: Path, *args: str, input_text: str | None = None) -> str:
    return run.run(["git", "-C", str(root), *args], input_text=input_text, timeout=120).stdout


def tree_files(root: Path, staged: bool = False) -> list[str]:
    if staged:
        out = _git(root, "diff", "--cached", "--name-only", "--diff-filter=ACMR", "-z")
    else:
        out = _git(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    return sorted({p for p in out.split("\0") if p})


def scan_tree(root: Path, allow: Sequence[Allowed], *, staged: bool = False) -> list[Finding]:
    findings: list[Finding] = []
    for rel in tree_files(root, staged):
        if skipped(rel, allow):
            continue
        if staged:
            # What is about to be committed is the index's copy, not the file on disk.
            text = _decode(_git(root, "show", f":{rel}").encode())
        else:
            file = root / rel
            if not file.is_file() or file.is_symlink():
                continue
            text = _decode(file.read_bytes())
        if text is not None:
            findings += scan_text(rel, text, allow)
    return findings


# --- history -------------------------------------------------------------------------------

_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,\d+)? @@")


def added_lines(log: str) -> Iterator[tuple[str, str, list[tuple[int, str]]]]:
    """(commit, path, [(line number, text)]) for each file each commit touched, from `git log -p -U0`."""
    commit, path, number = "", "", 0
    current: list[tuple[int, str]] = []

    def flush() -> Iterator[tuple[str, str, list[tuple[int, str]]]]:
        if path and current:
            yield commit, path, list(current)

    for line in log.splitlines():
        if line.startswith("commit ") and len(line) == 47:
            yield from flush()
            commit, path, current = line[7:], "", []
        elif line.startswith("+++ "):
            yield from flush()
            current = []
            path = line[6:] if line.startswith("+++ b/") else ""
        elif line.startswith("@@"):
            match = _HUNK.match(line)
            number = int(match.group(1)) if match else 0
        elif line.startswith("+") and path:
            current.append((number, line[1:]))
            number += 1
    yield from flush()


def yaml_blobs(root: Path, refs: Sequence[str] = ALL_REFS) -> dict[str, str]:
    """Every YAML blob reachable from `refs`, once per content: {blob id: a path it had}."""
    blobs: dict[str, str] = {}
    for line in _git(root, "rev-list", *refs, "--objects").splitlines():
        sha, _, path = line.partition(" ")
        if path.endswith(YAML_SUFFIXES) and sha not in blobs:
            blobs[sha] = path
    return blobs


def read_blobs(root: Path, shas: Sequence[str]) -> dict[str, str]:
    if not shas:
        return {}
    raw = _git(root, "cat-file", "--batch", input_text="".join(f"{s}\n" for s in shas)).encode()
    out: dict[str, str] = {}
    pos = 0
    for sha in shas:
        end = raw.index(b"\n", pos)
        header = raw[pos:end].split()
        if len(header) != 3 or header[1] != b"blob":
            break
        size = int(header[2])
        body = raw[end + 1 : end + 1 + size]
        if raw[end + 1 + size : end + 2 + size] != b"\n":
            break  # a non-UTF-8 blob shifted the stream; read the rest one by one
        out[sha] = body.decode("utf-8", errors="replace")
        pos = end + 2 + size
    for sha in shas:
        if sha not in out:
            out[sha] = _git(root, "cat-file", "blob", sha)
    return out


def scan_history(root: Path, allow: Sequence[Allowed], refs: Sequence[str] = ALL_REFS) -> list[Finding]:
    findings: list[Finding] = []
    if not _git(root, "rev-list", *refs, "--max-count=1").strip():
        return findings
    log = _git(root, "log", *refs, "-p", "-U0", "--no-color", "--no-ext-diff", "--no-textconv",
               "--format=commit %H", "--diff-filter=AM")
    sealed_by_blob = {}
    blobs = yaml_blobs(root, refs)
    for sha, text in read_blobs(root, list(blobs)).items():
        path = blobs[sha]
        if skipped(path, allow):
            continue
        sealed_by_blob[sha] = ciphertexts(text)
        origin = f"in history, blob {sha[:12]}"
        findings += [Finding(path, n, PLAIN_SECRET, origin) for n in plain_secrets(text)]
    all_sealed = set().union(*sealed_by_blob.values()) if sealed_by_blob else set()
    for commit, path, lines in added_lines(log):
        if skipped(path, allow):
            continue
        sealed = all_sealed if path.endswith(YAML_SUFFIXES) else set()
        findings += [
            Finding(path, n, kind, f"added in commit {commit[:12]}")
            for n, kind in detect(path, lines, sealed, allow)
        ]
    return findings


@dataclass(frozen=True)
class ScanReport:
    findings: tuple[Finding, ...]
    scanned: str

    @property
    def ok(self) -> bool:
        return not self.findings


def scan(root: Path, *, history: bool = True, staged: bool = False,
         refs: Sequence[str] = ALL_REFS) -> ScanReport:
    """Scan the working tree (or only the staged files) and, unless told not to, the history of `refs`."""
    allow = load_allowlist(root / ALLOWLIST)
    findings = scan_tree(root, allow, staged=staged)
    scanned = "staged files" if staged else "working tree"
    if history and not staged:
        findings += scan_history(root, allow, refs)
        scanned += " and Git history"
    unique = sorted(set(findings), key=lambda f: (f.path, f.line, f.kind, f.origin or ""))
    return ScanReport(tuple(unique), scanned)


HOOK_SOURCE = Path("scripts/hooks/pre-commit")


def install_hook(root: Path) -> Path:
    """Point the repository's pre-commit hook at scripts/hooks/pre-commit (never clobbering another)."""
    hooks = Path(_git(root, "rev-parse", "--git-path", "hooks").strip())
    hooks = hooks if hooks.is_absolute() else root / hooks
    hook = hooks / "pre-commit"
    source = (root / HOOK_SOURCE).resolve()
    if hook.is_symlink() and hook.resolve() == source:
        return hook
    if hook.exists() or hook.is_symlink():
        raise GitOpsError(
            f"{hook} already exists; add `{source}` to it yourself or move it away and run this again."
        )
    hooks.mkdir(parents=True, exist_ok=True)
    hook.symlink_to(source)
    return hook
