"""Worker resize speed: images per second turning 3000x2000 JPEGs into every variant (1024, 512
and 128 px, JPEG q85), beside Debian's vipsthumbnail on the same files in the same run.

    .venv/bin/python bench/worker_resize.py [--images 24] [--rounds 3]

The worker is one single-threaded process per replica, so the main reference is vipsthumbnail
on one thread (VIPS_CONCURRENCY=1); its default (threaded) figure is printed too. vipsthumbnail
makes one size per run over all files, so it decodes each file three times; the worker decodes
once (at reduced scale via JPEG DCT scaling) and makes each variant from the one before.
Target (issue 4): >= 0.7x vipsthumbnail. Needs: apt-get install libvips-tools."""

from __future__ import annotations

import argparse
import io
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from gitops.core import run
from PIL import Image, ImageFilter
from tasknote import images


def photo_like(seed: int) -> bytes:
    """A 3000x2000 JPEG with gradients, edges and noise: closer to a photo's decode cost than a
    flat colour (which decodes unrealistically fast)."""
    base = Image.radial_gradient("L").resize((3000, 2000)).convert("RGB")
    noise = Image.effect_noise((3000, 2000), 40 + seed % 20).convert("RGB")
    img = Image.blend(base, noise, 0.35).filter(ImageFilter.SMOOTH)
    img = Image.merge("RGB", (img.getchannel(0), img.getchannel(1).point(lambda v: (v + seed * 7) % 256),
                              img.getchannel(2)))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def ours(files: list[bytes]) -> float:
    start = time.perf_counter()
    for data in files:
        variants = images.make_variants(data)
        assert [v.size for v in variants] == [1024, 512, 128]
    return len(files) / (time.perf_counter() - start)


def vips(paths: list[Path], out: Path, threads: str | None) -> float:
    env = {"VIPS_CONCURRENCY": threads} if threads else {}
    start = time.perf_counter()
    for size in images.VARIANT_SIZES:
        run.run(["vipsthumbnail", "-s", str(size), "-o", f"{out}/%s_{size}.jpg[Q=85]", *map(str, paths)],
                env=env, timeout=600)
    return len(paths) / (time.perf_counter() - start)


def through_queue(files: list[bytes]) -> float:
    """The whole worker: claim from PostgreSQL, read the original, resize, store the variants and
    mark done, one transaction per job; timed from the first claim to the last completion."""
    import uuid

    import _pg  # beside this script: the script's folder is on sys.path when run as a file
    import psycopg

    with _pg.postgres() as db:
        run.run([sys.executable, "-m", "tasknote.cli", "migrate"], env={"DATABASE_URL": db.url})
        with psycopg.connect(db.url, autocommit=True) as conn:
            for data in files:
                tid, iid = uuid.uuid4(), uuid.uuid4()
                conn.execute("INSERT INTO tasks (id, title) VALUES (%s, 'bench')", (tid,))
                conn.execute("INSERT INTO images (id, task_id, content_type, size, width, height, data)"
                             " VALUES (%s, %s, 'image/jpeg', %s, 3000, 2000, %s)",
                             (iid, tid, len(data), data))
                conn.execute("INSERT INTO jobs (image_id) VALUES (%s)", (iid,))
        run.run([sys.executable, "-m", "tasknote.cli", "worker", "--once", "--heartbeat", "/dev/null"],
                env={"DATABASE_URL": db.url, "LOG_LEVEL": "WARNING"}, timeout=600)
        with psycopg.connect(db.url) as conn:
            row = conn.execute("SELECT count(*) FILTER (WHERE status = 'done'),"
                               " extract(epoch FROM max(updated_at) - min(updated_at)) FROM jobs").fetchone()
    assert row is not None
    done, span = int(row[0]), float(row[1] or 0)
    if done != len(files):
        raise SystemExit(f"only {done} of {len(files)} jobs finished")
    # Between the first and the last completion, n-1 jobs ran: no process start-up in the figure.
    return (len(files) - 1) / span if span else 0.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=24)
    ap.add_argument("--rounds", type=int, default=3, help="best of N rounds for each side")
    ap.add_argument("--no-queue", action="store_true", help="skip the end-to-end run through PostgreSQL")
    args = ap.parse_args()
    if shutil.which("vipsthumbnail") is None:
        print("missing: vipsthumbnail (Debian: apt-get install libvips-tools)")
        return 2
    files = [photo_like(i) for i in range(args.images)]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        paths = []
        for i, data in enumerate(files):
            p = work / f"img{i:03d}.jpg"
            p.write_bytes(data)
            paths.append(p)
        out = work / "out"
        out.mkdir()
        ours(files[:2])  # warm-up: imports, first-use allocations
        worker_ips, vips1_ips, vipsn_ips = [], [], []
        for _ in range(args.rounds):  # interleaved, so a noisy neighbour hits both sides alike
            worker_ips.append(ours(files))
            vips1_ips.append(vips(paths, out, "1"))
            vipsn_ips.append(vips(paths, out, None))
    best_w, best_v1, best_vn = max(worker_ips), max(vips1_ips), max(vipsn_ips)
    mb = sum(map(len, files)) / len(files) / 1e6
    print(f"{args.images} JPEGs 3000x2000 (~{mb:.1f} MB each) -> variants 1024/512/128,"
          f" best of {args.rounds}")
    print(f"tasknote worker (Pillow {Image.__version__}, 1 thread)   {best_w:6.2f} images/s")
    print(f"vipsthumbnail, VIPS_CONCURRENCY=1                {best_v1:6.2f} images/s")
    print(f"vipsthumbnail, default threads ({os.cpu_count()} cpus)          {best_vn:6.2f} images/s")
    ratio = best_w / best_v1
    verdict = "MET" if ratio >= 0.7 else "NOT MET"
    print(f"worker / vipsthumbnail(1 thread) = {ratio:.2f}x  (target >= 0.7x) -> {verdict}")
    print(f"worker / vipsthumbnail(threads)  = {best_w / best_vn:.2f}x")
    if not args.no_queue and shutil.which("docker"):
        e2e = through_queue(files)
        print(f"whole worker through the PostgreSQL queue (claim, resize, store, done) {e2e:6.2f} images/s"
              f" = {e2e / best_v1:.2f}x vipsthumbnail(1 thread)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
