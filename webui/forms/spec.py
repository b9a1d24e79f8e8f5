"""A form's shape: a JSON Schema and its UI schema read once into a tree of `Field`s.

The renderer, the parser of submitted forms and the error messages all walk this tree, so
they agree on what every field is (a date, a choice, a table of rows, a file) without each
re-reading the two schemas. The UI schema is react-jsonschema-form's dialect, as SpiffArena
uses it: `ui:order`, `ui:widget` (textarea, radio, select, checkbox, checkboxes, date, file,
hidden), `ui:help`, `ui:readonly`, `ui:options` (rows, addable, removable, inline).

Pointers: every field has a JSON pointer (`/atgarder/0/orsak`), the same the engine names
in its validation problems, so a server-side error lands next to its input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

MISSING: Any = type("Missing", (), {"__repr__": lambda self: "MISSING"})()
"""A value that is not there (as opposed to None, which JSON can hold)."""

SCALAR_KINDS = frozenset({"string", "text", "integer", "number", "date", "email", "file"})


@dataclass
class Field:
    """One field of a form. `kind` decides how it is shown and parsed:

    object (a group of fields), array (a table of rows), string, text (several lines),
    integer, number, date, email, boolean, choice (one of `options`), choices (several of
    `options`), file (an attachment reference)."""

    key: str | None
    kind: str
    title: str
    description: str = ""
    help: str = ""
    required: bool = False
    readonly: bool = False
    hidden: bool = False
    widget: str | None = None
    json_type: str = "string"
    options: list[tuple[Any, str]] = field(default_factory=list)
    children: list[Field] = field(default_factory=list)
    item: Field | None = None
    addable: bool = True
    removable: bool = True
    min_items: int = 0
    max_items: int | None = None
    rows: int | None = None
    inline: bool = False
    default: Any = MISSING

    def child(self, key: str) -> Field | None:
        for c in self.children:
            if c.key == key:
                return c
        return None

    @property
    def label(self) -> str:
        return self.title or (self.key or "")

    @property
    def has_fixed_items(self) -> bool:
        """Rows holding a read-only or hidden cell are matched to the case's data by
        position, so they may not be added or removed (or the values would shift rows)."""
        item = self.item
        if item is None:
            return False
        if item.readonly or item.hidden:
            return True
        return any(c.readonly or c.hidden for c in item.children)


def _type(schema: dict[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind:
        return str(kind)
    if "properties" in schema:
        return "object"
    if "items" in schema:
        return "array"
    if "const" in schema:
        return _json_type_of(schema["const"])
    if schema.get("enum"):
        return _json_type_of(schema["enum"][0])
    return "string"


def _json_type_of(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return "string"


def options_of(schema: dict[str, Any], ui: dict[str, Any] | None = None) -> list[tuple[Any, str]]:
    """Labelled choices: `oneOf`/`anyOf` of `{"const", "title"}`, else `enum` (labelled by
    `ui:enumNames` when given, else by the value itself)."""
    for key in ("oneOf", "anyOf"):
        branches = schema.get(key)
        if branches and all(isinstance(b, dict) and "const" in b for b in branches):
            return [(b["const"], str(b.get("title", b["const"]))) for b in branches]
    if schema.get("enum"):
        names = (ui or {}).get("ui:enumNames") or []
        return [
            (value, str(names[i]) if i < len(names) else _plain(value))
            for i, value in enumerate(schema["enum"])
        ]
    return []


def _plain(value: Any) -> str:
    if value is True:
        return "Ja"
    if value is False:
        return "Nej"
    return str(value)


def _ordered(properties: dict[str, Any], order: list[str] | None) -> list[str]:
    names = list(properties)
    if not order:
        return names
    listed = [n for n in order if n in properties]
    rest = [n for n in names if n not in listed]
    if "*" in order:
        star = order.index("*")
        before = [n for n in order[:star] if n in properties]
        after = [n for n in order[star + 1 :] if n in properties]
        return before + [n for n in names if n not in before and n not in after] + after
    return listed + rest


def build(
    schema: dict[str, Any],
    ui: dict[str, Any] | None = None,
    key: str | None = None,
    required: bool = False,
    readonly: bool = False,
) -> Field:
    """The field tree of `schema` with `ui` (the UI schema at the same level)."""
    ui = ui if isinstance(ui, dict) else {}
    options = ui.get("ui:options") if isinstance(ui.get("ui:options"), dict) else {}
    widget = ui.get("ui:widget") or options.get("widget")
    kind = _type(schema)
    readonly = bool(
        readonly or schema.get("readOnly") or ui.get("ui:readonly") or ui.get("ui:disabled")
    )
    f = Field(
        key=key,
        kind=kind,
        title=str(ui.get("ui:title") or schema.get("title") or key or ""),
        description=str(ui.get("ui:description") or schema.get("description") or ""),
        help=str(ui.get("ui:help") or ""),
        required=required,
        readonly=readonly,
        hidden=widget == "hidden",
        widget=widget,
        json_type=kind,
        rows=options.get("rows") if isinstance(options.get("rows"), int) else None,
        inline=bool(options.get("inline")),
        default=schema.get("default", MISSING),
    )
    if kind == "object":
        properties = schema.get("properties") or {}
        needed = set(schema.get("required") or [])
        f.children = [
            build(
                properties[name] if isinstance(properties[name], dict) else {},
                ui.get(name),
                key=name,
                required=name in needed,
                readonly=readonly,
            )
            for name in _ordered(properties, ui.get("ui:order"))
        ]
        return f
    if kind == "array":
        items = schema.get("items") if isinstance(schema.get("items"), dict) else {}
        f.min_items = int(schema.get("minItems") or 0)
        f.max_items = schema.get("maxItems")
        choices = options_of(items, ui.get("items") if isinstance(ui.get("items"), dict) else {})
        if choices:
            f.kind = "choices"
            f.options = choices
            f.json_type = _type(items)
            return f
        f.item = build(items, ui.get("items"), key=None, readonly=readonly)
        f.addable = bool(options.get("addable", True)) and not readonly
        f.removable = bool(options.get("removable", True)) and not readonly
        if f.has_fixed_items:
            f.addable = f.removable = False
        return f
    choices = options_of(schema, ui)
    if kind == "boolean":
        f.kind = "boolean"
        if widget in ("radio", "select"):
            f.kind = "choice"
            f.options = choices or [(True, "Ja"), (False, "Nej")]
        return f
    if choices:
        f.kind = "choice"
        f.options = choices
        return f
    if kind in ("integer", "number"):
        return f
    fmt = schema.get("format")
    if widget == "file" or fmt in ("data-url", "attachment"):
        f.kind = "file"
    elif widget == "textarea":
        f.kind = "text"
    elif widget == "date" or fmt == "date":
        f.kind = "date"
    elif widget == "email" or fmt == "email":
        f.kind = "email"
    else:
        f.kind = "string"
    return f


# -- pointers ---------------------------------------------------------------------------------


def join(pointer: str, part: str | int) -> str:
    """`/a` + `b` -> `/a/b` (JSON pointer escaping of `~` and `/`)."""
    text = str(part).replace("~", "~0").replace("/", "~1")
    return ("" if pointer in ("", "/") else pointer) + "/" + text


def split(pointer: str) -> list[str]:
    if pointer in ("", "/"):
        return []
    return [p.replace("~1", "/").replace("~0", "~") for p in pointer.lstrip("/").split("/")]


_UNSAFE = re.compile(r"[^A-Za-z0-9_]")


def field_id(pointer: str) -> str:
    """The HTML id of the input for `pointer`: `/atgarder/0/orsak` -> `f-atgarder-0-orsak`."""
    parts = split(pointer)
    if not parts:
        return "f-formular"
    return "f-" + "-".join(_UNSAFE.sub("_", p) for p in parts)


def locate(root: Field, pointer: str) -> list[tuple[Field, int | None]]:
    """The fields along `pointer` (each with the row index that led into it, if any); empty
    when the pointer names nothing in the form."""
    path: list[tuple[Field, int | None]] = [(root, None)]
    current = root
    row: int | None = None
    for part in split(pointer):
        if current.kind == "object":
            nxt = current.child(part)
            if nxt is None:
                return []
            current = nxt
            path.append((current, row))
            row = None
        elif current.kind == "array" and current.item is not None and part.isdigit():
            row = int(part)
            current = current.item
            if current.kind != "object":
                path.append((current, row))
                row = None
        elif current.kind == "choices" and part.isdigit():
            continue
        else:
            return []
    return path
