"""Process definitions and deployments (and the OpenAPI document itself)."""

from __future__ import annotations

from typing import Any

from flask import Response, request

from engine.errors import NotPermitted
from engine.repository import DefinitionInfo
from webui.auth.access import engine

from . import bp, openapi
from .auth import DEPLOYERS, actor, holds_any
from .parsing import bool_arg, text_arg
from .problems import Invalid
from .responses import ok


@bp.get("/openapi.json")
def openapi_document() -> Response:
    return ok(openapi.document())


@bp.get("/definitions")
def definitions() -> Response:
    rows = engine().repository.definitions(
        key=text_arg("key"), latest_only=not bool_arg("all_versions")
    )
    return ok({"items": [_definition_json(d) for d in rows]})


def _definition_json(definition: DefinitionInfo) -> dict[str, Any]:
    return {**definition.as_dict(), "approval": engine().approvals.of(definition.id).state}


@bp.post("/deployments")
def deploy() -> Response:
    from engine.bundle import Bundle

    if not holds_any(DEPLOYERS):
        raise NotPermitted("Only process owners and administrators deploy processes.")
    uploads = [f for f in request.files.getlist("files") if f.filename]
    if not uploads:
        raise Invalid(
            [{"pointer": "/files", "message": "Upload at least one .bpmn, .dmn or .json file."}]
        )
    bundle = Bundle.from_files({f.filename: f.read() for f in uploads})  # type: ignore[misc]
    results = engine().repository.deploy(bundle, actor())
    created = any(r.created for r in results)
    body = {"deployed": [{"created": r.created, **_definition_json(r.definition)} for r in results]}
    return ok(body, 201 if created else 200)
