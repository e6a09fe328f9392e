"""How long `manifests.check` takes, as a ratio to bare `kubectl kustomize` measured in the same run.

    .venv/bin/python bench/manifests_check.py [--rounds N]

Reference: the bare `kubectl kustomize` of every overlay and cluster root, run in parallel
(as the check renders them), nothing else. Measured against it, each the median of N rounds:

- check, first run: a fresh process running `python -m invoke manifests.check` with no .cache
  (interpreter and imports, kubectl version probe, render, schema loading, validate, policy);
- check, cold: the same with `--no-cache` (every target rendered afresh, as after an edit; the
  kubectl version check is remembered for the same binary);
- check, cached: the same with the render cache warm (what a developer re-running it sees);
- in-process cold/cached: `gitops.manifests.checks.run` alone, without interpreter start-up.

Targets (issue 17): first run <= 1.5 x and cold <= 1.2 x the bare kustomize time. Only ratios are printed
as the result; seconds are shown for context, since this machine is shared.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from gitops.core import config, run
from gitops.manifests import checks, crds, render, validate


def median_seconds(action: Callable[[], object], rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def bare_kustomize(kubectl: str, targets: list[render.Target]) -> None:
    with ThreadPoolExecutor(max_workers=len(targets)) as pool:
        for result in pool.map(lambda t: run.run([kubectl, "kustomize", str(t.path)], timeout=120), targets):
            assert result.stdout


def cli_check(*extra: str) -> None:
    run.run([sys.executable, "-m", "invoke", "manifests.check", *extra], cwd=config.ROOT, timeout=300)


def in_process(use_cache: bool) -> None:
    if not use_cache:  # forget the schemas loaded by an earlier round: a cold start loads them
        for cached in (validate._k8s_registry, validate._k8s_validator, validate._crd_validator,
                       validate._vendored_validator, crds._converted_file):
            cached.cache_clear()
    report = checks.run(config.ROOT, use_cache=use_cache)
    assert report.ok, report.summary_error()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds per measurement (median)")
    args = parser.parse_args()
    kubectl = render.kubectl()
    targets = render.targets()

    in_process(True)  # warm the render cache and the page cache once before timing
    reference = median_seconds(lambda: bare_kustomize(kubectl, targets), args.rounds)
    first = median_seconds(lambda: (shutil.rmtree(config.ROOT / ".cache", ignore_errors=True),
                                    cli_check()), args.rounds)
    cold = median_seconds(lambda: cli_check("--no-cache"), args.rounds)
    cached = median_seconds(lambda: cli_check(), args.rounds)
    proc_cold = median_seconds(lambda: in_process(False), args.rounds)
    proc_cached = median_seconds(lambda: in_process(True), args.rounds)

    print(f"reference: bare kubectl kustomize of {len(targets)} targets in parallel: {reference:.3f} s")
    rows = [
        ("manifests.check CLI, first run (no .cache)", first),
        ("manifests.check CLI, cold (--no-cache)", cold),
        ("manifests.check CLI, cached", cached),
        ("checks.run in-process, cold", proc_cold),
        ("checks.run in-process, cached", proc_cached),
    ]
    for name, seconds in rows:
        print(f"{name:42} {seconds:7.3f} s  ratio {seconds / reference:5.2f}x")
    print(f"cold / cached (CLI): {cold / cached:.2f}x; targets: first run <= 1.5x, cold <= 1.2x reference")


if __name__ == "__main__":
    main()
