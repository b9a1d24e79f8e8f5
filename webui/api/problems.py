"""How failures become problem details: the engine's errors, refused request bodies, HTTP
errors, and anything unexpected (logged, and answered without its details).

Also for addresses under /api/v1 that match no route: 404 and 405 there come as problem
details too, while every other address keeps the web UI's own error pages.
"""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, request
from werkzeug.exceptions import HTTPException

from engine.errors import (
    Conflict,
    DamagedState,
    KedjaError,
    NotFound,
    NotPermitted,
    Problem,
    ValidationError,
)

from . import bp
from .auth import bearer_token
from .responses import problem


def pointer(parts: Any) -> str:
    """An RFC 6901 JSON pointer from path parts."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def problem_errors(problems: list[Problem], form: str | None = None) -> list[dict[str, Any]]:
    """The engine's problems as the `errors` extension. A form field's pointer is relative
    to the form's data; `form` is where that data sits in the request body (`/data`), so
    the pointer becomes one into the body. A deployment's problems name file, element and
    line instead."""
    result = []
    for p in problems:
        entry: dict[str, Any] = {"message": p.message}
        if form is not None:
            entry["pointer"] = form + ("" if p.element in (None, "", "/") else str(p.element))
        else:
            if p.file:
                entry["file"] = p.file
            if p.element:
                entry["element"] = p.element
            if p.line:
                entry["line"] = p.line
        if p.hint:
            entry["hint"] = p.hint
        result.append(entry)
    return result


class Invalid(Exception):
    """A request body or field the API refuses with 422 before the engine sees it."""

    def __init__(
        self, errors: list[dict[str, Any]], detail: str = "The request is invalid."
    ) -> None:
        super().__init__(detail)
        self.errors = errors
        self.detail = detail


def status_of(exc: KedjaError) -> int:
    if isinstance(exc, ValidationError):
        return 422
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, NotPermitted):
        return 403
    if isinstance(exc, Conflict | DamagedState):
        # A damaged instance is a state of the resource that forbids the change, as a
        # finished one is: trying again will not help, terminating it will.
        return 409
    return 400


@bp.errorhandler(Invalid)
def _invalid(exc: Invalid) -> Response:
    return problem(422, exc.detail, exc.errors)


@bp.errorhandler(KedjaError)
def _kedja_error(exc: KedjaError) -> Response:
    status = status_of(exc)
    if isinstance(exc, ValidationError):
        return problem(status, exc.summary, problem_errors(exc.problems))
    detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return problem(status, detail)


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    headers = {}
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="kedja"' + (
            ', error="invalid_token"' if bearer_token() else ""
        )
    if status == 405 and exc.get_headers():
        headers.update({k: v for k, v in exc.get_headers() if k.lower() == "allow"})
    return problem(status, exc.description, headers=headers)


@bp.errorhandler(Exception)
def _unexpected(exc: Exception) -> Response:
    current_app.logger.exception("API request failed: %s %s", request.method, request.path)
    return problem(500, "Something went wrong in Kedja; the problem was logged.")


def _outside_routes(exc: HTTPException) -> Any:
    """404 and 405 for addresses under /api/v1 that match no route come as problem details
    too; every other address keeps the app's own error page."""
    if request.path == bp.url_prefix or request.path.startswith(f"{bp.url_prefix}/"):
        return _http_error(exc)
    return exc


bp.app_errorhandler(404)(_outside_routes)
bp.app_errorhandler(405)(_outside_routes)
