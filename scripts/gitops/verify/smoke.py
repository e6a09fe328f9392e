"""The HTTP smoke suite: one run of TaskNote's user-visible contract against a base URL.

The same suite runs against the compose stack, a kind or k3s cluster (through a
port-forward) or any URL (gitops.verify.smoke_targets.run_smoke picks the URL). The steps run on
the one step engine (gitops.verify.steps), each timed; the first failing step ends the run
(later steps need what it made), and the task it created is deleted even then, so a smoke run
leaves nothing behind but its summary.
"""

from __future__ import annotations

import struct
import time
import uuid
import zlib
from collections.abc import Callable
from contextlib import suppress
from typing import Any

import requests

from gitops.core.errors import GitOpsError
from gitops.verify.steps import Outcome, Run, Runner, Step

VARIANT_SIZES = (128, 512, 1024)
PROBLEM_TYPE = "application/problem+json"


STEPS = [  # (Suite method, step name), in the order they run
    ("health", "health"), ("ready", "ready"), ("create_task", "create task"), ("read_task", "read task"),
    ("list_tasks", "list tasks"), ("update_task", "update task"), ("bad_input", "bad input is a problem"),
    ("upload_image", "upload image"), ("wait_variants", "variants 128/512/1024"),
    ("download", "download original+variant"), ("delete_task", "delete task"),
]


class StepFailed(Exception):
    """A check inside a step did not hold; its message becomes the step's detail."""


def step_line(outcome: Outcome) -> str:
    detail = f"  {outcome.detail}" if outcome.detail else ""
    return f"{'ok  ' if outcome.ok else 'FAIL'} {outcome.step:<28} {outcome.seconds:6.2f} s{detail}"


# --- a test image made with the standard library only (no Pillow in the automation venv) -------

def png_image(width: int = 1600, height: int = 1000) -> bytes:
    """An RGB PNG with a gradient (so the resizer has real content), larger than every variant."""
    row = bytearray(1 + 3 * width)  # filter byte 0 (None), then R G B per pixel
    row[1::3] = bytes((x * 255) // max(width - 1, 1) for x in range(width))
    row[3::3] = bytes((96,)) * width
    rows = bytearray()
    for y in range(height):
        row[2::3] = bytes(((y * 255) // max(height - 1, 1),)) * width
        rows += row

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(bytes(rows), 6)) + chunk(b"IEND", b""))


def image_dimensions(data: bytes) -> tuple[str, int, int] | None:
    """(format, width, height) of a PNG, JPEG or WebP from its header, None when unknown."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return "png", width, height
    if data[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                return None
            marker = data[i + 1]
            if marker == 0xFF:  # fill byte before a marker
                i += 1
                continue
            length = struct.unpack(">H", data[i + 2:i + 4])[0]
            # SOF0..SOF15 carry the frame size; C4 (DHT), C8 (JPG) and CC (DAC) do not.
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                height, width = struct.unpack(">HH", data[i + 5:i + 9])
                return "jpeg", width, height
            i += 2 + length
        return None
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP" and len(data) >= 30:
        kind = data[12:16]
        if kind == b"VP8X":
            width = 1 + int.from_bytes(data[24:27], "little")
            height = 1 + int.from_bytes(data[27:30], "little")
            return "webp", width, height
        if kind == b"VP8 ":
            width, height = struct.unpack("<HH", data[26:30])
            return "webp", width & 0x3FFF, height & 0x3FFF
        if kind == b"VP8L":
            bits = int.from_bytes(data[21:25], "little")
            return "webp", (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return None


# --- the suite ------------------------------------------------------------------------------------

class Suite:
    """One run: the HTTP session, the deadline, and what earlier steps made."""

    def __init__(self, base_url: str, timeout_s: float, progress: Callable[[str], None],
                 session: requests.Session | None = None, poll_s: float = 0.5) -> None:
        self.base = base_url.rstrip("/")
        self.deadline = time.monotonic() + timeout_s
        self.progress = progress
        self.http = session or requests.Session()
        self.poll_s = poll_s
        self.task_id = ""
        self.image_id = ""
        self.original = b""
        self.variants: list[dict[str, Any]] = []

    # helpers
    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        timeout = max(1.0, min(15.0, self.remaining()))
        try:
            return self.http.request(method, self.base + path, timeout=timeout, **kwargs)
        except requests.RequestException as exc:
            raise StepFailed(f"{method} {path}: {type(exc).__name__}: {exc}") from None

    def expect(self, response: requests.Response, status: int) -> Any:
        """The JSON body of a response with the expected status, else the step fails."""
        if response.status_code != status:
            raise StepFailed(f"{response.request.method} {response.url} answered {response.status_code}, "
                             f"expected {status}: {response.text[:200]}")
        if status == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise StepFailed(f"{response.url} answered {status} without a JSON body") from None

    def until(self, what: str, probe: Callable[[], tuple[bool, str]]) -> str:
        """Call probe until it says done (or the suite's deadline passes), showing progress."""
        last = ""
        shown = time.monotonic()  # the first "waiting" line after 5 s, not at once
        while True:
            try:
                done, last = probe()
            except (StepFailed, ValueError) as exc:  # not up yet, or a half-started proxy's page
                done, last = False, str(exc)
            if done:
                return last
            if self.remaining() <= 0:
                raise StepFailed(f"{what} not reached before the deadline; last: {last}")
            if time.monotonic() - shown >= 5:
                self.progress(f"     waiting for {what}: {last}")
                shown = time.monotonic()
            time.sleep(min(self.poll_s, max(self.remaining(), 0.0)))

    # steps
    def health(self) -> str:
        detail: list[str] = []
        def probe() -> tuple[bool, str]:
            response = self.request("GET", "/healthz")
            if response.status_code != 200:
                return False, f"HTTP {response.status_code}"
            return response.json().get("status") == "ok", response.text[:80]
        detail.append(self.until("/healthz 200", probe))
        return " ".join(detail)

    def ready(self) -> str:
        detail: list[str] = []
        def probe() -> tuple[bool, str]:
            response = self.request("GET", "/ready")
            return response.status_code == 200, f"HTTP {response.status_code} {response.text[:80]}"
        detail.append(self.until("/ready 200", probe))
        return " ".join(detail)

    def create_task(self) -> str:
        detail: list[str] = []
        title = f"smoke {uuid.uuid4().hex[:8]}"
        task = self.expect(self.request("POST", "/tasks", json={
            "title": title, "description": "made by the smoke suite", "state": "todo"}), 201)
        if task.get("title") != title or task.get("state") != "todo" or not task.get("id"):
            raise StepFailed(f"the created task does not echo what was sent: {task}")
        self.task_id = str(task["id"])
        detail.append(self.task_id)
        return " ".join(detail)

    def read_task(self) -> str:
        detail: list[str] = []
        task = self.expect(self.request("GET", f"/tasks/{self.task_id}"), 200)
        if task.get("id") != self.task_id:
            raise StepFailed(f"GET /tasks/{self.task_id} returned another task: {task}")
        return " ".join(detail)

    def list_tasks(self) -> str:
        """Follow the cursor until the new task shows up (the order is the API's business)."""
        cursor: str | None = None
        for page in range(1, 51):
            params: dict[str, Any] = {"limit": 100, **({"cursor": cursor} if cursor else {})}
            body = self.expect(self.request("GET", "/tasks", params=params), 200)
            if any(item.get("id") == self.task_id for item in body.get("items", [])):
                return f"found on page {page}"
            cursor = body.get("next_cursor")
            if not cursor:
                break
        raise StepFailed(f"task {self.task_id} is not in the listing")

    def update_task(self) -> str:
        detail: list[str] = []
        task = self.expect(self.request("PATCH", f"/tasks/{self.task_id}", json={"state": "doing"}), 200)
        if task.get("state") != "doing":
            raise StepFailed(f"PATCH state=doing answered state={task.get('state')!r}")
        return " ".join(detail)

    def bad_input(self) -> str:
        """Unknown fields are a 422 problem, not a 5xx (the API's error contract)."""
        detail: list[str] = []
        response = self.request("POST", "/tasks", json={"title": "x", "unknown_field": 1})
        if response.status_code != 422:
            raise StepFailed(f"an unknown field answered {response.status_code}, expected 422")
        ctype = response.headers.get("content-type", "")
        if not ctype.startswith(PROBLEM_TYPE):
            raise StepFailed(f"the 422 came as {ctype or 'no content type'}, not {PROBLEM_TYPE}")
        return " ".join(detail)

    def upload_image(self) -> str:
        detail: list[str] = []
        self.original = png_image()
        files = {"file": ("smoke.png", self.original, "image/png")}
        image = self.expect(self.request("POST", f"/tasks/{self.task_id}/images", files=files), 202)
        if not image.get("id"):
            raise StepFailed(f"the upload answer has no image id: {image}")
        self.image_id = str(image["id"])
        detail.append(f"{len(self.original)} bytes, image {self.image_id}")
        return " ".join(detail)

    def wait_variants(self) -> str:
        detail: list[str] = []
        def probe() -> tuple[bool, str]:
            image = self.expect(self.request("GET", f"/tasks/{self.task_id}/images/{self.image_id}"), 200)
            status = image.get("status")
            if status == "failed":
                raise RuntimeError("the worker marked the image failed")
            sizes = sorted(int(v.get("size", 0)) for v in image.get("variants") or [])
            self.variants = list(image.get("variants") or [])
            return status == "done" and sizes == list(VARIANT_SIZES), f"status={status} variants={sizes}"
        try:
            detail.append(self.until("every variant", probe))
        except RuntimeError as exc:
            raise StepFailed(str(exc)) from None
        for variant in self.variants:
            longest = max(int(variant.get("width", 0)), int(variant.get("height", 0)))
            if longest != int(variant["size"]):
                raise StepFailed(f"variant {variant} does not fit its size (aspect kept, longest side)")
        return " ".join(detail)

    def download(self) -> str:
        detail: list[str] = []
        response = self.request("GET", f"/tasks/{self.task_id}/images/{self.image_id}/original")
        self.expect_bytes(response)
        if response.content != self.original:
            raise StepFailed(f"the original came back as {len(response.content)} bytes, "
                             f"{len(self.original)} were uploaded")
        size = VARIANT_SIZES[1]
        response = self.request("GET", f"/tasks/{self.task_id}/images/{self.image_id}/variants/{size}")
        self.expect_bytes(response)
        found = image_dimensions(response.content)
        wanted = next((v for v in self.variants if int(v["size"]) == size), None)
        if found and wanted and (found[1], found[2]) != (int(wanted["width"]), int(wanted["height"])):
            raise StepFailed(f"variant {size} is {found[1]}x{found[2]} but the API says "
                             f"{wanted['width']}x{wanted['height']}")
        kind = found[0] if found else "unrecognised format"
        detail.append(f"variant {size}: {len(response.content)} bytes {kind}")
        return " ".join(detail)

    def expect_bytes(self, response: requests.Response) -> None:
        if response.status_code != 200:
            raise StepFailed(f"GET {response.url} answered {response.status_code}: {response.text[:200]}")
        if not response.headers.get("content-type", "").startswith("image/"):
            raise StepFailed(f"GET {response.url} came as {response.headers.get('content-type')}")

    def delete_task(self) -> str:
        detail: list[str] = []
        self.expect(self.request("DELETE", f"/tasks/{self.task_id}"), 204)
        self.task_id, gone = "", self.task_id
        response = self.request("GET", f"/tasks/{gone}")
        if response.status_code != 404:
            raise StepFailed(f"a deleted task still answers {response.status_code}")
        return " ".join(detail)

    def cleanup(self) -> None:
        """After a failure: remove the task it made, quietly (the failure is what matters)."""
        if self.task_id:
            with suppress(requests.RequestException):
                self.http.delete(f"{self.base}/tasks/{self.task_id}", timeout=5)

    def steps(self) -> list[Step]:
        return [Step(name, getattr(self, method)) for method, name in STEPS]

    def show(self, number: int, step: Step, outcome: Outcome | None) -> None:
        if outcome is not None:
            self.progress(step_line(outcome))

    def run(self) -> Run:
        # A bug or an odd answer is still a failed step (with its type name), not a traceback.
        runner = Runner(progress=self.show, catch=(Exception,), plain=(StepFailed, GitOpsError))
        result = runner.run(self.steps())
        self.cleanup()
        return result


def run_suite(base_url: str, *, timeout_s: float = 180, progress: Callable[[str], None] = print,
              session: requests.Session | None = None) -> Run:
    """Run every step against base_url within timeout_s (waits included); never raises for a
    failed check: the report's .ok and .steps tell."""
    return Suite(base_url, timeout_s, progress, session).run()
