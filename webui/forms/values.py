"""From the case's data to the form, and from a submitted HTML form back to JSON data.

HTML sends text; the schema wants integers, booleans, dates, lists of rows. `parse` turns
`request.form` into data of the schema's types, and keeps what it cannot convert as the text
that was typed (an "abc" in a number field stays "abc": the validator then names the field,
and the person sees what they wrote). Nothing typed is ever dropped.

Read-only and hidden fields are never taken from the browser: their values come from the
case's data on the server (`base`), so a tampered request cannot change them.

Names in the HTML form are the fields' JSON pointers (`/atgarder/0/orsak`); helper inputs
start with `#`: `#count/atgarder` (rows in a table), `#file/…` (an upload), `#remove/…` (drop
the attached file). The pressed button is `_action`: `complete`, `draft`,
`add:/atgarder` or `remove:/atgarder/2` (tables get rows without JavaScript).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .spec import MISSING, Field, join, locate, split

MAX_ROWS = 500
"""More rows than any form allows; caps a tampered `#count`."""

StoreFile = Callable[[str, Any], str]
"""(pointer, uploaded FileStorage) -> the form value (an attachment reference). Raises
ValueError with a message for the person when the file is refused."""


@dataclass
class Parsed:
    data: dict[str, Any]
    action: str
    upload_errors: dict[str, str] = field(default_factory=dict)


# -- initial values ---------------------------------------------------------------------------


def initial(root: Field, base: Mapping[str, Any], draft: Mapping[str, Any] | None) -> dict:
    """What the form shows first: the saved draft, else the task's data, for every field of
    the form; read-only fields always from the task's data; defaults where neither has one."""
    values: dict[str, Any] = {}
    for child in root.children:
        assert child.key is not None
        if draft and child.key in draft and not (child.readonly or child.hidden):
            values[child.key] = copy.deepcopy(draft[child.key])
        elif child.key in base:
            values[child.key] = copy.deepcopy(base[child.key])
    values = overlay_readonly(root, values, base)
    return with_defaults(root, values)


def with_defaults(f: Field, value: Any) -> Any:
    """`value` with the schema's defaults filled in where nothing is given."""
    if f.kind == "object":
        if value is MISSING or value is None:
            if f.default is not MISSING:
                return copy.deepcopy(f.default)
            value = {}
        if not isinstance(value, dict):
            return value
        result = dict(value)
        for child in f.children:
            assert child.key is not None
            filled = with_defaults(child, result.get(child.key, MISSING))
            if filled is not MISSING:
                result[child.key] = filled
        return result
    if f.kind == "array":
        if value is MISSING or value is None:
            return copy.deepcopy(f.default) if f.default is not MISSING else MISSING
        if isinstance(value, list) and f.item is not None:
            return [with_defaults(f.item, v) for v in value]
        return value
    if value is MISSING:
        return copy.deepcopy(f.default) if f.default is not MISSING else MISSING
    return value


def overlay_readonly(root: Field, values: dict[str, Any], base: Mapping[str, Any]) -> dict:
    """`values` with every read-only or hidden field set from `base` (or removed when
    `base` has none)."""
    result = _overlay(root, values, base)
    return result if isinstance(result, dict) else {}


def _overlay(f: Field, value: Any, base: Any) -> Any:
    if f.readonly or f.hidden:
        return copy.deepcopy(base) if base is not MISSING else MISSING
    if f.kind == "object":
        if not isinstance(value, dict):
            return value
        base_obj = base if isinstance(base, dict) else {}
        result = dict(value)
        for child in f.children:
            assert child.key is not None
            new = _overlay(child, result.get(child.key, MISSING), base_obj.get(child.key, MISSING))
            if new is MISSING:
                result.pop(child.key, None)
            else:
                result[child.key] = new
        return result
    if f.kind == "array" and f.item is not None:
        base_rows = base if isinstance(base, list) else []
        if f.has_fixed_items:
            if value is MISSING and not base_rows:
                return MISSING
            rows = value if isinstance(value, list) else []
            return [
                _overlay(f.item, rows[i] if i < len(rows) else {}, base_rows[i])
                for i in range(len(base_rows))
            ]
        if not isinstance(value, list):
            return value
        return [
            _overlay(f.item, row, base_rows[i] if i < len(base_rows) else MISSING)
            for i, row in enumerate(value)
        ]
    return value


# -- parsing a submitted form -----------------------------------------------------------------


def parse(
    root: Field,
    form: Any,
    files: Any,
    base: Mapping[str, Any],
    store_file: StoreFile | None = None,
    accept_reference: Callable[[str, str], bool] | None = None,
) -> Parsed:
    """The submitted form as data of the schema's types (see the module docstring).

    `form` and `files` are werkzeug MultiDicts (`request.form`, `request.files`).
    `accept_reference(pointer, value)` says whether a kept file value may stay (the web UI
    accepts only references to attachments of the same case)."""
    parser = _Parser(form, files, store_file, accept_reference, base)
    data = parser.object(root, "")
    data = overlay_readonly(root, data, base)
    return Parsed(data, str(form.get("_action") or "complete"), parser.upload_errors)


class _Parser:
    def __init__(
        self, form: Any, files: Any, store_file: Any, accept_reference: Any, base: Any
    ) -> None:
        self.base = base
        self.form = form
        self.files = files
        self.store_file = store_file
        self.accept_reference = accept_reference
        self.upload_errors: dict[str, str] = {}

    def object(self, f: Field, pointer: str) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for child in f.children:
            assert child.key is not None
            value = self.value(child, join(pointer, child.key))
            if value is not MISSING:
                result[child.key] = value
        return result

    def value(self, f: Field, pointer: str) -> Any:
        if f.readonly or f.hidden:
            return MISSING  # from the server's data, by overlay_readonly
        if f.kind == "object":
            return self.object(f, pointer)
        if f.kind == "array":
            return self.rows(f, pointer)
        if f.kind == "choices":
            chosen = [_choice(f, text) for text in self.form.getlist(pointer) if text != ""]
            return chosen if chosen or f.required else MISSING
        if f.kind == "boolean":
            return pointer in self.form
        if f.kind == "choice":
            text = self.form.get(pointer)
            return MISSING if text in (None, "") else _choice(f, text)
        if f.kind == "file":
            return self.file(f, pointer)
        text = self.form.get(pointer)
        if text is None:
            return MISSING
        text = text.replace("\r\n", "\n").strip()
        if text == "":
            return MISSING
        if f.kind == "integer":
            return _integer(text)
        if f.kind == "number":
            return _number(text)
        return text

    def rows(self, f: Field, pointer: str) -> Any:
        assert f.item is not None
        try:
            count = int(self.form.get("#count" + pointer, "0"))
        except ValueError:
            count = 0
        if f.has_fixed_items:
            # As many rows as the case has: the browser cannot add or drop any.
            rows = _get(self.base, pointer)
            count = len(rows) if isinstance(rows, list) else 0
        count = max(0, min(count, MAX_ROWS))
        if count == 0 and not f.required:
            return MISSING  # an empty optional table is no answer, not an empty list
        result = []
        for i in range(count):
            value = self.value(f.item, join(pointer, i))
            if value is MISSING:
                value = {} if f.item.kind == "object" else None
            result.append(value)
        return result

    def file(self, f: Field, pointer: str) -> Any:
        upload = self.files.get("#file" + pointer) if self.files is not None else None
        if upload is not None and upload.filename:
            if self.store_file is None:
                self.upload_errors[pointer] = "Filen kunde inte tas emot."
            else:
                try:
                    return self.store_file(pointer, upload)
                except ValueError as exc:
                    self.upload_errors[pointer] = str(exc)
        if self.form.get("#remove" + pointer):
            return MISSING
        kept = self.form.get(pointer)
        if not kept:
            return MISSING
        if self.accept_reference is not None and not self.accept_reference(pointer, kept):
            return MISSING
        return kept


def _choice(f: Field, text: str) -> Any:
    """The option whose value reads as `text` (a radio sends "3" for the integer 3)."""
    for value, _label in f.options:
        if option_value(value) == text:
            return value
    return text


def option_value(value: Any) -> str:
    """How an option's value is written in HTML."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return ""
    return str(value)


def _integer(text: str) -> Any:
    cleaned = text.replace(" ", "").replace("\u00a0", "").replace("\u2212", "-")
    try:
        return int(cleaned)
    except ValueError:
        return text


def _number(text: str) -> Any:
    cleaned = text.replace(" ", "").replace("\u00a0", "").replace("\u2212", "-").replace(",", ".")
    try:
        number = float(cleaned)
    except ValueError:
        return text
    return int(number) if number.is_integer() and "." not in cleaned else number


# -- adding and removing rows -----------------------------------------------------------------


def apply_row_action(root: Field, data: dict[str, Any], action: str) -> tuple[dict, str | None]:
    """Carry out `add:<pointer>` or `remove:<pointer>/<row>` on `data`; returns the new data
    and the pointer to move to (the new row's first field, or the table), or None when the
    action names no table that allows it."""
    verb, _, pointer = action.partition(":")
    if verb == "add":
        f = _array_at(root, pointer)
        if f is None or not f.addable:
            return data, None
        rows = _get(data, pointer)
        rows = list(rows) if isinstance(rows, list) else []
        if f.max_items is not None and len(rows) >= f.max_items:
            return data, pointer
        assert f.item is not None
        if f.item.kind == "object":
            rows.append(with_defaults(f.item, {}))
        else:
            default = with_defaults(f.item, MISSING)
            rows.append(None if default is MISSING else default)
        new = _set(data, pointer, rows)
        first = join(pointer, len(rows) - 1)
        if f.item.kind == "object":
            visible = [c for c in f.item.children if not (c.hidden or c.readonly)]
            if visible:
                assert visible[0].key is not None
                first = join(first, visible[0].key)
        return new, first
    if verb == "remove":
        parts = split(pointer)
        if not parts or not parts[-1].isdigit():
            return data, None
        table = pointer.rsplit("/", 1)[0]
        f = _array_at(root, table)
        if f is None or not f.removable:
            return data, None
        rows = _get(data, table)
        index = int(parts[-1])
        if not isinstance(rows, list) or index >= len(rows):
            return data, table
        rows = rows[:index] + rows[index + 1 :]
        return _set(data, table, rows), table
    return data, None


def _array_at(root: Field, pointer: str) -> Field | None:
    path = locate(root, pointer)
    if not path:
        return None
    f, row = path[-1]
    if f.kind != "array" or f.item is None:
        return None
    # `locate` returns the array itself only when the pointer ends at it.
    return f if row is None else None


def _get(data: Any, pointer: str) -> Any:
    current = data
    for part in split(pointer):
        if isinstance(current, dict):
            current = current.get(part, MISSING)
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return MISSING
    return current


def value_at(data: Any, pointer: str) -> Any:
    """The value at `pointer` in `data`, or MISSING."""
    return _get(data, pointer)


def _set(data: dict[str, Any], pointer: str, value: Any) -> dict[str, Any]:
    result = copy.deepcopy(data)
    parts = split(pointer)
    current: Any = result
    for i, part in enumerate(parts[:-1]):
        nxt_is_index = parts[i + 1].isdigit()
        if isinstance(current, list):
            current = current[int(part)]
            continue
        if part not in current or not isinstance(current[part], (dict, list)):
            current[part] = [] if nxt_is_index else {}
        current = current[part]
    last = parts[-1]
    if isinstance(current, list):
        current[int(last)] = value
    else:
        current[last] = value
    return result
