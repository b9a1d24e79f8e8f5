"""The decision register: every signed-in user may read it, as in the web UI."""

from __future__ import annotations

from flask import Response

from engine.errors import NotFound
from processes.decisions import get_decision, list_decisions
from webui.auth.access import engine

from . import bp, openapi
from .openapi import MAX_ID
from .parsing import choice_arg, paging, text_arg
from .responses import ok


@bp.get("/decisions")
def decisions() -> Response:
    limit, offset = paging()
    found = list_decisions(
        engine(),
        kind=choice_arg("kind", openapi.DECISION_KINDS),
        organisation=text_arg("organisation"),
        search=text_arg("search"),
        limit=limit + 1,
        offset=offset,
    )
    return ok(
        {
            "items": [d.as_dict() for d in found[:limit]],
            "limit": limit,
            "offset": offset,
            "more": len(found) > limit,
        }
    )


@bp.get("/decisions/<number>")
def decision(number: str) -> Response:
    if number.isdigit() and (not number.isascii() or int(number) > MAX_ID):
        raise NotFound(f"There is no decision {number}.")
    return ok(get_decision(engine(), number).as_dict())
