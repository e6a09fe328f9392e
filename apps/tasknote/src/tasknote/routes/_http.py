"""What the routers share: GET routes that also answer HEAD, the Content-Type gate, the
Idempotency-Key header parameter and replaying a stored response."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Header, Request
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.responses import Response

from tasknote import idempotency
from tasknote.contract import JSON
from tasknote.idempotency import Stored
from tasknote.problems import Problem

F = TypeVar("F", bound=Callable[..., Any])

IdempotencyKey = Annotated[str | None, Header(alias=idempotency.HEADER, pattern=idempotency.PATTERN,
                                              description=idempotency.DOC)]


def get_and_head(router: APIRouter, path: str, *, operation_id: str, **kwargs: Any) -> Callable[[F], F]:
    """Register the endpoint for GET and, as its own documented operation, HEAD (same headers,
    no body: uvicorn drops the body of a HEAD response). FastAPI routes GET only by default."""
    head_id = "head_" + operation_id.removeprefix("get_")

    def register(endpoint: F) -> F:
        router.add_api_route(path, endpoint, methods=["GET"], operation_id=operation_id, **kwargs)
        router.add_api_route(path, endpoint, methods=["HEAD"], operation_id=head_id, **kwargs)
        return endpoint

    return register


MAX_JSON_BYTES = 64 * 1024  # a task is at most ~40 KB of JSON even with 4-byte characters


class _CappedBodyRequest(Request):
    async def body(self) -> bytes:
        """The body, refused with 413 past MAX_JSON_BYTES whether or not a Content-Length says
        so (a chunked body is counted while it streams, never buffered whole)."""
        if not hasattr(self, "_body"):
            length = self.headers.get("content-length")
            if length is not None and (not length.isdigit() or int(length) > MAX_JSON_BYTES):
                raise HTTPException(413)
            chunks, size = [], 0
            async for chunk in self.stream():
                size += len(chunk)
                if size > MAX_JSON_BYTES:
                    raise HTTPException(413)
                chunks.append(chunk)
            self._body = b"".join(chunks)
        return self._body


class JsonBodyRoute(APIRoute):
    """A route whose body FastAPI reads through _CappedBodyRequest (FastAPI's documented way to
    change how a route reads its request: a custom APIRoute class). The HTTPException it raises
    reaches the app's handler, which answers a 413 problem; Starlette's own body limit answers
    text/plain from inside the route."""

    def get_route_handler(self) -> Callable[[Request], Any]:
        handler = super().get_route_handler()

        async def capped(request: Request) -> Response:
            if request.method in ("POST", "PATCH", "PUT"):
                request = _CappedBodyRequest(request.scope, request.receive)
            response: Response = await handler(request)
            return response

        return capped


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


async def require_json(request: Request) -> None:
    """415 unless the body is declared application/json. FastAPI would parse any `+json` type as
    JSON and hand anything else (application/x-notjson) to validation as bytes."""
    if media_type(request) != JSON:
        raise Problem(415, "send the body as application/json", kind="unsupported-media-type")


def respond(stored: Stored) -> Response:
    headers = {"Location": stored.location} if stored.location else None
    return Response(stored.body, status_code=stored.status, media_type=JSON, headers=headers)
