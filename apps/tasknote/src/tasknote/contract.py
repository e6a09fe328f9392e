"""The HTTP contract as data: request and response models, the problem schema, which statuses
each kind of operation documents, media types and OpenAPI links. Routes import these so the
document /openapi.json serves is the one the handlers are written against."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from tasknote import cursors

Title = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00]*$")]
Description = Annotated[str, StringConstraints(max_length=10000, pattern=r"^[^\x00]*$")]
State = Literal["todo", "doing", "done"]
VariantSize = Literal["128", "512", "1024"]
Cursor = Annotated[str, StringConstraints(pattern=cursors.PATTERN)]
JSON = "application/json"
PROBLEM_JSON = "application/problem+json"
IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp")
VARIANT_TYPES = ("image/jpeg", "image/webp")  # JPEG, or WebP where the source has transparency
# What prometheus_client's generate_latest() writes (exposition.CONTENT_TYPE_LATEST, 0.26).
METRICS_TYPE = "text/plain"


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


class TaskCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    title: Title
    description: Description | None = None
    state: State = "todo"


class TaskPatch(BaseModel):
    """Fields present are set; absent ones are left alone. `description: null` clears the
    description; `title` and `state` cannot be cleared, so the schema does not allow null there
    and a null is a 422 like any other wrong type."""

    model_config = ConfigDict(extra="forbid", strict=True)
    # Not nullable, not required: the None default only marks "absent" (model_fields_set says
    # which fields were sent) and is kept out of the schema.
    title: Title = Field(default=None, json_schema_extra=_no_default)  # type: ignore[assignment]
    description: Description | None = Field(default=None, json_schema_extra=_no_default)
    state: State = Field(default=None, json_schema_extra=_no_default)  # type: ignore[assignment]


class Task(BaseModel):
    id: uuid.UUID
    title: str
    description: str | None
    state: State
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None = Field(description="set when the task became done; null otherwise")


class TaskPage(BaseModel):
    items: list[Task]
    next_cursor: Cursor | None = Field(description="pass as ?cursor= for the next page; null on the last")


class Variant(BaseModel):
    size: int
    width: int
    height: int


class Image(BaseModel):
    id: uuid.UUID
    task_id: uuid.UUID
    content_type: Literal["image/jpeg", "image/png", "image/webp"]
    size: int = Field(description="bytes of the original")
    status: Literal["pending", "done", "failed"]
    variants: list[Variant]


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ready", "shutting down", "migrations pending", "database unavailable"]
    schema_version: int | None = Field(default=None, alias="schema")
    want: int | None = None


class FieldError(BaseModel):
    field: str
    message: str
    type: str


class ProblemDetails(BaseModel):
    """RFC 9457 problem details; every error the API returns is one."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[FieldError] | None = Field(default=None, description="on 422: one entry per bad field")
    max_bytes: int | None = Field(default=None, description="on 413 for uploads: the limit")


_WHY = {
    400: "Malformed request: the body is not valid JSON or the multipart body cannot be parsed, "
         "or the cursor is not one this API returned",
    404: "No such task, image or variant (or the variant is not made yet)",
    409: "A request with the same Idempotency-Key is still being processed; retry after Retry-After",
    411: "An upload without a Content-Length",
    413: "The body is larger than the limit",
    415: "The Content-Type is not one this operation takes, or the upload is not a JPEG, PNG or WebP",
    422: "The request does not match the schema (a field, parameter or header), or an "
         "Idempotency-Key was reused with a different payload",
    500: "An unexpected error; it has been logged",
    503: "The database is unavailable or busy; retry after Retry-After",
}
_RETRY_AFTER = {"Retry-After": {"description": "seconds to wait before retrying",
                                "schema": {"type": "integer", "minimum": 0}}}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI responses for these statuses (and 500, which any operation can answer), each an
    application/problem+json ProblemDetails."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in sorted({*statuses, 500}):
        entry: dict[str, Any] = {"description": _WHY[status], "model": ProblemDetails,
                                 "content": {PROBLEM_JSON: {}}}
        if status in (409, 503):
            entry["headers"] = _RETRY_AFTER
        out[status] = entry
    return out


def binary(*media_types: str, description: str) -> dict[str, Any]:
    """A 200 whose body is bytes of one of these media types (not JSON)."""
    schema = {"type": "string", "format": "binary"}
    return {"description": description, "content": {t: {"schema": schema} for t in media_types}}


LOCATION = {"Location": {"description": "the URL of what was created", "schema": {"type": "string"}}}


def links(**targets: tuple[str, dict[str, str]]) -> dict[str, Any]:
    """OpenAPI links, name=(operationId, {parameter: runtime expression})."""
    return {name: {"operationId": op, "parameters": params} for name, (op, params) in targets.items()}


TASK_REF = {"task_id": "$response.body#/id"}
TASK_LINKS = links(GetTask=("get_task", TASK_REF), HeadTask=("head_task", TASK_REF),
                   UpdateTask=("update_task", TASK_REF), DeleteTask=("delete_task", TASK_REF),
                   UploadImage=("upload_image", TASK_REF))
IMAGE_REF = {"task_id": "$response.body#/task_id", "image_id": "$response.body#/id"}
IMAGE_LINKS = links(GetImage=("get_image", IMAGE_REF), HeadImage=("head_image", IMAGE_REF),
                    GetOriginal=("get_original", IMAGE_REF), GetVariant=("get_variant", IMAGE_REF))
PAGE_LINKS = links(NextPage=("list_tasks", {"cursor": "$response.body#/next_cursor"}))
