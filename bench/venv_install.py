"""How long the first `./inv` takes to build .venv with uv, as a ratio to pip, both from a cold
cache, measured in the same run on fresh clones of this repository.

    python3 bench/venv_install.py [--rounds N]

Reference: `./inv --list` in a fresh clone with TASKNOTE_INSTALLER=pip (pip installs every
package of requirements.lock with --require-hashes). Measured against it: the same with uv (the
default: uv bootstrapped from the lock by pip, then `uv pip install --require-hashes`). Each run
gets an empty pip and uv cache, and pip's machine configuration (extra indexes, find-links of
local wheels) is switched off, so both download from PyPI as a user's first run does. The
median of N rounds per installer is compared; seconds are shown for context only (the machine
is shared and the network varies). It also checks that the first run prints progress lines.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def first_run(installer: str, work: Path) -> tuple[float, list[str]]:
    clone = work / f"clone-{installer}"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_", "VIRTUAL_ENV"))}
    env |= {"TASKNOTE_INSTALLER": installer, "PIP_CONFIG_FILE": os.devnull,
            "PIP_CACHE_DIR": str(work / f"pip-cache-{installer}"),
            "UV_CACHE_DIR": str(work / f"uv-cache-{installer}"),
            "PIP_CERT": os.environ.get("PIP_CERT", ""), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env = {k: v for k, v in env.items() if v}
    started = time.perf_counter()
    result = subprocess.run([str(clone / "inv"), "--list"], cwd=clone, env=env, capture_output=True,
                            text=True, timeout=1800, check=False)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"./inv with {installer} failed:\n{result.stderr[-2000:]}")
    return seconds, [line for line in result.stderr.splitlines() if line.startswith("inv: ")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1, help="runs per installer (median is compared)")
    args = parser.parse_args()
    times: dict[str, list[float]] = {"pip": [], "uv": []}
    progress: dict[str, list[str]] = {}
    for _ in range(args.rounds):
        for installer in ("pip", "uv"):
            with tempfile.TemporaryDirectory(prefix="tasknote-bench-venv-") as tmp:
                seconds, lines = first_run(installer, Path(tmp))
            times[installer].append(seconds)
            progress[installer] = lines
    pip_s, uv_s = statistics.median(times["pip"]), statistics.median(times["uv"])
    for installer, lines in progress.items():
        print(f"progress printed by the first ./inv ({installer}):")
        print("\n".join(f"    {line}" for line in lines))
    print(f"cold first ./inv, median of {args.rounds}: pip {pip_s:.0f} s (reference), uv {uv_s:.0f} s")
    print(f"uv / pip = {uv_s / pip_s:.2f}  (pip is {pip_s / uv_s:.1f}x slower)")


if __name__ == "__main__":
    main()
