"""What the API answers with: JSON bodies, and RFC 9457 problem details for errors.

Every answer of the API goes out through these two, so that a body is always UTF-8 JSON
with the content type the OpenAPI document names (`application/json`, or
`application/problem+json` for an error).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from flask import Response, current_app

from .openapi import ERROR_TITLES, PROBLEM_JSON


def ok(data: Any, status: int = 200) -> Response:
    return current_app.response_class(
        json.dumps(data, ensure_ascii=False, default=str),
        status=status,
        mimetype="application/json",
    )


def problem(
    status: int,
    detail: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """An RFC 9457 problem details response (`type` about:blank: the status says it all)."""
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": ERROR_TITLES.get(status, "Error"),
        "status": status,
    }
    if detail:
        body["detail"] = detail
    if errors is not None:
        body["errors"] = errors
    response = Response(json.dumps(body, ensure_ascii=False), status=status, mimetype=PROBLEM_JSON)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
