"""The HTTP contract against real PostgreSQL: CRUD, pagination, uploads and every kind of bad
input answered with a 4xx RFC 9457 problem (never a 5xx, never a stack trace)."""

from __future__ import annotations

import uuid

import httpx


def test_task_crud_roundtrip(tn, db_url, start_api):
    api = start_api(db_url)
    b = api.base_url
    task = tn.new_task(b, "write tests", description="for real", state="doing")
    assert task["state"] == "doing" and task["completed_at"] is None
    assert set(task) == {"id", "title", "description", "state", "created_at", "updated_at", "completed_at"}

    got = httpx.get(f"{b}/tasks/{task['id']}").json()
    assert got == task

    done = httpx.patch(f"{b}/tasks/{task['id']}", json={"state": "done"}).json()
    assert done["state"] == "done" and done["completed_at"] is not None
    assert done["title"] == "write tests" and done["description"] == "for real"
    again = httpx.patch(f"{b}/tasks/{task['id']}", json={"title": "renamed"}).json()
    assert again["completed_at"] == done["completed_at"], "staying done keeps the completion time"
    back = httpx.patch(f"{b}/tasks/{task['id']}", json={"state": "todo", "description": None}).json()
    assert back["completed_at"] is None and back["description"] is None

    assert httpx.delete(f"{b}/tasks/{task['id']}").status_code == 204
    gone = httpx.get(f"{b}/tasks/{task['id']}")
    assert gone.status_code == 404
    assert httpx.delete(f"{b}/tasks/{task['id']}").status_code == 404


def test_cursor_pagination_visits_every_task_once_in_order(tn, db_url, start_api):
    api = start_api(db_url)
    created = [tn.new_task(api.base_url, f"t{i}")["id"] for i in range(7)]
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = httpx.get(f"{api.base_url}/tasks", params=params).json()
        seen += [t["id"] for t in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == created
    assert pages == 3


def test_a_forged_cursor_is_a_400(tn, db_url, start_api):
    """Cursors are signed: one of the right shape that this API did not sign is refused, even
    when it names a real position (the README promises a 400)."""
    import base64

    import orjson

    api = start_api(db_url)
    for i in range(3):
        tn.new_task(api.base_url, f"t{i}")
    page = httpx.get(f"{api.base_url}/tasks", params={"limit": 1}).json()
    real = page["next_cursor"]
    assert httpx.get(f"{api.base_url}/tasks", params={"cursor": real}).status_code == 200
    payload, tag = real.split(".")
    first = page["items"][0]
    forged_payload = base64.urlsafe_b64encode(
        orjson.dumps(["1970-01-01T00:00:00+00:00", first["id"]])).decode().rstrip("=")
    for forged in (f"{forged_payload}.{tag}", f"{payload}.{'A' * 22}", f"{payload}.{tag[:-1]}B"):
        assert_problem(httpx.get(f"{api.base_url}/tasks", params={"cursor": forged}), 400, forged)


def test_health_ready_metrics_openapi(tn, db_url, start_api):
    api = start_api(db_url)
    b = api.base_url
    assert httpx.get(f"{b}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{b}/ready")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    tn.new_task(b)
    metrics = httpx.get(f"{b}/metrics").text
    assert 'tasknote_http_requests_total{method="POST",route="/tasks",status="201"} 1.0' in metrics
    spec = httpx.get(f"{b}/openapi.json").json()
    assert "/tasks/{task_id}/images" in spec["paths"]


def test_ready_is_false_until_migrations_are_applied(tn, postgres, start_api):
    url = postgres.empty_database()
    api = start_api(url)
    resp = httpx.get(f"{api.base_url}/ready")
    assert resp.status_code == 503 and resp.json()["status"] == "migrations pending"
    tn.run_cli(["migrate"], {"DATABASE_URL": url}, check=True)
    assert httpx.get(f"{api.base_url}/ready").status_code == 200


def test_ready_is_false_without_a_reachable_database(tn, start_api):
    # Nothing listens on this port: the process still starts, is alive, and is not ready.
    api = start_api(f"postgresql://nobody@127.0.0.1:{tn.free_port()}/none")
    assert httpx.get(f"{api.base_url}/healthz").status_code == 200
    resp = httpx.get(f"{api.base_url}/ready", timeout=10)
    assert resp.status_code == 503 and resp.json()["status"] == "database unavailable"
    tasks = httpx.get(f"{api.base_url}/tasks", timeout=20)
    assert tasks.status_code == 503
    assert tasks.headers["content-type"] == "application/problem+json"


BAD_TASK_BODIES = [
    ("malformed JSON", b'{"title": ', 400),
    ("empty body", b"", 422),  # the required body is missing: a validation error, like FastAPI says
    ("not an object", b"[1, 2]", 422),
    ("title wrong type", b'{"title": 5}', 422),
    ("title missing", b'{"description": "x"}', 422),
    ("title empty", b'{"title": ""}', 422),
    ("title too long", b'{"title": "' + b"x" * 201 + b'"}', 422),
    ("description too long", b'{"title": "a", "description": "' + b"x" * 10001 + b'"}', 422),
    ("unknown state", b'{"title": "a", "state": "later"}', 422),
    ("unknown field", b'{"title": "a", "priority": 1}', 422),
    ("NUL in title", b'{"title": "a\\u0000b"}', 422),
    ("invalid UTF-8", b'{"title": "\xff\xfe"}', 400),
]


def test_bad_task_bodies_get_problems(tn, db_url, start_api):
    """Every case against one API (starting one per case cost a database, a migration and a
    process each); the case's `why` names a failure."""
    api = start_api(db_url)
    task = tn.new_task(api.base_url)
    for why, body, status in BAD_TASK_BODIES:
        resp = httpx.post(f"{api.base_url}/tasks", content=body, headers={"content-type": "application/json"})
        assert_problem(resp, status, why)
        patch = httpx.patch(
            f"{api.base_url}/tasks/{task['id']}", content=body, headers={"content-type": "application/json"}
        )
        if why not in ("title missing", "empty body"):  # both are valid-or-malformed differently for PATCH
            assert 400 <= patch.status_code < 500, f"{why}: PATCH answered {patch.status_code} {patch.text}"
            assert patch.headers["content-type"] == "application/problem+json", f"{why}: {patch.text}"


def assert_problem(resp: httpx.Response, status: int, why: str = "") -> None:
    where = f"{why}: " if why else ""
    assert resp.status_code == status, where + resp.text
    assert resp.headers["content-type"] == "application/problem+json", where + resp.text
    body = resp.json()
    assert {"type", "title", "status", "detail"} <= set(body), where + resp.text
    assert body["status"] == status, where + resp.text
    assert "Traceback" not in resp.text, where + resp.text


def test_bad_requests_of_every_other_kind_get_problems(tn, db_url, start_api):
    api = start_api(db_url, MAX_UPLOAD_BYTES="20000")
    b = api.base_url
    task = tn.new_task(b)
    tid = task["id"]
    unknown = str(uuid.uuid4())
    assert_problem(httpx.get(f"{b}/tasks/{unknown}"), 404)
    assert_problem(httpx.get(f"{b}/tasks/not-a-uuid"), 422)  # the schema says format: uuid
    assert_problem(httpx.patch(f"{b}/tasks/{unknown}", json={"title": "x"}), 404)
    assert_problem(httpx.delete(f"{b}/tasks/{unknown}"), 404)
    assert_problem(httpx.patch(f"{b}/tasks/{tid}", json={"title": None}), 422)
    assert_problem(httpx.patch(f"{b}/tasks/{tid}", json={"state": None}), 422)
    assert_problem(
        httpx.post(f"{b}/tasks", content=b'{"title":"a"}', headers={"content-type": "text/plain"}), 415
    )
    for cursor in ("abc", "!!!", "W10", "WyJ4IiwgInkiXQ", "x" * 600):
        assert 400 <= httpx.get(f"{b}/tasks", params={"cursor": cursor}).status_code < 500
    assert_problem(httpx.get(f"{b}/tasks", params={"cursor": "abc"}), 422)  # not the cursor's shape
    for limit in ("0", "101", "abc", "-1", "99999999999999999999"):
        assert_problem(httpx.get(f"{b}/tasks", params={"limit": limit}), 422)
    # Uploads: too large, not an image (whatever the name says), no file field, unknown task.
    assert_problem(tn.upload(b, tid, tn.jpeg_bytes(600, 600, quality=100) + b"\0" * 30000, "a.jpg"), 413)
    assert_problem(tn.upload(b, tid, b"GIF89a not what we take", "cat.jpg"), 415)
    assert_problem(tn.upload(b, tid, b"%PDF-1.4 ...", "photo.png"), 415)
    assert_problem(
        httpx.post(f"{b}/tasks/{tid}/images", data={"other": "x"}, files={"other_file": ("a", b"b")}), 422
    )
    assert_problem(
        httpx.post(f"{b}/tasks/{tid}/images", content=b"raw", headers={"content-type": "image/jpeg"}), 415
    )
    assert_problem(tn.upload(b, unknown, tn.jpeg_bytes(), "a.jpg"), 404)
    big = b'{"title": "' + b"x" * 100_000 + b'"}'
    as_json = {"content-type": "application/json"}
    assert_problem(httpx.post(f"{b}/tasks", content=big, headers=as_json), 413)
    chunked = (part for part in (big[:50_000], big[50_000:]))  # no Content-Length: streamed
    assert_problem(httpx.post(f"{b}/tasks", content=chunked, headers=as_json), 413)
    ok = tn.upload(b, tid, tn.jpeg_bytes(), "no-extension")
    assert ok.status_code == 202
    image_id = ok.json()["id"]
    assert_problem(httpx.get(f"{b}/tasks/{tid}/images/{unknown}"), 404)
    assert_problem(httpx.get(f"{b}/tasks/{unknown}/images/{image_id}"), 404)
    assert_problem(httpx.get(f"{b}/tasks/{tid}/images/{image_id}/variants/300"), 422)  # size is an enum
    assert_problem(httpx.get(f"{b}/tasks/{tid}/images/{image_id}/variants/512"), 404)  # not made yet
    assert_problem(httpx.get(f"{b}/no/such/route"), 404)
    assert_problem(httpx.put(f"{b}/tasks"), 405)


def test_upload_resize_and_download(tn, db_url, start_api, start_worker):
    api = start_api(db_url)
    b = api.base_url
    tid = tn.new_task(b)["id"]
    # Stored 400x300 with EXIF orientation 6 (rotate 90): it is a 300x400 portrait once applied.
    data = tn.jpeg_bytes(400, 300, orientation=6)
    resp = tn.upload(b, tid, data, "portrait.png")
    assert resp.status_code == 202
    image = resp.json()
    assert image["status"] == "pending" and image["variants"] == [] and image["content_type"] == "image/jpeg"
    assert image["size"] == len(data)
    start_worker(db_url)

    def done() -> dict | None:  # type: ignore[type-arg]
        body = httpx.get(f"{b}/tasks/{tid}/images/{image['id']}").json()
        return body if body["status"] == "done" else None

    final = tn.wait_until(done, 30, "the variants")
    assert final["variants"] == [
        {"size": 128, "width": 96, "height": 128},
        {"size": 512, "width": 300, "height": 400},  # never upscaled
        {"size": 1024, "width": 300, "height": 400},
    ]
    original = httpx.get(f"{b}/tasks/{tid}/images/{image['id']}/original")
    assert original.content == data and original.headers["content-type"] == "image/jpeg"
    small = httpx.get(f"{b}/tasks/{tid}/images/{image['id']}/variants/128")
    assert small.status_code == 200 and small.headers["content-type"] == "image/jpeg"
    from io import BytesIO

    from PIL import Image

    assert Image.open(BytesIO(small.content)).size == (96, 128)


def test_head_allow_content_type_and_location(tn, db_url, start_api):
    """HEAD answers every GET (same status and headers, no body); a 405 lists every method the
    path serves; a body that is not application/json is a 415; a create says where it went."""
    api = start_api(db_url)
    b = api.base_url
    created = httpx.post(f"{b}/tasks", json={"title": "located"})
    task = created.json()
    assert created.headers["location"] == f"/tasks/{task['id']}"
    for path in ("/healthz", "/ready", "/metrics", "/tasks", f"/tasks/{task['id']}"):
        get, head = httpx.get(b + path), httpx.head(b + path)
        assert (head.status_code, head.content) == (get.status_code, b""), path
        assert head.headers["content-type"] == get.headers["content-type"], path
    assert httpx.head(f"{b}/tasks/{uuid.uuid4()}").status_code == 404
    not_allowed = httpx.put(f"{b}/tasks/{task['id']}")
    assert_problem(not_allowed, 405)
    assert not_allowed.headers["allow"] == "DELETE, GET, HEAD, PATCH"
    assert httpx.request("TRACE", f"{b}/tasks").headers["allow"] == "GET, HEAD, POST"
    for ctype in ("application/x-notjson", "text/plain", "application/problem+json", ""):
        headers = {"content-type": ctype} if ctype else {}
        assert_problem(httpx.post(f"{b}/tasks", content=b'{"title": "a"}', headers=headers), 415, ctype)
        assert_problem(httpx.patch(f"{b}/tasks/{task['id']}", content=b'{"title": "a"}', headers=headers),
                       415, ctype)
