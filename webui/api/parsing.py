"""Reading a request: query parameters and the JSON body, each checked before use.

A query parameter of the wrong type or range is a 400 naming the parameter and what it
must be. The JSON body is refused with 400 when it is not JSON or is nested deeper than
`webui.json_limits.MAX_DEPTH` — checked on the raw text before anything parses it
recursively (json.loads and jsonschema both recurse once per level) — and then checked
against its schema in the OpenAPI document (`schemas.py`), every problem reported with its
JSON pointer (422).
"""

from __future__ import annotations

from typing import Any

from flask import request
from jsonschema import Draft202012Validator
from werkzeug.exceptions import BadRequest

from engine.errors import NotFound
from webui import json_limits

from .problems import Invalid, pointer
from .schemas import MAX_ID, MAX_LIMIT, SCHEMAS


def text_arg(name: str, maximum: int = 200) -> str | None:
    value = request.args.get(name)
    if value is None or value == "":
        return None
    if len(value) > maximum:
        raise BadRequest(f"The query parameter '{name}' is longer than {maximum} characters.")
    return value


def int_arg(name: str, default: int, minimum: int, maximum: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"The query parameter '{name}' must be an integer.") from None
    if not minimum <= value <= maximum:
        raise BadRequest(f"The query parameter '{name}' must be from {minimum} to {maximum}.")
    return value


def bool_arg(name: str) -> bool:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return False
    if raw.lower() in ("true", "1"):
        return True
    if raw.lower() in ("false", "0"):
        return False
    raise BadRequest(f"The query parameter '{name}' must be true or false.")


def choice_arg(name: str, choices: tuple[str, ...], default: str | None = None) -> str | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if raw not in choices:
        raise BadRequest(f"The query parameter '{name}' must be one of {', '.join(choices)}.")
    return raw


def paging() -> tuple[int, int]:
    return int_arg("limit", 50, 1, MAX_LIMIT), int_arg("offset", 0, 0, MAX_ID)


_VALIDATORS: dict[str, Draft202012Validator] = {}


def body(schema_name: str) -> dict[str, Any]:
    """The JSON request body, checked against its schema in the OpenAPI document."""
    if not request.is_json:
        raise BadRequest("Send the body as JSON (Content-Type: application/json).")
    try:
        value = json_limits.loads(request.get_data(as_text=True) or "null")
    except json_limits.TooDeep as exc:
        raise BadRequest(str(exc)) from None
    except ValueError:
        raise BadRequest("The body is not valid JSON.") from None
    validator = _VALIDATORS.get(schema_name)
    if validator is None:
        validator = _VALIDATORS[schema_name] = Draft202012Validator(SCHEMAS[schema_name])
    errors = []
    for error in sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path)):
        path = list(error.absolute_path)
        if error.validator == "required" and isinstance(error.instance, dict):
            missing = [n for n in error.validator_value if n not in error.instance]
            for name in missing:
                errors.append({"pointer": pointer([*path, name]), "message": "Required."})
            continue
        errors.append({"pointer": pointer(path), "message": error.message})
    if errors:
        raise Invalid(errors)
    return value


def check_id(value: int) -> None:
    if value > MAX_ID:
        raise NotFound("There is no such object.")
