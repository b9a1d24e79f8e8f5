"""A process's form files: their names, the templates for new ones, and checking their text.

A task form is two files of the deployed definition: `<name>.schema.json` (what the data
is) and `<name>.uischema.json` (how it is shown), in `forms/` beside the diagram; a user
task names them relative to its diagram's folder. Both the form editor page
(`forms_editor`) and the modeller page's forms panel (`static/forms-panel.js`, whose edits
arrive with the diagram, see `edits_from`) check form text here, so the two never disagree
about what may be deployed.
"""

from __future__ import annotations

import json
import posixpath
import re
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from werkzeug.exceptions import BadRequest

from engine import form_patterns
from engine.bundle_json import MAX_JSON_DEPTH, json_depth
from engine.errors import Problem

SCHEMA = ".schema.json"
UI = ".uischema.json"
NEW_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")

TEMPLATES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "beslut": (
        {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "Beslut",
            "type": "object",
            "required": ["beslut", "motivering"],
            "properties": {
                "beslut": {
                    "type": "string",
                    "title": "Beslut",
                    "oneOf": [
                        {"const": "godkann", "title": "Godkänn"},
                        {"const": "aterremittera", "title": "Återremittera"},
                    ],
                },
                "motivering": {"type": "string", "title": "Motivering"},
            },
        },
        {
            "ui:order": ["beslut", "motivering"],
            "beslut": {"ui:widget": "radio"},
            "motivering": {"ui:widget": "textarea"},
        },
    ),
    "tom": (
        {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "",
            "type": "object",
            "properties": {},
        },
        {},
    ),
}


MAX_FORM_BYTES = 1024 * 1024


def template_text(value: Any) -> str:
    """A template's JSON as the editor shows it: indented, non-ASCII letters as they are."""
    return json.dumps(value, ensure_ascii=False, indent=2) + "\n"


def ui_name(schema_name: str) -> str:
    """The UI schema that belongs to a JSON Schema file (the processes' naming)."""
    return schema_name.removesuffix(SCHEMA) + UI


def forms_folder(diagram_name: str) -> str:
    """Where a new form goes: `forms/` beside the diagram, as the processes keep them."""
    folder = posixpath.dirname(diagram_name)
    return posixpath.join(folder, "forms") if folder else "forms"


def parse_object(text: str) -> tuple[dict[str, Any] | None, str | None]:
    """A form file's text as a JSON object, or why it is not one (with line and column)."""
    too_deep = _("Formuläret är nästlat för djupt: högst %(n)s nivåer.", n=MAX_JSON_DEPTH)
    try:
        value = json.loads(text)
    except RecursionError:  # deeper than Python's stack (engine.bundle refuses it the same way)
        return None, too_deep
    except json.JSONDecodeError as err:
        return None, _(
            "Ogiltig JSON på rad %(line)s, tecken %(column)s: %(message)s",
            line=err.lineno,
            column=err.colno,
            message=err.msg,
        )
    if not isinstance(value, dict):
        return None, _("Texten måste vara ett JSON-objekt: { … }.")
    if json_depth(value) > MAX_JSON_DEPTH:
        return None, too_deep
    return value, None


def schema_error(schema: dict[str, Any]) -> str | None:
    """Why `schema` is not a valid JSON Schema (draft 2020-12), or None if it is."""
    for pointer, _message, _hint in form_patterns.problems(schema):  # as the deploy refuses
        if pointer.endswith("/unevaluatedProperties"):
            return _(
                "%(where)s går inte att kontrollera tillsammans med patternProperties: använd "
                "additionalProperties i stället.",
                where=pointer,
            )
        return _(
            "Mönstret i %(where)s kan inte kontrolleras säkert. Kedja kontrollerar mönster med "
            "RE2, som saknar bakåtreferenser (\\1) och lookaround ((?=, (?!): skriv om det.",
            where=pointer,
        )
    try:
        Draft202012Validator.check_schema(schema, format_checker=form_patterns.format_checker())
    except SchemaError as err:
        path = "/".join(str(p) for p in err.path)
        return _(
            "Ogiltigt JSON Schema%(where)s: %(message)s",
            where=f" ({path})" if path else "",
            message=err.message,
        )
    return None


@dataclass(frozen=True)
class FormEdits:
    """Form files sent with an edited diagram: those that may be deployed, by their name in
    the definition, and a problem for each of the others (which are left out). Whether a
    form's text is valid JSON (Schema) is the deploy's own check (`engine.bundle`), which
    names the file and line, so a broken form is reported once, and a draft keeps it."""

    files: dict[str, bytes]
    problems: list[Problem]


def edits_from(payload: Any, files: dict[str, bytes], diagram_name: str) -> FormEdits:
    """Check the names of the forms the modeller page sends with a diagram (`{name: text}`,
    names as the diagram's user tasks write them). A changed form must be one of the
    definition's form files; a new one a `.schema.json` / `.uischema.json` in `forms/` beside
    the diagram, named as the editor page requires — nothing else of the definition can be
    replaced this way."""
    if payload is None:
        return FormEdits({}, [])
    if not isinstance(payload, dict):
        raise BadRequest("forms must be an object of file names and texts")
    folder = posixpath.dirname(diagram_name)
    accepted: dict[str, bytes] = {}
    problems: list[Problem] = []
    for relative, text in payload.items():
        if not isinstance(relative, str) or not isinstance(text, str):
            raise BadRequest("every form must be a file name and a text")
        name = posixpath.normpath(posixpath.join(folder, relative))
        data = text.encode("utf-8")
        problem = _name_problem(name, relative, files, diagram_name)
        if problem is None and len(data) > MAX_FORM_BYTES:
            problem = Problem(
                _("Formuläret är större än 1 MB."),
                file=name,
                hint=_("Dela upp formuläret, eller korta texterna i det."),
            )
        if problem:
            problems.append(problem)
        else:
            accepted[name] = data
    return FormEdits(accepted, problems)


def _name_problem(
    name: str, relative: str, files: dict[str, bytes], diagram_name: str
) -> Problem | None:
    if name in files and name.endswith((SCHEMA, UI)):
        return None
    stem = posixpath.basename(name).removesuffix(SCHEMA).removesuffix(UI)
    if (
        relative.startswith("/")
        or not name.endswith((SCHEMA, UI))
        or posixpath.dirname(name) != forms_folder(diagram_name)
        or not NEW_NAME.match(stem)
    ):
        return Problem(
            _("Formulärfilen %(file)s kan inte sparas här.", file=relative),
            file=relative,
            hint=_(
                "Ett nytt formulär ligger i forms/ bredvid diagrammet och heter med små "
                "bokstäver a–z, siffror, - och _, till exempel forms/godkann_ansokan.schema.json."
            ),
        )
    return None


def template_texts() -> dict[str, dict[str, str]]:
    """The templates as the forms panel starts a new form from them."""
    return {
        key: {"schema": template_text(schema), "ui": template_text(ui)}
        for key, (schema, ui) in TEMPLATES.items()
    }
