"""Secret scanner over the working tree, the staged files and the whole Git history.

Checks:
- detect-secrets (Yelp's maintained scanner, from the lock file) for private keys, tokens and
  high-entropy strings, line by line (scan_lines: prefiltered and cached, same results);
- our own (scan_documents): a Kubernetes `kind: Secret` carrying `data` or `stringData`, in YAML
  or JSON, parsed one document at a time; files read by a kustomize secretGenerator and its
  literals; secret-named keys with values in `.env` files.

Every text file is read, whatever its size, as a stream of lines (a file with a NUL byte in its
first 8 KiB is binary and skipped). Known-safe findings are listed in .secretscan-allow.yaml,
each with a reason. Four safe shapes are recognised without an entry: SealedSecret ciphertext
(values of spec.encryptedData), content digests (64 hex characters on a line naming sha256), Git
object ids (40 hex characters on a line naming a revision, commit, sha or ref) and keyword hits
whose value is a Kubernetes name without digits (`SEALED_SECRETS_NAMESPACE = "kube-system"`).

History is scanned as the lines each commit added (`git log -p` over all refs), so every line
that ever existed is scanned once, and the structured blobs of every commit (YAML, JSON, and any
file whose added lines name a Secret kind) are parsed once per content. The git and file
plumbing (file lists, streamed lines, `git log -p`, `cat-file --batch`) is in scan_git.
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from gitops.core.errors import GitOpsError
from gitops.secrets import scan_documents as documents
from gitops.secrets import scan_git, scan_lines

ALLOWLIST = ".secretscan-allow.yaml"
ALL_REFS = scan_git.ALL_REFS
PLAIN_SECRET = documents.PLAIN_SECRET
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
        # A plaintext Secret is never "known safe": it must be sealed instead. The one exception
        # is a test fixture named by exact path and type (load_allowlist enforces where).
        if kind == PLAIN_SECRET:
            return PLAIN_SECRET in self.kinds and path == self.pattern
        if self.match is not None and not self.match.search(line):
            return False
        return fnmatch.fnmatch(path, self.pattern) and ("*" in self.kinds or kind in self.kinds)


def is_test_fixture(pattern: str) -> bool:
    """One file (no glob) under a tests/**/fixtures/ folder: nothing deployable, nothing shared."""
    return (pattern.startswith("tests/") and "/fixtures/" in pattern
            and not any(ch in pattern for ch in "*?[") and ".." not in pattern)


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
        if PLAIN_SECRET in entry["types"] and not is_test_fixture(str(entry["path"])):
            raise GitOpsError(f"{path.name} entry {number} allows a plaintext Secret; seal it instead.")
        try:
            match = re.compile(str(entry["match"])) if entry.get("match") else None
        except re.error:
            raise GitOpsError(f"{path.name} entry {number} `match` is not a regex; fix it.") from None
        kinds = tuple(str(t) for t in entry["types"])
        out.append(Allowed(str(entry["path"]), kinds, str(entry["reason"]), match))
    return out


def skipped(path: str, allow: Sequence[Allowed]) -> bool:
    """Files allowed for every detector (lock files) skip the line detectors; the document checks
    (plaintext Secrets, generators, env files) still read them."""
    return any(a.match is None and "*" in a.kinds and a.covers(path, "*") for a in allow)


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


@dataclass
class Scanner:
    """One scan's shared state: the allowlist, the line cache and what paths exist in Git."""

    allow: Sequence[Allowed]
    exists: Callable[[str], bool]
    lines: scan_lines.LineScanner = field(default_factory=scan_lines.LineScanner)

    def allowed(self, path: str, kind: str, line: str) -> bool:
        return any(a.covers(path, kind, line) for a in self.allow)

    def detect(self, path: str, numbered: Iterable[tuple[int, str]], sealed: set[str],
               origin: str | None) -> list[Finding]:
        """detect-secrets findings of these lines that are neither safe shapes nor allowed."""
        found = self.lines.scan(path, numbered)
        return [Finding(path, n, kind, origin) for n, kind, value, line in found
                if not _safe_shape(kind, value, line, sealed) and not self.allowed(path, kind, line)]

    def scan_file(self, path: str, lines: Iterable[str],
                  origin: str | None = None) -> tuple[list[Finding], set[str]]:
        """Every check over one file's lines, read once as a stream; also returns its ciphertexts."""
        splitter = documents.DocumentSplitter(documents.keeps_all_documents(path))
        found = documents.DocumentFindings()
        env_hits: list[tuple[int, str, str]] = []
        env_file = documents.is_env_file(path)

        def tee() -> Iterator[tuple[int, str]]:
            for number, line in enumerate(lines, start=1):
                if (doc := splitter.feed(number, line)) is not None:
                    documents.scan_document(path, doc, found, self.exists)
                if env_file:
                    env_hits.extend((n, k, line) for n, k in documents.env_findings([(number, line)]))
                yield number, line

        if skipped(path, self.allow):
            raw: list[tuple[int, str, str | None, str]] = []
            for _ in tee():
                pass
        else:
            raw = self.lines.scan(path, tee())
        if (doc := splitter.close()) is not None:
            documents.scan_document(path, doc, found, self.exists)
        sealed = found.ciphertexts
        out = [Finding(path, n, kind, origin) for n, kind, value, line in raw
               if not _safe_shape(kind, value, line, sealed) and not self.allowed(path, kind, line)]
        out += [Finding(path, n, kind, origin) for n, kind in found.findings
                if not self.allowed(path, kind, "")]
        out += [Finding(path, n, kind, origin) for n, kind, line in env_hits
                if not self.allowed(path, kind, line)]
        return out, sealed


# --- working tree --------------------------------------------------------------------------


def _in(paths: set[str]) -> Callable[[str], bool]:
    return lambda path: posixpath.normpath(path) in paths


def scan_tree(root: Path, allow: Sequence[Allowed], *, staged: bool = False,
              scanner: Scanner | None = None) -> list[Finding]:
    findings: list[Finding] = []
    files = scan_git.tree_files(root, staged)
    if scanner is None:
        in_git = set(scan_git.git(root, "ls-files", "-z", "--cached").split("\0")) if staged else set(files)
        scanner = Scanner(allow, _in(in_git))
    for rel in files:
        lines: Iterable[str] | None
        if staged:
            # What is about to be committed is the index's copy, not the file on disk.
            lines = scan_git.text_lines(scan_git.git(root, "show", f":{rel}").encode())
        else:
            file = root / rel
            if not file.is_file() or file.is_symlink():
                continue
            lines = scan_git.file_lines(file)
        if lines is not None:
            findings += scanner.scan_file(rel, lines)[0]
    return findings


# --- history -------------------------------------------------------------------------------

def scan_history(root: Path, allow: Sequence[Allowed], refs: Sequence[str] = ALL_REFS,
                 scanner: Scanner | None = None) -> list[Finding]:
    findings: list[Finding] = []
    if not scan_git.git(root, "rev-list", *refs, "--max-count=1").strip():
        return findings
    objects = scan_git.history_objects(root, refs)
    ever = {posixpath.normpath(p) for p in objects.values()}
    scanner = scanner or Scanner(allow, _in(ever))
    scanner.exists = _in(ever)
    # --no-renames: a file renamed and edited in one commit shows as added in full, so its new
    # lines are not lost in a rename diff.
    log = scan_git.git(root, "log", *refs, "-p", "-U0", "--no-color", "--no-ext-diff", "--no-textconv",
               "--no-renames", "--format=commit %H", "--diff-filter=AM")
    changes = list(scan_git.added_lines(log))
    # Structured blobs (and any file whose added lines name a Secret kind) are parsed whole.
    hinted = {(commit, path) for commit, path, lines in changes
              if not documents.is_structured(path)
              and any(documents.mentions_secret_kind(text) for _, text in lines)}
    wanted = {sha: path for sha, path in objects.items() if documents.is_structured(path)}
    if hinted:
        specs = [f"{commit}:{path}" for commit, path in sorted(hinted)]
        for spec, sha in zip(specs, scan_git.git(root, "rev-parse", *specs).split(), strict=True):
            wanted.setdefault(sha, spec.split(":", 1)[1])
    sealed: set[str] = set()
    for sha, data in scan_git.read_blobs(root, list(wanted)).items():
        lines = scan_git.text_lines(data)
        if lines is None:
            continue
        path = wanted[sha]
        origin = f"in history, blob {sha[:12]}"
        splitter_out = documents.DocumentFindings()
        for doc in documents.documents(enumerate(lines, start=1), documents.keeps_all_documents(path)):
            documents.scan_document(path, doc, splitter_out, scanner.exists)
        sealed |= splitter_out.ciphertexts
        findings += [Finding(path, n, kind, origin) for n, kind in splitter_out.findings
                     if not scanner.allowed(path, kind, "")]
    for commit, path, added in changes:
        origin = f"added in commit {commit[:12]}"
        if not skipped(path, allow):
            findings += scanner.detect(path, added, sealed, origin)
        if documents.is_env_file(path):
            text = dict(added)
            findings += [Finding(path, n, kind, origin) for n, kind in documents.env_findings(added)
                         if not scanner.allowed(path, kind, text.get(n, ""))]
    return findings


@dataclass(frozen=True)
class ScanReport:
    findings: tuple[Finding, ...]
    scanned: str

    @property
    def ok(self) -> bool:
        return not self.findings


def scan(root: Path, *, history: bool = True, staged: bool = False,
         refs: Sequence[str] = ALL_REFS, prefilter: bool = True) -> ScanReport:
    """Scan the working tree (or only the staged files) and, unless told not to, the history of `refs`.

    The tree and the history share one line cache: a line that is in both is scanned once.
    `prefilter=False` sends every line to detect-secrets (bench/secretscan.py compares)."""
    allow = load_allowlist(root / ALLOWLIST)
    files = scan_git.tree_files(root, staged)
    in_git = set(scan_git.git(root, "ls-files", "-z", "--cached").split("\0")) if staged else set(files)
    with scan_lines.detect_secrets_settings():
        scanner = Scanner(allow, _in(in_git), scan_lines.LineScanner(use_prefilter=prefilter))
        findings = scan_tree(root, allow, staged=staged, scanner=scanner)
        scanned = "staged files" if staged else "working tree"
        if history and not staged:
            findings += scan_history(root, allow, refs, scanner)
            scanned += " and Git history"
    unique = sorted(set(findings), key=lambda f: (f.path, f.line, f.kind, f.origin or ""))
    return ScanReport(tuple(unique), scanned)


HOOK_SOURCE = Path("scripts/hooks/pre-commit")


def install_hook(root: Path) -> Path:
    """Point the repository's pre-commit hook at scripts/hooks/pre-commit (never clobbering another)."""
    hooks = Path(scan_git.git(root, "rev-parse", "--git-path", "hooks").strip())
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
