"""Delivering a message to the instance waiting for it (or starting the process it starts).
Administrators only: a message can move any organisation's case on."""

from __future__ import annotations

from flask import Response

from engine.errors import NotPermitted
from webui.auth.access import engine

from . import bp
from .auth import actor
from .parsing import body
from .responses import ok


@bp.post("/messages")
def correlate() -> Response:
    if not actor().admin:
        raise NotPermitted("Only administrators deliver messages through the API.")
    request_body = body("MessageRequest")
    instance_id = engine().runtime.correlate(
        request_body["name"],
        request_body.get("payload", {}),
        request_body.get("correlation", {}),
        actor(),
    )
    return ok({"instance_id": instance_id})
