"""Server-side validation of form data against a task's JSON Schema.

The browser may validate too, but only this counts: invalid data is never stored, and every
problem is reported against its field (a JSON pointer such as `/rows/2/measure`) so the UI can
put the message next to the input and keep everything else the user typed.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.validators import validator_for

from .errors import Problem, ValidationError


@lru_cache(maxsize=256)
def _validator(schema_text: str):  # type: ignore[no-untyped-def]
    schema = json.loads(schema_text)
    cls = validator_for(schema, default=Draft202012Validator)
    return cls(schema, format_checker=FormatChecker())


def _pointer(path) -> str:  # type: ignore[no-untyped-def]
    return "/" + "/".join(str(p) for p in path) if path else "/"


def validate(schema_text: str, data: Any, form_name: str) -> None:
    """Raise `ValidationError` with one `Problem` per invalid field; return if valid."""
    errors = sorted(_validator(schema_text).iter_errors(data), key=lambda e: list(e.absolute_path))
    if not errors:
        return
    problems: list[Problem] = []
    seen: set[str] = set()
    for err in errors:
        pointer = _pointer(err.absolute_path)
        if err.validator == "required" and isinstance(err.instance, dict):
            # Point at the missing field itself, not at its parent object. jsonschema reports
            # one error per missing name, each carrying the whole list: report each name once.
            for name in err.validator_value:
                field = pointer.rstrip("/") + "/" + name
                if name in err.instance or field in seen:
                    continue
                seen.add(field)
                problems.append(
                    Problem(
                        f"'{name}' is required",
                        file=form_name,
                        element=field,
                        hint="fill in this field",
                    )
                )
            continue
        problems.append(
            Problem(
                err.message,
                file=form_name,
                element=pointer,
                hint="correct the value and submit again",
            )
        )
    raise ValidationError(
        f"The form data does not match {form_name}: {len(problems)} problem(s); nothing was saved.",
        problems,
    )


def example_data(schema: dict[str, Any]) -> Any:
    """Data that satisfies `schema`, from its defaults or else its first valid values.

    For simulations: an auto-completed task needs answers that pass validation, and a
    process owner recognises the defaults they wrote.
    """
    if "default" in schema:
        return schema["default"]
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("oneOf", "anyOf"):
        if schema.get(key):
            return example_data(schema[key][0])
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        props = schema.get("properties", {})
        return {name: example_data(props.get(name, {})) for name in schema.get("required", [])}
    if kind == "array":
        return [example_data(schema.get("items", {})) for _ in range(schema.get("minItems", 0))]
    if kind in ("integer", "number"):
        return schema.get("minimum", 0)
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    examples = {
        "date": "2000-01-01",
        "date-time": "2000-01-01T08:00:00+01:00",
        "email": "namn@exempel.se",
        "uri": "https://exempel.se/",
    }
    if schema.get("format") in examples:
        return examples[schema["format"]]
    return "x" * max(1, schema.get("minLength", 1))
