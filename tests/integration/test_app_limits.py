"""TaskNote's containers under the memory and CPU limits written in base/ (read from the
manifests here, not copied): the API survives 32 concurrent maximum-size uploads, the worker
decodes the worst image the API accepts in each format, and a poison image (one that kills its
worker) is dead-lettered after at most 2 attempts. Real containers on a network of the test's
own; credentials are files on /dev/shm bind-mounted read-only, as compose does."""

from __future__ import annotations

import io
import os
import secrets
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest
import yaml
from gitops.core import run
from support.checkout import this_repo
from support.wait import wait_until

PG_IMAGE = "postgres:17-trixie"
MAX_UPLOAD_BYTES = 10 * 1024 * 1024  # the app's default MAX_UPLOAD_BYTES, which base/ keeps
CONCURRENT_UPLOADS = 32


def docker(*args: str, check: bool = True, timeout: float = 120) -> run.Result:
    return run.run(["docker", *args], check=check, timeout=timeout)


def base_limits(kind: str, name: str) -> dict[str, str]:
    """resources.limits of the first container of base/tasknote's `kind`/`name`."""
    for path in sorted((this_repo().root / "base" / "tasknote").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if isinstance(doc, dict) and doc.get("kind") == kind and doc["metadata"]["name"] == name:
                return dict(doc["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"])
    raise AssertionError(f"no {kind} {name} in base/tasknote")


def docker_limits(limits: dict[str, str]) -> list[str]:
    """--memory/--cpus from Kubernetes quantities (Mi/Gi; cpu as cores or millicores), no swap."""
    memory = limits["memory"]
    mib = int(memory[:-2]) * (1024 if memory.endswith("Gi") else 1)
    assert memory.endswith(("Mi", "Gi")), memory
    cpu = str(limits["cpu"])
    cpus = int(cpu[:-1]) / 1000 if cpu.endswith("m") else float(cpu)
    return ["--memory", f"{mib}m", "--memory-swap", f"{mib}m", "--cpus", str(cpus)]


HARDENED = ["--read-only", "--tmpfs", "/tmp:size=16m,uid=65532,gid=65532", "--cap-drop", "ALL",
            "--security-opt", "no-new-privileges:true"]


@dataclass
class Env:
    network: str
    image: str
    secrets: Path
    pg_port: int
    owner_url: str  # from the host (loopback)
    names: list[str]

    def app_files(self) -> list[str]:
        return ["-v", f"{self.secrets / 'app_url'}:/run/secrets/db:ro",
                "-e", "DATABASE_URL_FILE=/run/secrets/db"]

    def start(self, role: str, *args: str, name: str = "") -> str:
        name = name or f"tn15-{role}-{uuid.uuid4().hex[:6]}"
        self.names.append(name)
        docker("run", "-d", "--name", name, "--network", self.network, *HARDENED, *self.app_files(),
               *args, self.image, role)
        return name

    def state(self, name: str) -> dict[str, object]:
        fmt = ("{{.State.Running}} {{.State.OOMKilled}} {{.RestartCount}} {{.State.ExitCode}}")
        running, oom, restarts, code = docker("inspect", "--format", fmt, name).stdout.split()
        return {"running": running == "true", "oom_killed": oom == "true", "restarts": int(restarts),
                "exit_code": int(code)}

    def memory_peak_mib(self, name: str) -> float:
        """The container's memory high-water mark, read inside it: cgroup v2 memory.peak or
        v1 memory.max_usage_in_bytes (-1 when neither exists)."""
        code = ("import pathlib\n"
                "for p in ('/sys/fs/cgroup/memory.peak',\n"
                "          '/sys/fs/cgroup/memory/memory.max_usage_in_bytes'):\n"
                "    f = pathlib.Path(p)\n"
                "    if f.exists():\n"
                "        print(f.read_text().strip()); break\n")
        out = docker("exec", name, "python", "-c", code, check=False).stdout.strip()
        return int(out) / 2**20 if out.isdigit() else -1.0

    def rss_peak_mib(self, name: str) -> float:
        """VmHWM (resident set high-water mark) of the container's tasknote process: what the
        process itself held, without the page cache the cgroup figure includes."""
        code = ("import pathlib\n"
                "for p in pathlib.Path('/proc').glob('[0-9]*/status'):\n"
                "    t = p.read_text()\n"
                "    if 'Name:\\ttasknote' in t:\n"
                "        print([l.split()[1] for l in t.splitlines() if l.startswith('VmHWM')][0])\n")
        out = docker("exec", name, "python", "-c", code, check=False).stdout.split()
        return int(out[0]) / 1024 if out and out[0].isdigit() else -1.0


@pytest.fixture(scope="module")
def env(tasknote_image: str) -> Iterator[Env]:
    network = f"tn15-{uuid.uuid4().hex[:8]}"
    names: list[str] = []
    secrets_dir = Path(tempfile.mkdtemp(prefix="tn15-secrets-", dir="/dev/shm"))
    owner_pw, app_pw = secrets.token_urlsafe(18), secrets.token_urlsafe(18)
    files = {"owner_pw": owner_pw,
             "owner_url": f"postgresql://tasknote:{owner_pw}@db:5432/tasknote",
             "app_url": f"postgresql://tasknote_app:{app_pw}@db:5432/tasknote"}
    for key, value in files.items():
        path = secrets_dir / key
        path.write_text(value)
        path.chmod(0o444)
    docker("network", "create", network)
    try:
        pg = f"tn15-db-{uuid.uuid4().hex[:6]}"
        names.append(pg)
        docker("run", "-d", "--name", pg, "--network", network, "--network-alias", "db",
               "-p", "127.0.0.1::5432", "-e", "POSTGRES_USER=tasknote", "-e", "POSTGRES_DB=tasknote",
               "-e", "POSTGRES_PASSWORD_FILE=/run/secrets/pw",
               "-v", f"{secrets_dir / 'owner_pw'}:/run/secrets/pw:ro", PG_IMAGE,
               "postgres", "-c", "fsync=off")
        port = int(docker("port", pg, "5432").stdout.split(":")[-1].split()[0])
        owner_url = f"postgresql://tasknote:{owner_pw}@127.0.0.1:{port}/tasknote"

        def pg_ready() -> bool:
            with psycopg.connect(owner_url, connect_timeout=2) as conn:
                conn.execute("SELECT 1")
            return True

        wait_until(pg_ready, 60, "PostgreSQL to accept connections", 0.3)
        result = docker("run", "--rm", "--network", network, *HARDENED,
                        "-v", f"{secrets_dir / 'owner_url'}:/run/secrets/owner:ro",
                        "-v", f"{secrets_dir / 'app_url'}:/run/secrets/app:ro",
                        "-e", "DATABASE_URL_FILE=/run/secrets/owner",
                        "-e", "APP_DATABASE_URL_FILE=/run/secrets/app",
                        tasknote_image, "migrate", check=False)
        assert result.returncode == 0, result.stderr[-2000:]
        yield Env(network, tasknote_image, secrets_dir, port, owner_url, names)
    finally:
        for name in names:
            docker("rm", "-f", "-v", name, check=False)
        docker("network", "rm", network, check=False)
        shutil.rmtree(secrets_dir, ignore_errors=True)


def published(name: str, port: int = 8000) -> str:
    return "http://127.0.0.1:" + docker("port", name, str(port)).stdout.split(":")[-1].split()[0]


def start_api(env: Env) -> tuple[str, str]:
    # An anonymous volume (on disk, not a tmpfs; removed with the container) takes /scratch's
    # owner from the image, as compose's named volume does.
    limits = docker_limits(base_limits("Deployment", "tasknote-api"))
    name = env.start("api", "-p", "127.0.0.1::8000", *limits, "--mount", "type=volume,dst=/scratch",
                     "-e", "SCRATCH_DIR=/scratch")
    url = published(name)
    wait_until(lambda: httpx.get(url + "/ready", timeout=2).status_code == 200, 60, "the API to be ready",
               0.3)
    return name, url


def noise_png(limit: int) -> bytes:
    """A PNG of random pixels (incompressible) as close under `limit` bytes as a square allows."""
    from PIL import Image

    side = int(((limit - 64 * 1024) / 3) ** 0.5)
    img = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
    buf = io.BytesIO()
    img.save(buf, "PNG", compress_level=0)
    assert limit - 128 * 1024 < buf.tell() <= limit, buf.tell()
    return buf.getvalue()


def new_task(url: str) -> str:
    resp = httpx.post(url + "/tasks", json={"title": "limits"}, timeout=10)
    assert resp.status_code == 201, resp.text
    return str(resp.json()["id"])


def test_the_api_at_its_manifest_limit_survives_32_concurrent_maximum_size_uploads(env: Env) -> None:
    api, url = start_api(env)
    task = new_task(url)
    body = noise_png(MAX_UPLOAD_BYTES)
    statuses: list[int] = []
    busy_without_retry_after: list[int] = []
    retry_after: list[str] = []  # 2: refused by admission control, 1: no pool connection in time
    errors: list[str] = []
    gate = threading.Barrier(CONCURRENT_UPLOADS)

    def one() -> None:
        try:
            with httpx.Client(timeout=60) as client:
                gate.wait()
                resp = client.post(f"{url}/tasks/{task}/images", files={"file": ("x.png", body, "image/png")})
            statuses.append(resp.status_code)
            if resp.status_code == 503:
                retry_after.append(resp.headers.get("retry-after", ""))
            if resp.status_code == 503 and (resp.json().get("type", "").rsplit("/", 1)[-1] != "busy"
                                            or "retry-after" not in resp.headers):
                busy_without_retry_after.append(resp.status_code)
        except Exception as exc:  # the API must answer every one of them
            errors.append(repr(exc))

    threads = [threading.Thread(target=one) for _ in range(CONCURRENT_UPLOADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    state = env.state(api)
    peak, rss = env.memory_peak_mib(api), env.rss_peak_mib(api)
    print(f"uploads: {statuses.count(202)} accepted, 503 Retry-After {sorted(retry_after)}; "
          f"API cgroup memory peak {peak:.0f} MiB (page cache included), process RSS peak {rss:.0f} MiB")
    assert errors == []
    assert state == {"running": True, "oom_killed": False, "restarts": 0, "exit_code": 0}, state
    # 202 accepted, or 503 "busy" with Retry-After (admission control): the documented answers.
    assert set(statuses) <= {202, 503} and len(statuses) == CONCURRENT_UPLOADS, sorted(statuses)
    assert busy_without_retry_after == []
    accepted = statuses.count(202)
    assert accepted >= 1
    with psycopg.connect(env.owner_url) as conn:
        stored = conn.execute("SELECT count(*), min(size), max(size) FROM images WHERE task_id = %s",
                              (task,)).fetchone()
    assert stored == (accepted, len(body), len(body)), stored
    assert httpx.get(url + "/ready", timeout=5).status_code == 200


def worst_images() -> dict[str, bytes]:
    """The largest decode the API accepts in each format: the pixel cap (per format) at the most
    expensive mode (RGBA for PNG and WebP, RGB for JPEG), smooth content so each stays small."""
    from PIL import Image
    from tasknote import images

    out = {}
    for fmt, mode, options in (("PNG", "RGBA", {"compress_level": 1}), ("WEBP", "RGBA", {"quality": 50}),
                               ("JPEG", "RGB", {"quality": 80})):
        side = int(images.FORMAT_MAX_PIXELS[fmt] ** 0.5)
        img = Image.linear_gradient("L").resize((side, side)).convert(mode)
        if mode == "RGBA":
            img.putalpha(Image.linear_gradient("L").resize((side, side)))  # real transparency
        buf = io.BytesIO()
        img.save(buf, fmt, **options)
        data = buf.getvalue()
        info = images.probe(data)
        assert info.width * info.height <= images.FORMAT_MAX_PIXELS[fmt] and len(data) <= MAX_UPLOAD_BYTES
        out[fmt] = data
    return out


def image_status(url: str, task: str, image: str) -> str:
    return str(httpx.get(f"{url}/tasks/{task}/images/{image}", timeout=5).json()["status"])


def test_the_worker_at_its_manifest_limit_resizes_the_worst_image_of_each_format(env: Env) -> None:
    _, url = start_api(env)
    task = new_task(url)
    worker = env.start("worker", *docker_limits(base_limits("Deployment", "tasknote-worker")),
                       "-e", "WORKER_POLL_SECONDS=0.2")
    uploaded = {}
    for fmt, data in worst_images().items():
        resp = httpx.post(f"{url}/tasks/{task}/images", files={"file": ("x", data)}, timeout=60)
        assert resp.status_code == 202, (fmt, resp.text)
        uploaded[fmt] = str(resp.json()["id"])
    for fmt, image in uploaded.items():
        wait_until(lambda image=image: image_status(url, task, image) != "pending", 120,
                   f"the worker to resize the worst {fmt}", 0.5)
    statuses = {fmt: image_status(url, task, image) for fmt, image in uploaded.items()}
    state = env.state(worker)
    print(f"worst images: {statuses}; worker cgroup memory peak {env.memory_peak_mib(worker):.0f} MiB, "
          f"process RSS peak {env.rss_peak_mib(worker):.0f} MiB")
    assert statuses == {"PNG": "done", "WEBP": "done", "JPEG": "done"}
    assert state == {"running": True, "oom_killed": False, "restarts": 0, "exit_code": 0}, state


def test_a_poison_image_is_dead_lettered_after_at_most_2_attempts(env: Env) -> None:
    """A worker given too little memory for the image and no decode guard (DECODE_BUDGET_BYTES
    forced high) is killed by the kernel on it; Docker restarts it (as Kubernetes would), the
    lease runs out, the next claim kills it again, and the third claim dead-letters the job."""
    # Only the worker started below: one from an earlier test goes before the upload, or it could
    # claim the job first and, removed mid-job, leave it leased for its 60 s.
    for name in env.names:
        if "-worker-" in name:
            docker("rm", "-f", name, check=False)
    _, url = start_api(env)
    task = new_task(url)
    png = worst_images()["PNG"]
    resp = httpx.post(f"{url}/tasks/{task}/images", files={"file": ("x", png)}, timeout=60)
    assert resp.status_code == 202, resp.text
    image = str(resp.json()["id"])
    worker = env.start("worker", "--memory", "128m", "--memory-swap", "128m", "--restart", "on-failure",
                       "-e", "DECODE_BUDGET_BYTES=10000000000", "-e", "WORKER_LEASE_SECONDS=2",
                       "-e", "WORKER_POLL_SECONDS=0.2")
    started = time.monotonic()
    wait_until(lambda: image_status(url, task, image) == "failed", 120, "the poison image dead-lettered",
               0.5)
    with psycopg.connect(env.owner_url) as conn:
        attempts, lost, error = conn.execute(
            "SELECT attempts, lost_leases, last_error FROM jobs WHERE image_id = %s", (image,)).fetchone()
    state = env.state(worker)
    print(f"poison: dead after {time.monotonic() - started:.1f} s, {state['restarts']} restarts, {error!r}")
    # Processed twice (each killed the worker), claimed a third time only to be dead-lettered.
    assert (attempts, lost) == (3, 2)
    assert "died 2 times" in error
    assert state["restarts"] == 2 and state["running"], state
