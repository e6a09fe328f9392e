"""Schemathesis against the real API (PostgreSQL and Redis, the app as a subprocess): every
operation of /openapi.json with every built-in check, then stateful sequences along the
document's links (create -> read/update/delete/upload -> image reads). Zero failures allowed.

Check configuration below widens what counts as an accepted answer in two places, each with
its reason; no check is disabled."""

from __future__ import annotations

import io
import re
import time
import uuid
from collections import Counter

import schemathesis
import schemathesis.engine
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import Status, events
from schemathesis.generation.meta import CoveragePhaseData
from tasknote import idempotency

CONFIG = {
    "generation": {"max-examples": 40, "mode": "all", "deterministic": True},
    # Generous: a loaded 2-core CI machine; the point is "never hangs", not a latency SLO.
    "checks": {"max_response_time": 5},
    "operations": [
        # An upload is schema-valid bytes, but only a JPEG, PNG or WebP is an image (415
        # otherwise): the schema cannot say "decodes as an image", so 415 is an honest answer.
        {"include-operation-id": "upload_image",
         "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", "404", "409", "415", "5xx"]}}},
        # A cursor of the documented shape that this API did not sign is a 400 (its HMAC cannot
        # be expressed in a schema); the stateful run feeds real cursors through NextPage.
        *({"include-operation-id": op,
           "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", "400", "404", "5xx"]}}}
          for op in ("list_tasks", "head_list_tasks")),
    ],
}


# Hooks are registered globally (the engine reads them); this
# module is the only schemathesis user in the suite.
@schemathesis.hook
def before_call(context, case, kwargs):  # type: ignore[no-untyped-def]
    """A fresh Idempotency-Key for every request that carries one meant to be valid (every phase
    calls through here): the schema cannot say "new for each new payload", and reusing one for
    another body is, per the draft, a 422. Replays are tested in test_idempotency.py. "Meant to
    be valid" includes schemathesis 4.32's coverage phase filling the optional header with '0'
    (which the documented pattern rejects) while it targets another parameter; the values it
    generates to test the header itself are left alone."""
    key = (case.headers or {}).get("Idempotency-Key")
    if not isinstance(key, str):
        return
    data = case.meta.phase.data if case.meta is not None else None
    filler = isinstance(data, CoveragePhaseData) and data.parameter != idempotency.HEADER
    if re.fullmatch(idempotency.PATTERN, key) or filler:
        case.headers["Idempotency-Key"] = str(uuid.uuid4())


@schemathesis.hook
def map_body(context, body):  # type: ignore[no-untyped-def]
    """Half of the generated uploads carry a real image, so the accepting path (202, then the
    image links) is exercised too, not only the 415 for bytes that are not an image."""
    upload = context.operation is not None and context.operation.label == "POST /tasks/{task_id}/images"
    file = body.get("file") if isinstance(body, dict) else None
    if upload and isinstance(file, bytes) and len(file) % 2 == 0:
        body = {**body, "file": tiny_jpeg()}
    return body


def tiny_jpeg() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (8, 6), "teal").save(buf, "JPEG")
    return buf.getvalue()


def answer(recorder, case_id):  # type: ignore[no-untyped-def]
    interaction = recorder.interactions.get(case_id)
    response = interaction.response if interaction is not None else None
    sent = interaction.request.headers.get("Idempotency-Key") if interaction is not None else None
    if response is None:
        return "no response"
    return f"Idempotency-Key {sent!r}: {response.status_code} {response.content[:300]!r}"


def test_every_operation_and_link_conforms(module_api):  # type: ignore[no-untyped-def]
    """The same engine the schemathesis CLI runs, through its Python API: the examples,
    coverage (positive and negative cases per parameter), fuzzing and stateful phases."""
    schema = schemathesis.openapi.from_url(f"{module_api.base_url}/openapi.json",
                                           config=SchemathesisConfig.from_dict(CONFIG))
    cases: Counter[str] = Counter()
    failures: list[str] = []
    errors: list[str] = []
    started = time.monotonic()
    for event in schemathesis.engine.from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            for case_id, node in event.recorder.cases.items():
                cases[f"{event.phase.value} {node.value.operation.label}"] += 1
                failures += [f"{event.phase.value} {node.value.operation.label}: {check.name}:"
                             f" {check.failure_info.failure.message} -> {answer(event.recorder, case_id)}"
                             f" ({check.failure_info.code_sample[:1500]})"
                             for check in event.recorder.checks.get(case_id, [])
                             if check.status == Status.FAILURE and check.failure_info is not None]
        elif isinstance(event, (events.NonFatalError, events.FatalError)):
            errors.append(repr(getattr(event, "value", None) or getattr(event, "exception", None)))
    total = sum(cases.values())
    operations = {op.ok().label for op in schema.get_all_operations()}
    exercised = {label.split(" ", 1)[1] for label in cases}
    print(f"schemathesis: {total} cases, {len(operations)} operations, "
          f"{time.monotonic() - started:.0f} s; by phase: "
          f"{dict(Counter(label.split(' ', 1)[0] for label in cases.elements()))}")
    assert errors == [], errors[:5]
    assert not failures, "\n".join(sorted(set(failures)))
    assert operations <= exercised, f"never exercised: {sorted(operations - exercised)}"
    assert any(label.startswith("stateful") for label in cases), "the stateful phase ran"
    assert total >= 1000, cases
