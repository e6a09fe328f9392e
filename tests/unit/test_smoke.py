"""The smoke suite's own logic: step order, waiting, failure details and clean-up.

The server here is a small in-memory stand-in of TaskNote's HTTP contract on a loopback port,
because the logic under test is the client's (retries, deadlines, what a failed step says);
the suite's real proof runs against the compose stack in tests/integration/test_compose_stack.py.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from gitops.verify import smoke
from gitops.verify.steps import Run
from support.localhttp import QuietHandler, serve


@dataclass
class FakeApp:
    """Knobs a test turns: how many health probes fail first, what the worker does."""

    unhealthy_first: int = 0
    polls_before_done: int = 2
    image_outcome: str = "done"
    unknown_field_status: int = 422
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    images: dict[str, dict[str, Any]] = field(default_factory=dict)
    health_calls: int = 0


def handler_for(app: FakeApp) -> type[QuietHandler]:
    class Handler(QuietHandler):
        def send(self, status: int, body: Any = None, ctype: str = "application/json") -> None:
            data = body if isinstance(body, bytes) else (b"" if body is None else json.dumps(body).encode())
            self.reply(status, data, {"Content-Type": ctype})

        def body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length", 0)))

        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            if path == "/healthz":
                app.health_calls += 1
                if app.health_calls <= app.unhealthy_first:
                    return self.send(503, {"status": "starting"})
                return self.send(200, {"status": "ok"})
            if path == "/ready":
                return self.send(200, {"ready": True})
            if path == "/tasks":
                return self.send(200, {"items": list(app.tasks.values()), "next_cursor": None})
            if m := re.fullmatch(r"/tasks/([^/]+)", path):
                task = app.tasks.get(m[1])
                return self.send(200, task) if task else self.send(404, {"status": 404}, smoke.PROBLEM_TYPE)
            if m := re.fullmatch(r"/tasks/[^/]+/images/([^/]+)", path):
                image = app.images[m[1]]
                image["polls"] += 1
                if image["polls"] > app.polls_before_done:
                    image["status"] = app.image_outcome
                    if app.image_outcome == "done":
                        image["variants"] = [{"size": s, "width": s, "height": s * 5 // 8}
                                             for s in smoke.VARIANT_SIZES]
                return self.send(200, {k: v for k, v in image.items() if k not in ("polls", "data")})
            if m := re.fullmatch(r"/tasks/[^/]+/images/([^/]+)/original", path):
                return self.send(200, app.images[m[1]]["data"], "image/png")
            if m := re.fullmatch(r"/tasks/[^/]+/images/[^/]+/variants/(\d+)", path):
                size = int(m[1])
                return self.send(200, smoke.png_image(size, size * 5 // 8), "image/png")
            return self.send(404, {"status": 404}, smoke.PROBLEM_TYPE)

        def do_POST(self) -> None:
            if self.path == "/tasks":
                sent = json.loads(self.body())
                if set(sent) - {"title", "description", "state"}:
                    return self.send(app.unknown_field_status, {"status": app.unknown_field_status},
                                     smoke.PROBLEM_TYPE)
                task = {"id": str(uuid.uuid4()), "state": "todo", "description": None, **sent}
                app.tasks[task["id"]] = task
                return self.send(201, task)
            if m := re.fullmatch(r"/tasks/([^/]+)/images", self.path):
                raw = self.body()
                start = raw.index(b"\r\n\r\n") + 4
                data = raw[start:raw.rindex(b"\r\n--")]
                image = {"id": str(uuid.uuid4()), "task_id": m[1], "status": "pending", "variants": [],
                         "polls": 0, "data": data}
                app.images[image["id"]] = image
                return self.send(202, {k: v for k, v in image.items() if k not in ("polls", "data")})
            return self.send(404)

        def do_PATCH(self) -> None:
            task = app.tasks[self.path.rsplit("/", 1)[1]]
            task.update(json.loads(self.body()))
            self.send(200, task)

        def do_DELETE(self) -> None:
            app.tasks.pop(self.path.rsplit("/", 1)[1], None)
            self.send(204)

    return Handler


@pytest.fixture
def served() -> Iterator[tuple[FakeApp, str]]:
    app = FakeApp()
    with serve(handler_for(app)) as url:
        yield app, url


def run(url: str, timeout_s: float = 20) -> tuple[Run, list[str]]:
    lines: list[str] = []
    suite = smoke.Suite(url, timeout_s, lines.append, poll_s=0.01)
    return suite.run(), lines


def ran(report: Run) -> list[Any]:
    """The steps that ran: after the first failure the engine records the rest as skipped."""
    assert all(o.status == "skipped" for o in report.outcomes[len(report.outcomes) - skipped(report):])
    return report.outcomes[:len(report.outcomes) - skipped(report)]


def skipped(report: Run) -> int:
    return sum(o.status == "skipped" for o in report.outcomes)


def test_every_step_passes_in_order_and_the_task_is_deleted(served: tuple[FakeApp, str]) -> None:
    app, url = served
    report, lines = run(url)
    assert report.ok, lines
    assert [s.step for s in report.outcomes] == [
        "health", "ready", "create task", "read task", "list tasks", "update task",
        "bad input is a problem", "upload image", "variants 128/512/1024",
        "download original+variant", "delete task"]
    assert app.tasks == {}
    assert "variant 512" in report.outcomes[9].detail and "png" in report.outcomes[9].detail


def test_health_is_retried_until_the_api_answers(served: tuple[FakeApp, str]) -> None:
    app, url = served
    app.unhealthy_first = 3
    report, _ = run(url)
    assert report.ok
    assert app.health_calls == 4


def test_a_failed_image_fails_its_step_stops_the_run_and_cleans_up(served: tuple[FakeApp, str]) -> None:
    app, url = served
    app.image_outcome = "failed"
    report, lines = run(url)
    assert not report.ok
    assert ran(report)[-1].step == "variants 128/512/1024" == report.first_failure
    assert ran(report)[-1].detail == "the worker marked the image failed"
    assert lines[-1].startswith("FAIL variants")
    assert app.tasks == {}, "the task the failed run made must be deleted"


def test_a_5xx_for_bad_input_is_a_failed_step(served: tuple[FakeApp, str]) -> None:
    app, url = served
    app.unknown_field_status = 500
    report, _ = run(url)
    failed = [s for s in report.outcomes if s.status == "failed"]
    assert [s.step for s in failed] == ["bad input is a problem"]
    assert "answered 500, expected 422" in failed[0].detail


def test_variants_that_never_finish_fail_at_the_deadline(served: tuple[FakeApp, str]) -> None:
    app, url = served
    app.polls_before_done = 10**9
    report, _ = run(url, timeout_s=1.5)
    assert not report.ok
    assert ran(report)[-1].step == "variants 128/512/1024"
    assert "not reached before the deadline; last: status=pending variants=[]" in ran(report)[-1].detail


def test_nothing_listening_is_a_failed_health_step_naming_the_error() -> None:
    report, _ = run("http://127.0.0.1:9", timeout_s=0.5)
    assert not report.ok
    assert [s.step for s in ran(report)] == ["health"]
    assert "ConnectionError" in report.outcomes[0].detail


def test_png_is_decodable_and_dimensions_parse() -> None:
    data = smoke.png_image(40, 25)
    assert smoke.image_dimensions(data) == ("png", 40, 25)
    assert smoke.image_dimensions(b"GIF89a....") is None
