"""Validation messages in plain Swedish (and English), one per field.

The engine validates every completion against the task's JSON Schema and reports problems by
JSON pointer, with jsonschema's English wording ("'analys' is a required property"). People
need to read what to do, in their language, next to the field: this module re-reads the same
data against the same schema and words each problem from the failing keyword and the field's
own title ("Fyll i ”Analys”."). Any pointer the engine names that has no message here still
gets a general one, so no reported problem is ever hidden.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from flask_babel import gettext as _
from jsonschema.exceptions import ValidationError as SchemaError

from engine.form_patterns import UNSAFE
from engine.forms import schema_validator

from .spec import Field, join, locate, split


def _pointer(path: Iterable[Any]) -> str:
    pointer = ""
    for part in path:
        pointer = join(pointer, part)
    return pointer or "/"


def field_at(root: Field, pointer: str) -> Field | None:
    path = locate(root, pointer)
    return path[-1][0] if path else None


def _name(root: Field, pointer: str) -> str:
    f = field_at(root, pointer)
    if f is not None and f.label:
        return f.label
    parts = split(pointer)
    return parts[-1] if parts else _("formuläret")


def messages(
    root: Field,
    schema: dict[str, Any] | str,
    data: Any,
    problems: Iterable[Any] = (),
) -> dict[str, str]:
    """{JSON pointer: message} for every problem with `data`, first problem per field.

    `problems` are the engine's (objects with `.element`); each gets a message even when
    this module's own reading finds nothing at that pointer."""
    text = schema if isinstance(schema, str) else json.dumps(schema, sort_keys=True)
    found: dict[str, str] = {}
    # The engine's validator (patterns matched with RE2), never jsonschema's own `re`.
    errors = sorted(schema_validator(text).iter_errors(data), key=lambda e: list(e.absolute_path))
    for error in errors:
        for pointer, message in _describe(root, error):
            found.setdefault(pointer, message)
    for problem in problems:
        pointer = getattr(problem, "element", None) or "/"
        if pointer not in found:
            found[pointer] = _("”%(name)s” stämmer inte med formulärets regler.") % {
                "name": _name(root, pointer)
            }
    return found


def _describe(root: Field, error: SchemaError) -> list[tuple[str, str]]:
    pointer = _pointer(error.absolute_path)
    keyword = error.validator
    value = error.validator_value
    if keyword == "required" and isinstance(error.instance, dict):
        out = []
        for name in value:
            if name in error.instance:
                continue
            target = join(pointer, name)
            out.append((target, _missing(root, target)))
        return out
    if keyword in ("anyOf", "oneOf") and isinstance(error.instance, dict):
        alternatives = [
            b["required"][0]
            for b in value
            if isinstance(b, dict) and isinstance(b.get("required"), list) and b["required"]
        ]
        if alternatives and len(alternatives) == len(value):
            names = [_name(root, join(pointer, a)) for a in alternatives]
            text = _("Fyll i %(fields)s.") % {"fields": _either(names)}
            return [(join(pointer, alternatives[0]), text)]
    name = _name(root, pointer)
    f = field_at(root, pointer)
    return [(pointer, _keyword_message(keyword, value, error.instance, name, f))]


def _either(names: list[str]) -> str:
    quoted = [f"”{n}”" for n in names]
    if len(quoted) == 1:
        return quoted[0]
    return ", ".join(quoted[:-1]) + " " + _("eller") + " " + quoted[-1]


def _missing(root: Field, pointer: str) -> str:
    f = field_at(root, pointer)
    name = _name(root, pointer)
    if f is not None and (f.readonly or f.hidden):
        return _("Uppgiften ”%(name)s” saknas i ärendet. Kontakta en administratör.") % {
            "name": name
        }
    if f is not None and f.kind == "choice":
        return _("Välj ett alternativ under ”%(name)s”.") % {"name": name}
    if f is not None and f.kind == "file":
        return _("Bifoga en fil under ”%(name)s”.") % {"name": name}
    return _("Fyll i ”%(name)s”.") % {"name": name}


def _keyword_message(keyword: str, value: Any, instance: Any, name: str, f: Field | None) -> str:
    n = {"name": name}
    kind = f.kind if f is not None else ""
    if keyword == "minLength":
        if value <= 1:
            return _("Fyll i ”%(name)s”.") % n
        return _("”%(name)s” ska vara minst %(n)s tecken.") % {**n, "n": value}
    if keyword == "maxLength":
        return _("”%(name)s” får vara högst %(n)s tecken. Nu är det %(count)s.") % {
            **n,
            "n": value,
            "count": len(instance) if isinstance(instance, str) else "?",
        }
    if keyword == "type":
        wanted = value if isinstance(value, str) else next(iter(value), "")
        if wanted == "integer":
            return _("Skriv ett heltal i ”%(name)s”, till exempel 12.") % n
        if wanted == "number":
            return _("Skriv ett tal i ”%(name)s”, till exempel 3,5.") % n
        return _("”%(name)s” har fel sorts värde.") % n
    if keyword in ("minimum", "exclusiveMinimum"):
        text = (
            _("”%(name)s” ska vara minst %(n)s.")
            if keyword == "minimum"
            else _("”%(name)s” ska vara större än %(n)s.")
        )
        return text % {**n, "n": _number(value)}
    if keyword in ("maximum", "exclusiveMaximum"):
        text = (
            _("”%(name)s” får vara högst %(n)s.")
            if keyword == "maximum"
            else _("”%(name)s” ska vara mindre än %(n)s.")
        )
        return text % {**n, "n": _number(value)}
    if keyword in ("enum", "const", "oneOf", "anyOf"):
        if kind in ("choice", "choices"):
            return _("Välj ett av alternativen under ”%(name)s”.") % n
        return _("”%(name)s” stämmer inte med formulärets regler.") % n
    if keyword == "format":
        if value == "date":
            return _("Skriv datumet i ”%(name)s” som ÅÅÅÅ-MM-DD, till exempel 2026-05-15.") % n
        if value == "email":
            return _("Skriv en e-postadress i ”%(name)s”, till exempel namn@stockholm.se.") % n
        return _("”%(name)s” har fel format.") % n
    if keyword == "pattern":
        return _("”%(name)s” har fel format.") % n
    if keyword == UNSAFE:  # the form's own pattern cannot be checked (engine.form_patterns)
        return (
            _(
                "”%(name)s” kan inte kontrolleras: formulärets mönster för fältet är inte säkert. "
                "Be processägaren att rätta formuläret."
            )
            % n
        )
    if keyword == "minItems":
        if kind == "choices":
            return _("Välj minst %(n)s under ”%(name)s”.") % {**n, "n": value}
        if value == 1:
            return _("Lägg till minst en rad i ”%(name)s”.") % n
        return _("Lägg till minst %(n)s rader i ”%(name)s”.") % {**n, "n": value}
    if keyword == "maxItems":
        if kind == "choices":
            return _("Välj högst %(n)s under ”%(name)s”.") % {**n, "n": value}
        return _("”%(name)s” får ha högst %(n)s rader.") % {**n, "n": value}
    if keyword == "uniqueItems":
        return _("Samma värde finns flera gånger i ”%(name)s”.") % n
    if keyword == "contains":
        return _("Ingen rad i ”%(name)s” uppfyller kravet. %(rule)s") % {
            **n,
            "rule": _contains_rule(value, f),
        }
    return _("”%(name)s” stämmer inte med formulärets regler.") % n


def _contains_rule(schema: Any, f: Field | None) -> str:
    """What a `contains` asks for, when it is the common "at least one row ticked"."""
    if isinstance(schema, dict):
        for prop, sub in (schema.get("properties") or {}).items():
            if isinstance(sub, dict) and sub.get("const") is True:
                column = f.item.child(prop) if f is not None and f.item is not None else None
                title = column.label if column is not None else prop
                return _("Minst en rad ska ha ”%(field)s” ikryssad.") % {"field": title}
    return ""


def _number(value: Any) -> str:
    if isinstance(value, float):
        return str(value).replace(".", ",")
    return str(value)
