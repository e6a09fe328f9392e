"""RFC 9457 problem details: every error the API returns is one of these, never a stack trace."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import orjson
from starlette.responses import Response

PROBLEM_TYPE = "https://tasknote.example/problems/"


class Problem(Exception):
    def __init__(self, status: int, detail: str, *, kind: str = "", extra: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.kind = kind or HTTPStatus(status).phrase.lower().replace(" ", "-")
        self.extra = extra or {}
        self.headers = headers


def response(status: int, detail: str, *, kind: str = "", extra: dict[str, Any] | None = None,
             headers: dict[str, str] | None = None) -> Response:
    kind = kind or HTTPStatus(status).phrase.lower().replace(" ", "-")
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE + kind,
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    body.update(extra or {})
    return Response(orjson.dumps(body), status_code=status, media_type="application/problem+json",
                    headers=headers)


def from_problem(p: Problem) -> Response:
    return response(p.status, p.detail, kind=p.kind, extra=p.extra, headers=p.headers)
