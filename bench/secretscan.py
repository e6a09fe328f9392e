"""How long `secrets.scan` (working tree + all history) takes, as a ratio to reading the same
history with `git log -p | wc -c` in the same run.

    .venv/bin/python bench/secretscan.py [--rounds N] [--refs REF ...]

Reference: `git log <refs> -p` piped into `wc -c`, i.e. git producing every patch of the history
the scanner reads and nothing else. Measured against it, each the median of N rounds:

- scan: gitops.secrets.scan.scan over the working tree and the history of the same refs, in
  process (what `./inv secrets.scan` runs after start-up);
- scan, no prefilter: the same with the line prefilter off (every line through detect-secrets,
  still cached per line), to show what the prefilter buys.

Target (issue 16): tree + history within 10 s on this repository. Seconds are printed for
context; the result is the ratio, since this machine is shared.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import time
from collections.abc import Callable

from gitops.core.repo import Repo
from gitops.secrets import scan

ROOT = Repo.discover().root


def median_seconds(action: Callable[[], object], rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def git_log_wc(refs: list[str]) -> int:
    log = subprocess.Popen(["git", "-C", str(ROOT), "log", *refs, "-p"], stdout=subprocess.PIPE)
    count = subprocess.run(["wc", "-c"], stdin=log.stdout, capture_output=True, text=True, check=True)
    log.wait()
    return int(count.stdout.split()[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--refs", nargs="*", default=list(scan.ALL_REFS))
    args = parser.parse_args()
    size = git_log_wc(args.refs)
    reference = median_seconds(lambda: git_log_wc(args.refs), args.rounds)
    report: list[scan.ScanReport] = []
    fast = median_seconds(lambda: report.append(scan.scan(ROOT, refs=args.refs)), args.rounds)

    slow = median_seconds(lambda: scan.scan(ROOT, refs=args.refs, prefilter=False), 1)
    print(f"history: git log {' '.join(args.refs)} -p = {size:,} bytes")
    print(f"reference  git log -p | wc -c      {reference:7.2f} s   1.0x")
    print(f"scan       tree + history          {fast:7.2f} s   {fast / reference:.1f}x   "
          f"({len(report[-1].findings)} finding(s); target <= 10 s)")
    print(f"scan       without the prefilter   {slow:7.2f} s   {slow / reference:.1f}x")


if __name__ == "__main__":
    main()
