"""/tasks/{task_id}/images: upload an image (202, resized later by the worker), read its
status, its original bytes and its variants."""

from __future__ import annotations

import uuid
from typing import Annotated

import orjson
from fastapi import APIRouter, Path, Request
from psycopg import AsyncConnection
from starlette.responses import Response

from tasknote import idempotency, store, uploads
from tasknote.contract import (
    IMAGE_LINKS,
    IMAGE_TYPES,
    JSON,
    LOCATION,
    VARIANT_TYPES,
    Image,
    VariantSize,
    binary,
    problems,
)
from tasknote.deps import AdmissionDep, DatabaseDep, SettingsDep
from tasknote.idempotency import Stored
from tasknote.problems import Problem
from tasknote.routes._http import IdempotencyKey, get_and_head, respond
from tasknote.runtime import Database
from tasknote.settings import Settings

router = APIRouter(prefix="/tasks/{task_id}/images", tags=["images"])

UPLOAD_BODY = {"requestBody": {"required": True, "content": {"multipart/form-data": {
    "schema": {"type": "object", "required": ["file"], "additionalProperties": False,
               "properties": {"file": {
                   "type": "string", "format": "binary",
                   "description": "the image: JPEG, PNG or WebP, recognised from its bytes (the "
                                  "file name and part type are ignored); anything else, an empty "
                                  "file included, is a 415"}}},
    "encoding": {"file": {"contentType": ", ".join(IMAGE_TYPES)}}}}}}


def _no_image(task_id: uuid.UUID, image_id: uuid.UUID) -> Problem:
    return Problem(404, f"no image {str(image_id)!r} on task {str(task_id)!r}", kind="not-found")


@router.post("", status_code=202, operation_id="upload_image", response_model=Image,
             openapi_extra=UPLOAD_BODY,
             responses={202: {"headers": LOCATION, "links": IMAGE_LINKS},
                        **problems(400, 404, 409, 411, 413, 415, 422, 503)})
async def upload_image(task_id: uuid.UUID, request: Request, db: DatabaseDep, settings: SettingsDep,
                       admission: AdmissionDep, idempotency_key: IdempotencyKey = None) -> Response:
    # The body is read by accept_upload, not declared as a FastAPI File parameter: FastAPI would
    # parse the whole form before any of our code could refuse it.
    return await accept_upload(request, task_id, db, settings, admission, idempotency_key)


async def accept_upload(request: Request, task_id: uuid.UUID, db: Database, settings: Settings,
                        admission: uploads.Admission, idempotency_key: str | None) -> Response:
    # Admission control and the body streamed to disk-backed scratch: tasknote/uploads.py. The
    # bytes then go from that file into PostgreSQL by COPY (store.add_image), never whole in memory.
    async with uploads.received(request, admission, settings) as upload:
        iid = uuid.uuid4()

        async def add(conn: AsyncConnection) -> Stored:
            info = upload.probe
            image = await store.add_image(conn, task_id, iid, info.content_type, upload.path, info.width,
                                          info.height, settings.worker_max_attempts)
            if image is None:
                raise Problem(404, f"no task with id {str(task_id)!r}", kind="not-found")
            return Stored(202, orjson.dumps(image), f"/tasks/{task_id}/images/{iid}")

        if idempotency_key is None:
            return respond(await db.run(add))
        key = idempotency.normalise(idempotency_key)
        print_ = idempotency.fingerprint_file(task_id.bytes, upload.path)
        scope, ttl = "POST /tasks/{task_id}/images", settings.idempotency_ttl_seconds
        return respond(await db.run(lambda c: idempotency.run_once(c, scope, key, print_, ttl, add)))


@get_and_head(router, "/{image_id}", operation_id="get_image", response_model=Image,
              responses=problems(404, 422, 503))
async def get_image(task_id: uuid.UUID, image_id: uuid.UUID, db: DatabaseDep) -> Response:
    image = await db.run(lambda c: store.get_image(c, task_id, image_id))
    if image is None:
        raise _no_image(task_id, image_id)
    return Response(orjson.dumps(image), media_type=JSON)


@get_and_head(router, "/{image_id}/original", operation_id="get_original", response_class=Response,
              responses={200: binary(*IMAGE_TYPES, description="the uploaded bytes, as uploaded"),
                         **problems(404, 422, 503)})
async def get_original(task_id: uuid.UUID, image_id: uuid.UUID, db: DatabaseDep) -> Response:
    found = await db.run(lambda c: store.get_original(c, task_id, image_id))
    if found is None:
        raise _no_image(task_id, image_id)
    return Response(found[1], media_type=found[0])


@get_and_head(router, "/{image_id}/variants/{size}", operation_id="get_variant", response_class=Response,
              responses={200: binary(*VARIANT_TYPES, description="the variant, longest side <= size"),
                         **problems(404, 422, 503)})
async def get_variant(task_id: uuid.UUID, image_id: uuid.UUID,
                      size: Annotated[VariantSize, Path(description="longest side in pixels")],
                      db: DatabaseDep) -> Response:
    found = await db.run(lambda c: store.get_variant(c, task_id, image_id, int(size)))
    if found is None:
        raise Problem(404, f"variant {size} of image {str(image_id)!r} is not ready or does not exist",
                      kind="not-found")
    return Response(found[1], media_type=found[0])
