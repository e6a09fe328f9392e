"""Hash-pinned lock files: the repository's tool venv and the TaskNote image.

The repository lock (requirements.lock) is for the Python that runs ./inv here. The image
has its own locks, resolved for the interpreter the image runs (Debian trixie's 3.13 in
python:3.13-slim-trixie and distroless python3-debian13) on Linux x86_64:
- apps/tasknote/requirements.lock: the app's runtime dependencies (its pyproject);
- apps/tasknote/build-requirements.lock: the app's build backend ([build-system] requires),
  installed in the builder stage only, so it never reaches the final image.
"""

from __future__ import annotations

import sys
import tempfile
import tomllib
from collections.abc import Sequence
from pathlib import Path

from gitops.core import run
from gitops.core.errors import GitOpsError

IMAGE_PYTHON = "3.13"
IMAGE_PLATFORM = "x86_64-unknown-linux-gnu"
REGENERATE = "./inv dev.lock"


def uv() -> list[str]:
    return [sys.executable, "-m", "uv"]


def repo_lock_argv() -> list[str]:
    return [
        *uv(), "pip", "compile", "--quiet", "--python-version", "3.11",
        "--generate-hashes", "--extra", "dev", "pyproject.toml",
        "apps/tasknote/pyproject.toml", "requirements.in", "-o", "requirements.lock",
    ]


def image_lock_argv(sources: Sequence[str], output: str) -> list[str]:
    """uv pip compile for the image's interpreter and platform, hashes on every line."""
    return [
        *uv(), "pip", "compile", "--quiet", "--python-version", IMAGE_PYTHON,
        "--python-platform", IMAGE_PLATFORM, "--generate-hashes",
        "--custom-compile-command", REGENERATE, *sources, "-o", output,
    ]


def build_requirements(pyproject: Path) -> list[str]:
    """The [build-system] requires of a pyproject.toml (what builds the app's wheel)."""
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise GitOpsError(f"{pyproject} cannot be read as TOML ({exc}); fix the file.") from None
    requires = (data.get("build-system") or {}).get("requires") or []
    if not requires:
        raise GitOpsError(f"{pyproject} has no [build-system] requires; name the build backend there.")
    return [str(r) for r in requires]


def regenerate(root: Path) -> list[Path]:
    """Rewrite the repository lock and the image's two locks; returns the files written."""
    app = root / "apps" / "tasknote"
    run.stream(repo_lock_argv(), cwd=root)
    run.stream(image_lock_argv(["pyproject.toml"], "requirements.lock"), cwd=app)
    with tempfile.TemporaryDirectory(prefix="tasknote-build-reqs-") as tmp:
        source = Path(tmp) / "build-requirements.in"
        source.write_text("\n".join(build_requirements(app / "pyproject.toml")) + "\n", encoding="utf-8")
        run.stream(image_lock_argv([str(source)], "build-requirements.lock"), cwd=app)
    # uv records the temporary input's path in the "via" comments; name the real source.
    build_lock = app / "build-requirements.lock"
    text = build_lock.read_text(encoding="utf-8").replace(str(source), "pyproject.toml [build-system]")
    build_lock.write_text(text, encoding="utf-8")
    return [root / "requirements.lock", app / "requirements.lock", build_lock]
