"""How long `manifests.check` takes, as a ratio to bare `kubectl kustomize` measured in the same run.

    .venv/bin/python bench/manifests_check.py [--rounds N]

Reference: the bare `kubectl kustomize` of every overlay and cluster root, run in parallel
(as the check renders them), nothing else. Each round times the reference and then every
measurement below, back to back, and a ratio is the median over the rounds of measurement /
that round's reference: on a machine shared with other work the load drifts between rounds,
and a ratio of neighbours cancels most of it (seconds, medians of each, are shown for context).

- check, first run: a fresh process running `python -m invoke manifests.check` with no .cache
  (interpreter and imports, kubectl version probe, render, schema loading, validate, policy);
- check, cold: the same with `--no-cache` (every target rendered afresh, as after an edit; the
  kubectl version check is remembered for the same binary);
- check, cached: the same with the render cache warm (what a developer re-running it sees);
- in-process cold/cached: `gitops.manifests.checks.run` alone, without interpreter start-up.

Targets (issue 17): first run <= 1.5 x and cold <= 1.2 x the bare kustomize time.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from gitops.core import run
from gitops.core.repo import Repo
from gitops.manifests import checks, crds, render, validate

REPO = Repo.discover()  # run from the repository: python bench/manifests_check.py
ROOT = REPO.root


def seconds(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def bare_kustomize(kubectl: str, targets: list[render.Target]) -> None:
    with ThreadPoolExecutor(max_workers=len(targets)) as pool:
        for result in pool.map(lambda t: run.run([kubectl, "kustomize", str(t.path)], timeout=120), targets):
            assert result.stdout


def cli_check(*extra: str) -> None:
    run.run([sys.executable, "-m", "invoke", "manifests.check", *extra], cwd=ROOT, timeout=300)


def first_run() -> None:
    shutil.rmtree(ROOT / ".cache", ignore_errors=True)
    cli_check()


def in_process(use_cache: bool) -> None:
    if not use_cache:  # forget the schemas loaded by an earlier round: a cold start loads them
        for cached in (validate._k8s_registry, validate._k8s_validator, validate._crd_validator,
                       validate._vendored_validator, crds._converted_file):
            cached.cache_clear()
    report = checks.run(REPO, use_cache=use_cache)
    assert report.ok, report.summary_error()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds per measurement (median)")
    args = parser.parse_args()
    kubectl = render.kubectl(REPO)
    targets = render.targets(ROOT)

    in_process(True)  # warm the render cache and the page cache once before timing
    measurements: dict[str, Callable[[], object]] = {
        "manifests.check CLI, first run (no .cache)": first_run,
        "manifests.check CLI, cold (--no-cache)": lambda: cli_check("--no-cache"),
        "manifests.check CLI, cached": lambda: cli_check(),
        "checks.run in-process, cold": lambda: in_process(False),
        "checks.run in-process, cached": lambda: in_process(True),
    }
    references: list[float] = []
    samples: dict[str, list[float]] = {name: [] for name in measurements}
    for _ in range(args.rounds):
        references.append(seconds(lambda: bare_kustomize(kubectl, targets)))
        for name, action in measurements.items():
            samples[name].append(seconds(action))

    reference = statistics.median(references)
    print(f"reference: bare kubectl kustomize of {len(targets)} targets in parallel: {reference:.3f} s "
          f"(median of {args.rounds} rounds)")
    ratios = {name: statistics.median(s / r for s, r in zip(taken, references, strict=True))
              for name, taken in samples.items()}
    for name, taken in samples.items():
        print(f"{name:42} {statistics.median(taken):7.3f} s  ratio {ratios[name]:5.2f}x")
    print("targets: first run <= 1.5x, cold <= 1.2x the reference")


if __name__ == "__main__":
    main()
