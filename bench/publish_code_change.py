"""How long publishing a code-only change takes, as a ratio to the bare `docker build` of such a change.

    .venv/bin/python bench/publish_code_change.py [--rounds N]

Setting: a clone of this repository in a temporary directory, a registry:2 container on a free
loopback port (the air-gapped stand-in here), an empty bare repository as the Git server's
storage, and one warm-up publish (the registry gets the dependency layers once, as after
bootstrap). Then, each round, two equivalent code-only changes (one comment line appended to
apps/tasknote/src/tasknote/__init__.py, committed), measured in the same process:

- reference: the bare `docker build` of one change, with the flags `./inv app.build` uses
  (BuildKit, the CA secret), from the checkout's apps/tasknote directory;
- publish: gitops.cluster.publish.publish of the other change: build from the committed tree
  (warm cache), push, digest from the registry, overlay pin, sealing, commit-tree, git push.

Two different changes, so neither run finds the other's layers in the cache. Target (issue 13):
publish <= bare build + 3 s. Last, the same publish with nothing changed (dev.sync's no-op
path). Ratios are the result; seconds are shown for context, since this machine is shared.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from gitops.cluster import gitserver, publish
from gitops.core import run, tools
from gitops.core.repo import Repo
from gitops.images import app as app_image
from gitops.secrets import crypto

CHANGED = Path("apps/tasknote/src/tasknote/__init__.py")


def git(repo: Path, *args: str) -> None:
    run.run(["git", "-C", str(repo), "-c", "user.name=bench", "-c", "user.email=bench@example.invalid",
             "-c", "commit.gpgsign=false", *args], timeout=120)


def code_change(repo: Path, label: str) -> None:
    """One new comment line, unique to this run: no earlier run's layer can be in the cache."""
    path = repo / CHANGED
    path.write_text(path.read_text() + f"# bench change {label} {uuid.uuid4().hex}\n")
    git(repo, "commit", "--quiet", "-am", f"bench: {label}")


def bare_build(docker: str, repo: Path, tag: str) -> float:
    spec = app_image.BuildSpec(refs=(tag,), version="0.0.0-bench", revision="bench", source="bench",
                               ca_file=app_image.ca_file(), context=repo / "apps" / "tasknote")
    start = time.perf_counter()
    run.run(app_image.build_argv(docker, spec), env={"DOCKER_BUILDKIT": "1"}, timeout=1800)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="measured rounds (default 3)")
    rounds = parser.parse_args().rounds
    this = Repo.discover(Path(__file__).parent)
    docker = str(tools.docker_engine(this))
    _, cert = crypto.generate_key_pair(key_size=2048)
    started = run.run([docker, "run", "-d", "-p", "127.0.0.1::5000", "registry:2"], timeout=120)
    registry = started.stdout.strip()
    refs: list[str] = []
    try:
        port = run.run([docker, "port", registry, "5000"]).stdout.split(":")[-1].split()[0]
        push_name = f"127.0.0.1:{port}/tasknote"
        with tempfile.TemporaryDirectory(prefix="bench-publish-") as tmp:
            repo, bare = Path(tmp) / "checkout", Path(tmp) / "served" / "tasknote.git"
            run.run(["git", "clone", "--quiet", "--no-hardlinks", str(this.root), str(repo)], timeout=120)
            gitserver.init_bare_repo(bare)
            url = gitserver.repo_url()

            def publish_now() -> publish.Published:
                return publish.publish(Repo.at(repo), bare, source_url=url, cert=cert, push_name=push_name)

            for _ in range(30):  # the registry answers within a second or two
                if run.run([docker, "exec", registry, "true"], check=False).returncode == 0:
                    break
                time.sleep(0.2)
            code_change(repo, "warm-up")
            warm = time.perf_counter()
            first = publish_now()
            refs.append(first.image.reference)
            print(f"warm-up publish (first push of every layer): {time.perf_counter() - warm:.1f} s")

            reference, published = [], []
            for i in range(rounds):
                code_change(repo, f"reference {i}")
                tag = f"bench-reference:{i}"
                reference.append(bare_build(docker, repo, tag))
                refs.append(tag)
                code_change(repo, f"publish {i}")
                start = time.perf_counter()
                result = publish_now()
                published.append(time.perf_counter() - start)
                refs.append(result.image.reference)
                assert result.created and result.image.built, "a code change must build and publish"

            unchanged = []
            for _ in range(rounds):
                start = time.perf_counter()
                assert not publish_now().created, "an unchanged checkout must publish nothing"
                unchanged.append(time.perf_counter() - start)

            ref_s, pub_s = statistics.median(reference), statistics.median(published)
            print(f"bare docker build of a code change: {ref_s:.2f} s (median of {rounds})")
            print(f"publish of a code change:           {pub_s:.2f} s (median of {rounds})")
            print(f"ratio publish / bare build:         {pub_s / ref_s:.2f}")
            print(f"publish over the bare build:        {pub_s - ref_s:+.2f} s (target <= +3 s)")
            noop_s = statistics.median(unchanged)
            print(f"publish with nothing changed:       {noop_s:.2f} s "
                  f"(no build, no commit; ratio to the bare build {noop_s / ref_s:.2f})")
    finally:
        run.run([docker, "rm", "-f", "-v", registry], check=False, timeout=60)
        if refs:
            run.run([docker, "image", "rm", *refs], check=False, timeout=120)


if __name__ == "__main__":
    main()
