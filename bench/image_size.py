"""Image benchmark: final size, cold build time and code-only rebuild time of the TaskNote image.

Each figure is printed beside a reference measured in the same run on the same engine:
- size beside python:3.13-slim-trixie (the builder base; a Debian-slim final stage would be
  at least that plus the venv);
- code-only rebuild beside the cold build (ratio cold / code-only).

"Cold" is `docker build --no-cache`: every layer is rebuilt; BuildKit's pip cache mount is
kept (as on a CI runner with a warm download cache), so it measures building, not PyPI.
The code-only rebuild edits one file under src/ in a temporary copy of apps/tasknote (the
repository is not touched) after a warm build of that copy.

Targets (issue 4): size <= 120 MB, code-only rebuild <= 5 s.  Run: .venv/bin/python bench/image_size.py
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import uuid
from dataclasses import replace
from pathlib import Path

from gitops.core import run
from gitops.core.repo import Repo
from gitops.images import app

REFERENCE_IMAGE = "python:3.13-slim-trixie"
TARGET_MB = 120.0
TARGET_CODE_ONLY_S = 5.0


def timed_build(spec: app.BuildSpec, built: set[str]) -> float:
    """Seconds one build took; adds the image id to `built` (each rebuild re-tags, leaving the
    previous image untagged, so the bench removes them all by id at the end)."""
    argv = app.build_argv("docker", spec)
    started = time.monotonic()
    run.run(argv, env={"DOCKER_BUILDKIT": "1"}, timeout=1800)
    seconds = time.monotonic() - started
    built.add(app.inspect(spec.refs[0]).id)
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="code-only rebuilds to time (median kept)")
    args = parser.parse_args()

    tag = f"tasknote:bench-{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory(prefix="tasknote-bench-") as tmp:
        context = Path(tmp) / "tasknote"
        shutil.copytree(Repo.discover().app, context, ignore=shutil.ignore_patterns(
            "__pycache__", "*.egg-info", ".venv", "tests"))
        spec = replace(app.local_spec(Repo.discover(), tag=tag), context=context)
        built: set[str] = set()
        try:
            cold_s = timed_build(replace(spec, no_cache=True), built)
            size_mb = app.inspect(tag).size_mb
            reference_mb = app.inspect(REFERENCE_IMAGE).size_mb
            timed_build(spec, built)  # warm: everything cached, the baseline for the edits below
            edited = context / "src" / "tasknote" / "__init__.py"
            code_only: list[float] = []
            for i in range(args.repeat):
                with edited.open("a", encoding="utf-8") as fh:
                    fh.write(f"# bench edit {i} {uuid.uuid4().hex}\n")
                code_only.append(timed_build(spec, built))
        finally:
            run.run(["docker", "image", "rm", tag], check=False, timeout=60)
            if built:
                run.run(["docker", "image", "rm", *sorted(built)], check=False, timeout=60)

    code_only_s = sorted(code_only)[len(code_only) // 2]
    print(f"{'final image size':<34} {size_mb:8.1f} MB   target <= {TARGET_MB:.0f} MB  "
          f"{'ok' if size_mb <= TARGET_MB else 'OVER'}")
    print(f"{'reference ' + REFERENCE_IMAGE:<34} {reference_mb:8.1f} MB   "
          f"ratio image/reference {size_mb / reference_mb:.2f}")
    print(f"{'cold build (--no-cache)':<34} {cold_s:8.1f} s")
    print(f"{'code-only rebuild (median of ' + str(len(code_only)) + ')':<34} {code_only_s:8.1f} s    "
          f"target <= {TARGET_CODE_ONLY_S:.0f} s  {'ok' if code_only_s <= TARGET_CODE_ONLY_S else 'OVER'}  "
          f"(runs: {', '.join(f'{s:.1f}' for s in code_only)})")
    print(f"{'ratio cold / code-only':<34} {cold_s / code_only_s:8.1f} x")
    return 0 if size_mb <= TARGET_MB and code_only_s <= TARGET_CODE_ONLY_S else 1


if __name__ == "__main__":
    sys.exit(main())
