"""The TaskNote image: non-root, read-only friendly, tini as PID 1, quick to stop, labelled,
no secrets in its configuration, no shell."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from gitops.core import run
from gitops.images import app
from support.checkout import this_repo
from support.containers import running_container

# The API starts without a database (/healthz needs none); nothing listens on port 1.
NO_DB = "postgresql://tasknote@127.0.0.1:1/tasknote"
SECRETISH = re.compile(r"PASSWORD|SECRET|TOKEN|KEY|CREDENTIAL|DATABASE_URL", re.I)


def docker(*args: str, **kwargs: object) -> run.Result:
    return run.run(["docker", *args], **kwargs)  # type: ignore[arg-type]


def python_in(image: str, code: str) -> run.Result:
    """Run Python in the image the way Kubernetes runs it: read-only root, /tmp a tmpfs."""
    return docker("run", "--rm", "--read-only", "--tmpfs", "/tmp", "--entrypoint", "/opt/venv/bin/python",
                  image, "-c", code, check=False, timeout=60)


@pytest.fixture
def api_container(tasknote_image: str) -> Iterator[tuple[str, str]]:
    """`tasknote api` from the image's own entrypoint, read-only, published on a free port."""
    def ready(host: str) -> bool:
        return httpx.get(f"http://{host}/healthz", timeout=2).status_code == 200

    args = ["--read-only", "--tmpfs", "/tmp", "-e", f"DATABASE_URL={NO_DB}"]
    with running_container(tasknote_image, 8000, args, ready=ready) as api:
        yield api.name, f"http://{api.host}"


def test_image_runs_as_uid_65532_and_its_root_filesystem_can_be_read_only(tasknote_image: str) -> None:
    info = app.inspect(tasknote_image)
    assert info.user == "65532:65532"
    result = python_in(tasknote_image, (
        "import os, pathlib\n"
        "print(os.getuid(), os.getgid())\n"
        "pathlib.Path('/tmp/scratch').write_text('ok')\n"
        "try:\n"
        "    pathlib.Path('/opt/venv/x').write_text('no')\n"
        "except OSError as exc:\n"
        "    print('read-only', exc.errno)\n"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:2] == ["65532 65532", "read-only 30"]  # 30 = EROFS


def test_the_app_and_its_native_dependencies_import_in_the_runtime(tasknote_image: str) -> None:
    """Pillow, psycopg's libpq, uvloop and friends load against the distroless runtime's libraries
    (their stripped modules included), and Pillow can encode what the worker writes."""
    result = python_in(tasknote_image, (
        "import io, psycopg, uvloop, httptools, orjson, PIL.Image, tasknote.api, tasknote.worker\n"
        "buf = io.BytesIO(); PIL.Image.new('RGB', (64, 48)).save(buf, 'JPEG'); assert buf.tell() > 0\n"
        "print(psycopg.pq.__impl__)\n"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "binary"


def test_there_is_no_shell(tasknote_image: str) -> None:
    result = docker("run", "--rm", "--entrypoint", "/bin/sh", tasknote_image, "-c", "true", check=False)
    assert result.returncode != 0


def test_tini_is_pid_1_and_the_api_stops_within_2_s_of_docker_stop(api_container: tuple[str, str]) -> None:
    name, _ = api_container
    cmdline = docker("exec", name, "python", "-c", "print(open('/proc/1/cmdline').read().split(chr(0))[0])")
    assert cmdline.stdout.strip() == "/usr/local/bin/tini"
    # docker stop sends SIGTERM and, 2 s later, SIGKILL (tini then exits 137). uvicorn shuts down
    # gracefully and then re-raises the SIGTERM it caught (uvicorn/server.py, capture_signals),
    # so tini reports 128 + 15 = 143: the API ended on SIGTERM within those 2 s, with no
    # wall-clock measurement in the test.
    docker("stop", "--time", "2", name, timeout=30)
    state = docker("inspect", "--format", "{{.State.ExitCode}}", name).stdout.strip()
    assert state == "143", f"SIGTERM must end the API within 2 s, not SIGKILL (exit {state})"


def test_oci_labels_carry_source_revision_and_version(tasknote_image: str) -> None:
    labels = app.inspect(tasknote_image).labels
    head = run.run(["git", "rev-parse", "HEAD"]).stdout.strip()
    assert labels["org.opencontainers.image.revision"].removesuffix("-dirty") == head
    assert labels["org.opencontainers.image.version"] == app.app_version(this_repo().app / "pyproject.toml")
    assert labels["org.opencontainers.image.source"]
    assert "@" not in labels["org.opencontainers.image.source"].split("://")[-1].split("/")[0]


def test_no_secret_in_the_image_configuration(tasknote_image: str) -> None:
    env = app.inspect(tasknote_image).env
    assert [e for e in env if SECRETISH.search(e.split("=", 1)[0])] == []
    assert [e for e in env if re.search(r"://[^/\s]+:[^/\s]+@", e)] == []
    assert [e for e in env if e.startswith("PIP_")] == [], "the build's pip settings stay in the builder"
    # The CA went in as a BuildKit secret: mounted for one RUN, in no layer of the image.
    result = python_in(tasknote_image, "import os; print(os.path.exists('/run/secrets'))")
    assert result.stdout.strip() == "False"
