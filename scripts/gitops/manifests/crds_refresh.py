"""Refresh a vendored CRD group from upstream for the release versions.yaml pins.

Downloads every file a group's source.yaml lists from the release tag on GitHub (raw file
URLs), checks each is a CRD of that group, and only then writes the files and the new record
(release, sha256, tag, exact: true) atomically: a failed refresh leaves the tree byte-identical.
Adding an upstream file (cert-manager's CRDs, say) is one step: `--add <path in the upstream
repo>` (with `--repo` for a group not vendored yet) appends it to the record and fetches it; on a
machine without GitHub, `--from-file <copy> --fetched-from <ref>` vendors a copy obtained
another way, recorded as such (vendor_file).
The network is the one boundary: `fetch` is a parameter so tests can stand in for GitHub.
"""

from __future__ import annotations

import hashlib
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gitops.core import config, files
from gitops.core.errors import GitOpsError
from gitops.manifests import crds

Fetch = Callable[[str], bytes]
TIMEOUT_S = 30
RAW_BASE = "https://raw.githubusercontent.com"


def github_raw(url: str) -> bytes:
    """GET a raw file; any network failure is one sentence naming the URL."""
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:  # noqa: S310 (https URL we build)
            return bytes(response.read())
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise GitOpsError(f"cannot download {url} ({reason}); run ./inv manifests.crds-refresh on a "
                          "machine that reaches GitHub.") from None


def raw_url(repo: str, tag: str, path: str) -> str:
    """https://github.com/<owner>/<name>[.git] + tag + path -> the raw file URL."""
    slug = repo.removeprefix("https://github.com/").removesuffix(".git").strip("/")
    if slug.count("/") != 1 or slug == repo:
        raise GitOpsError(f"source repo {repo!r} is not https://github.com/<owner>/<name>; fix source.yaml.")
    return f"{RAW_BASE}/{slug}/{tag}/{path.lstrip('/')}"


@dataclass(frozen=True)
class Plan:
    """What a refresh writes: (file, bytes) pairs and the new source.yaml text."""

    writes: tuple[tuple[Path, bytes], ...]


def pinned_version(versions: dict[str, Any], group: str) -> str:
    entry = ((versions.get("schemas") or {}).get("crds") or {}).get(group)
    if not isinstance(entry, dict) or not entry.get("pin"):
        raise GitOpsError(f"versions.yaml schemas.crds has no {group} entry with a pin; add "
                          f"`{group}: {{version: ..., kinds: [...], pin: <path of the release pin>}}`.")
    value = config.lookup(versions, *str(entry["pin"]).split("."))
    if value is None:
        raise GitOpsError(f"versions.yaml schemas.crds.{group}.pin names {entry['pin']}, which does not "
                          "exist; fix the pin.")
    return str(value).lstrip("v")


def record_for(root: Path, group: str, repo: str) -> dict[str, Any]:
    """The group's source.yaml as data, or a new record when the group is not vendored yet."""
    path = root / crds.UPSTREAM_DIR / group / crds.SOURCE_FILE
    if path.is_file():
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        crds.read_group(path.parent)  # one-sentence error when the record is malformed
        return dict(data)
    if not repo:
        raise GitOpsError(f"{group} is not vendored yet; give --repo https://github.com/<owner>/<name>.")
    return {"group": group, "version": "", "repo": repo, "tag": "v{version}", "files": []}


def checked(body: bytes, where: str, group: str) -> bytes:
    """body, once it is known to hold only CRDs of `group`."""
    for crd in crds.crd_documents(body.decode("utf-8"), where):
        found = str((crd.get("spec") or {}).get("group", ""))
        if found != group:
            raise GitOpsError(f"{where} defines CRDs of group {found!r}, not {group}; check the path.")
    return body


def record_write(directory: Path, record: dict[str, Any]) -> tuple[Path, bytes]:
    header = (f"# Upstream CRD files of {record['group']}, byte for byte; written by ./inv "
              "manifests.crds-refresh.\n# gitops.pins checks version against versions.yaml and each "
              "sha256 against the file.\n")
    return directory / crds.SOURCE_FILE, (header + yaml.safe_dump(record, sort_keys=False)).encode("utf-8")


def plan(root: Path, versions: dict[str, Any], group: str, fetch: Fetch, add: str = "",
         repo: str = "") -> Plan:
    """Download every file of the group (and `add`, a new upstream path) at the pinned tag."""
    record = record_for(root, group, repo)
    version = pinned_version(versions, group)
    tag = str(record.get("tag") or "v{version}").replace("{version}", version)
    entries = [dict(e) for e in record.get("files") or []]
    if add and all(e.get("path") != add for e in entries):
        entries.append({"file": Path(add).name, "path": add})
    if not entries:
        raise GitOpsError(f"{group} lists no upstream files; name one with --add <path in the repository>.")
    directory = root / crds.UPSTREAM_DIR / group
    writes: list[tuple[Path, bytes]] = []
    for entry in entries:
        url = raw_url(str(record["repo"]), tag, str(entry["path"]))
        body = checked(fetch(url), url, group)
        writes.append((directory / str(entry["file"]), body))
        entry.update(sha256=hashlib.sha256(body).hexdigest(), fetched_from=tag, exact=True)
        entry.pop("note", None)
    record.update(group=group, version=version, files=entries)
    writes.append(record_write(directory, record))
    return Plan(tuple(writes))


def vendor_file(root: Path, versions: dict[str, Any], group: str, add: str, source: Path,
                fetched_from: str, repo: str = "") -> list[Path]:
    """Vendor a copy of upstream file `add` obtained another way (a machine without GitHub): its
    bytes unchanged, recorded with the ref it was taken at (`exact` only when that is the pinned
    release's tag), so pins and a later refresh know what it is."""
    if not add or not fetched_from:
        raise GitOpsError("--from-file needs --add <path in the upstream repository> and --fetched-from "
                          "<the tag or commit the copy was taken at>.")
    record = record_for(root, group, repo)
    version = pinned_version(versions, group)
    entries = [dict(e) for e in record.get("files") or []]
    if entries and str(record.get("version", "")) != version:
        raise GitOpsError(f"{group}'s vendored files are of {record.get('version')}, not the pinned "
                          f"{version}; refresh them first (./inv manifests.crds-refresh with GitHub).")
    try:
        body = checked(source.read_bytes(), str(source), group)
    except OSError as exc:
        raise GitOpsError(f"cannot read {source} ({exc.strerror}); give the path of the CRD file.") from None
    tag = str(record.get("tag") or "v{version}").replace("{version}", version)
    name = Path(add).name
    entry: dict[str, Any] = {"file": name, "path": add, "sha256": hashlib.sha256(body).hexdigest(),
             "fetched_from": fetched_from, "exact": fetched_from == tag}
    entries = [e for e in entries if e.get("path") != add] + [entry]
    record.update(group=group, version=version, files=entries)
    directory = root / crds.UPSTREAM_DIR / group
    return apply(Plan(((directory / name, body), record_write(directory, record))))


def apply(found: Plan) -> list[Path]:
    """Write the planned files (each atomically) and return them."""
    for path, body in found.writes:
        path.parent.mkdir(parents=True, exist_ok=True)
        files.atomic_write(path, body)
    return [path for path, _ in found.writes]


def refresh(root: Path, versions: dict[str, Any], groups: list[str], fetch: Fetch = github_raw,
            add: str = "", repo: str = "") -> list[Path]:
    """Plan every group first (all downloads), then write: nothing changes unless all succeed."""
    plans = [plan(root, versions, group, fetch, add, repo) for group in groups]
    return [path for found in plans for path in apply(found)]
