"""Server-side validation of form data against a task's JSON Schema.

The browser may validate too, but only this counts: invalid data is never stored, and every
problem is reported against its field (a JSON pointer such as `/rows/2/measure`) so the UI can
put the message next to the input and keep everything else the user typed.

Patterns are matched with RE2 (`engine.form_patterns`), never with Python's backtracking `re`,
so no form can make a completion step take unbounded time.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.validators import validator_for

from . import form_patterns
from .errors import Problem, ValidationError


@lru_cache(maxsize=256)
def schema_validator(schema_text: str):  # type: ignore[no-untyped-def]
    """The jsonschema validator for a form schema's text, matching its patterns with RE2.

    Everything that validates data against a form (the engine, the web form's messages) uses
    this one, so no caller falls back to jsonschema's own `re` matching."""
    schema = json.loads(schema_text)
    cls = form_patterns.extend(validator_for(schema, default=Draft202012Validator), schema)
    return cls(schema, format_checker=form_patterns.format_checker())


def _pointer(path) -> str:  # type: ignore[no-untyped-def]
    return "/" + "/".join(str(p) for p in path) if path else "/"


def validate(schema_text: str, data: Any, form_name: str) -> None:
    """Raise `ValidationError` with one `Problem` per invalid field; return if valid."""
    try:
        errors = sorted(
            schema_validator(schema_text).iter_errors(data), key=lambda e: list(e.absolute_path)
        )
    except RecursionError:  # data nested deeper than Python's stack (enum/const compare it)
        raise ValidationError(
            f"The form data for {form_name} is nested too deeply to check; nothing was saved.",
            [
                Problem(
                    "the data is nested too deeply",
                    file=form_name,
                    element="/",
                    hint="send only the form's fields, as the form nests them",
                )
            ],
        ) from None
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
        unsafe = err.validator == form_patterns.UNSAFE
        problems.append(
            Problem(
                err.message,
                file=form_name,
                element=pointer,
                hint="the form cannot be checked as deployed: ask the process owner to rewrite "
                "it and deploy it again"
                if unsafe
                else "correct the value and submit again",
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
