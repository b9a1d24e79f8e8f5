"""A bundle's JSON files: parsed within limits, and the form schemas among them checked.

Every JSON file must be UTF-8 JSON nested at most `MAX_JSON_DEPTH` levels (measured without
recursion: a form nested 100,000 levels deep is a clear problem, not a RecursionError). A
file a task or start event names as its form, or one that says it is a schema, must be a
valid JSON Schema whose patterns RE2 can run (engine/form_patterns.py). Each problem names
the file and, where it can, the JSON pointer.
"""

from __future__ import annotations

import json
from typing import Any

from lxml import etree

from engine import bpmn_rules, form_patterns
from engine.errors import Problem

MAX_JSON_DEPTH = 64
"""Deepest nesting of arrays and objects in a bundle's JSON file. A form nests a few levels
(each schema level is two: `properties`, then the field); jsonschema, the renderer and the
validator recurse once per level and exhaust Python's stack somewhere past 150 schema levels."""

__all__ = ["MAX_JSON_DEPTH", "check_json", "form_schema_names", "json_depth"]


def json_depth(value: Any) -> int:
    """How deeply arrays and objects nest in a parsed JSON value (iteratively: no recursion)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, depth)
            if depth <= MAX_JSON_DEPTH:  # past the limit the answer is already known
                items = node.values() if isinstance(node, dict) else node
                stack.extend((item, depth + 1) for item in items)
    return deepest


def _too_deep(name: str) -> Problem:
    return Problem(
        f"the JSON is nested too deeply: a bundle's JSON file may nest arrays and objects at "
        f"most {MAX_JSON_DEPTH} levels",
        file=name,
        hint="Simplify the form: move deeply nested parts up a level, or split the form",
    )


def check_json(name: str, data: bytes, form_schemas: set[str]) -> list[Problem]:
    try:
        value = json.loads(data.decode("utf-8-sig"))
    except RecursionError:  # nested deeper than Python's stack: far past MAX_JSON_DEPTH
        return [_too_deep(name)]
    except UnicodeDecodeError as err:
        return [
            Problem(
                f"not UTF-8 text: {err.reason} at byte {err.start}",
                file=name,
                hint="Save the file as UTF-8",
            )
        ]
    except json.JSONDecodeError as err:
        return [
            Problem(
                f"not valid JSON: {err.msg} (column {err.colno})",
                file=name,
                line=err.lineno,
                hint="Fix the JSON syntax at that line (a missing comma or quote, a trailing "
                "comma), or export the form again",
            )
        ]
    if json_depth(value) > MAX_JSON_DEPTH:
        return [_too_deep(name)]
    is_schema = (
        name in form_schemas
        or (isinstance(value, dict) and "$schema" in value)
        or (name.lower().endswith("schema.json") and not name.lower().endswith("uischema.json"))
    )
    if not is_schema:
        return []
    from jsonschema import Draft202012Validator, SchemaError, validators

    if not isinstance(value, dict | bool):
        return [
            Problem(
                f"a JSON Schema must be an object, not {type(value).__name__}",
                file=name,
                hint='A form schema looks like {"type": "object", "properties": {...}}',
            )
        ]
    unsafe = [
        Problem(message, file=name, element=pointer, hint=hint)
        for pointer, message, hint in form_patterns.problems(value)
    ]
    if unsafe:
        return unsafe
    validator = validators.validator_for(value, default=Draft202012Validator)
    try:  # `format: regex` in the meta-schema checks patterns: with RE2, as validation will
        validator.check_schema(value, format_checker=form_patterns.format_checker())
    except RecursionError:
        return [_too_deep(name)]
    except SchemaError as err:
        pointer = "/" + "/".join(str(p) for p in err.absolute_path) if err.absolute_path else None
        return [
            Problem(
                f"not a valid JSON Schema: {err.message}",
                file=name,
                element=pointer,
                hint="Fix the schema at that place (see json-schema.org for the keywords)",
            )
        ]
    return []


def form_schema_names(trees: dict[str, etree._ElementTree], bundle_files: set[str]) -> set[str]:
    """Bundle files that user tasks name as formJsonSchemaFilename (validated as schemas)."""
    names: set[str] = set()
    for file_name, tree in trees.items():
        root = tree.getroot()
        tasks = [*root.iterfind(".//bpmn:userTask", bpmn_rules.NS)]
        tasks += root.iterfind("bpmn:process/bpmn:startEvent", bpmn_rules.NS)
        for task in tasks:
            ref = bpmn_rules.spiff_properties(task).get("formJsonSchemaFilename")
            resolved = bpmn_rules.resolve_form_reference(file_name, ref or "", bundle_files)
            if ref and resolved:
                names.add(resolved)
    return names
