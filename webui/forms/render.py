"""Accessible HTML for a form: every input labelled, help and errors tied to it.

What each kind of field becomes:
- string, email, date -> `<input>` (`type="date"` for dates); text -> `<textarea>`;
  integer/number -> a text input with `inputmode` (a number input would silently drop "12 st",
  and the person would not see what they typed).
- boolean -> a checkbox; choice -> a `<select>`, or radio buttons in a `<fieldset>` with
  `ui:widget: radio`; choices (an array of options) -> checkboxes in a `<fieldset>`.
- object -> a `<fieldset>` with a legend; array -> an editable table (one row per item, a
  header cell per column carrying the column's help text) with "Lägg till rad" and
  "Ta bort" buttons that are plain submit buttons, so rows come and go without JavaScript.
- file -> a file input; a file already attached is shown as a link, kept by a hidden input,
  and can be removed with a checkbox.
- read-only -> text (never an input the browser would send back); hidden -> nothing.

Every help text and error has an id the input names in `aria-describedby`; an input with an
error has `aria-invalid="true"`; `summary()` lists the errors in form order with links to
the inputs (GOV.UK's error-summary pattern). Texts from the process (titles, help) are the
process owner's Swedish: when the page is in another language they are marked `lang="sv"`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from markupsafe import Markup, escape

from .spec import MISSING, Field, field_id, join
from .values import option_value

FileLink = Callable[[str], "tuple[str, str] | None"]
"""A file field's value -> (download URL, file name), or None if it is not a known file."""


@dataclass(frozen=True)
class _Cell:
    row_label: str
    help_id: str | None


def _attr(name: str, value: Any) -> str:
    if value is None or value is False:
        return ""
    if value is True:
        return f" {name}"
    return f' {name}="{escape(value)}"'


class Renderer:
    """Renders one form. Make a new one per request: it records the order of the fields
    and where each error should link while rendering."""

    def __init__(
        self,
        values: dict[str, Any],
        errors: dict[str, str] | None = None,
        *,
        file_link: FileLink | None = None,
        action_url: str = "",
        content_lang: str | None = None,
    ) -> None:
        self.values = values
        self.errors = errors or {}
        self.file_link = file_link
        self.action_url = action_url
        self.content_lang = content_lang
        self.order: list[str] = []
        self.targets: dict[str, str] = {}
        self.context: dict[str, str] = {}

    # -- entry points ---------------------------------------------------------------------

    def form(self, root: Field) -> Markup:
        """The fields of `root` (the form's top-level object), in order."""
        parts = [
            self._field(child, join("", key), self.values.get(key, MISSING), [])
            for child in root.children
            for key in [child.key or ""]
        ]
        # Every value and text in `parts` went through escape() on its way in.
        return Markup("".join(parts))  # noqa: S704

    def summary(self) -> list[dict[str, Any]]:
        """The errors in the order the fields appear: {"href", "text"} (href None when the
        field has no input to go to, e.g. a read-only value)."""
        position = {p: i for i, p in enumerate(self.order)}
        items = sorted(self.errors.items(), key=lambda kv: (position.get(kv[0], 10**9), kv[0]))
        result = []
        for pointer, message in items:
            context = self.context.get(pointer, "")
            target = self.targets.get(pointer)
            result.append(
                {
                    "href": f"#{target}" if target else None,
                    "text": f"{context}: {message}" if context else message,
                }
            )
        return result

    # -- helpers ----------------------------------------------------------------------------

    def _t(self, text: str) -> Markup:
        """Process-provided text, marked Swedish when the page is not."""
        if self.content_lang:
            return Markup('<span lang="{}">{}</span>').format(self.content_lang, text)
        return escape(text)

    def _required(self, f: Field) -> str:
        if not f.required or f.kind == "boolean":
            return ""
        return f' <span class="required">({escape(_("obligatoriskt"))})</span>'

    def _help(self, f: Field, fid: str, tag: str = "p") -> tuple[str, list[str]]:
        texts = [t for t in (f.description, f.help) if t]
        if not texts:
            return "", []
        body = " ".join(str(self._t(t)) for t in texts)
        return f'<{tag} class="help" id="{fid}-hjalp">{body}</{tag}>', [f"{fid}-hjalp"]

    def _error(self, pointer: str, fid: str) -> tuple[str, list[str]]:
        message = self.errors.get(pointer)
        if not message:
            return "", []
        return (
            f'<p class="field-error" id="{fid}-fel"><span class="visually-hidden">'
            f"{escape(_('Fel:'))} </span>{escape(message)}</p>",
            [f"{fid}-fel"],
        )

    def _described(self, ids: list[str], pointer: str) -> str:
        out = _attr("aria-describedby", " ".join(ids) if ids else None)
        if pointer in self.errors:
            out += ' aria-invalid="true"'
        return out

    def _note(self, pointer: str, ctx: list[str], target: str | None) -> None:
        self.order.append(pointer)
        if ctx:
            self.context[pointer] = ", ".join(ctx)
        if target:
            self.targets[pointer] = target

    # -- fields -----------------------------------------------------------------------------

    def _field(
        self, f: Field, pointer: str, value: Any, ctx: list[str], cell: _Cell | None = None
    ) -> str:
        if f.hidden:
            self._note(pointer, ctx, None)
            return ""
        if f.readonly and f.kind not in ("object", "array"):
            return self._readonly(f, pointer, value, ctx, cell)
        if f.kind == "object":
            return self._group(f, pointer, value, ctx, cell)
        if f.kind == "array":
            return self._table(f, pointer, value, ctx, cell)
        if f.kind == "choice":
            if f.widget == "radio" or f.json_type == "boolean":
                return self._options(f, pointer, value, ctx, cell, multiple=False)
            return self._select(f, pointer, value, ctx, cell)
        if f.kind == "choices":
            return self._options(f, pointer, value, ctx, cell, multiple=True)
        if f.kind == "boolean":
            return self._checkbox(f, pointer, value, ctx, cell)
        if f.kind == "file":
            return self._file(f, pointer, value, ctx, cell)
        return self._text(f, pointer, value, ctx, cell)

    def _label(self, f: Field, fid: str, cell: _Cell | None) -> str:
        if cell is not None:
            return (
                f'<label class="visually-hidden" for="{fid}">{self._t(f.label)}, '
                f"{escape(cell.row_label)}</label>"
            )
        return f'<label for="{fid}">{self._t(f.label)}{self._required(f)}</label>'

    def _wrap(self, pointer: str, cell: _Cell | None, body: str, extra: str = "") -> str:
        cls = "cell-field" if cell is not None else "field"
        if extra:
            cls += " " + extra
        if pointer in self.errors:
            cls += " has-error"
        return f'<div class="{cls}">{body}</div>'

    def _help_for(self, f: Field, fid: str, cell: _Cell | None) -> tuple[str, list[str]]:
        if cell is not None:
            return "", [cell.help_id] if cell.help_id else []
        return self._help(f, fid)

    def _text(self, f: Field, pointer: str, value: Any, ctx: list[str], cell: _Cell | None) -> str:
        fid = field_id(pointer)
        self._note(pointer, ctx, fid)
        help_html, help_ids = self._help_for(f, fid, cell)
        error_html, error_ids = self._error(pointer, fid)
        text = "" if value is MISSING or value is None else value
        if not isinstance(text, str):
            text = (
                json.dumps(text, ensure_ascii=False)
                if isinstance(text, (dict, list))
                else str(text)
            )
        common = (
            f' id="{fid}" name="{escape(pointer)}"'
            + _attr("aria-required", "true" if f.required else None)
            + self._described(help_ids + error_ids, pointer)
        )
        if f.kind == "text":
            rows = f.rows or (3 if cell else 5)
            control = f'<textarea{common} rows="{rows}">{escape(text)}</textarea>'
        else:
            kind = {"date": "date", "email": "email"}.get(f.kind, "text")
            extra = ""
            if f.kind == "integer":
                extra = ' inputmode="numeric"'
            elif f.kind == "number":
                extra = ' inputmode="decimal"'
            elif f.kind == "email":
                extra = ' autocomplete="email"'
            # No HTML `pattern` from the schema's: the browser anchors it and reads it with its
            # own regex flavour, so the same text would be a different rule there. The one rule
            # is the engine's (RE2, engine.form_patterns), worded next to the field.
            control = f'<input type="{kind}"{common}{extra} value="{escape(text)}">'
        body = self._label(f, fid, cell) + help_html + error_html + control
        return self._wrap(pointer, cell, body, "number" if f.kind in ("integer", "number") else "")

    def _checkbox(
        self, f: Field, pointer: str, value: Any, ctx: list[str], cell: _Cell | None
    ) -> str:
        fid = field_id(pointer)
        self._note(pointer, ctx, fid)
        help_html, help_ids = self._help_for(f, fid, cell)
        error_html, error_ids = self._error(pointer, fid)
        control = (
            f'<input type="checkbox" id="{fid}" name="{escape(pointer)}" value="true"'
            + _attr("checked", value is True)
            + self._described(help_ids + error_ids, pointer)
            + ">"
        )
        label = self._label(f, fid, cell)
        if cell is not None:
            body = error_html + control + label
        else:
            body = error_html + '<div class="check">' + control + label + "</div>" + help_html
        return self._wrap(pointer, cell, body, "checkbox")

    def _select(
        self, f: Field, pointer: str, value: Any, ctx: list[str], cell: _Cell | None
    ) -> str:
        fid = field_id(pointer)
        self._note(pointer, ctx, fid)
        help_html, help_ids = self._help_for(f, fid, cell)
        error_html, error_ids = self._error(pointer, fid)
        chosen = None if value is MISSING else option_value(value)
        options = [f'<option value="">{escape(_("Välj …"))}</option>']
        for opt, label in f.options:
            v = option_value(opt)
            options.append(
                f'<option value="{escape(v)}"{_attr("selected", v == chosen)}>'
                f"{self._t(label)}</option>"
            )
        control = (
            f'<select id="{fid}" name="{escape(pointer)}"'
            + _attr("aria-required", "true" if f.required else None)
            + self._described(help_ids + error_ids, pointer)
            + ">"
            + "".join(options)
            + "</select>"
        )
        return self._wrap(
            pointer, cell, self._label(f, fid, cell) + help_html + error_html + control
        )

    def _options(
        self,
        f: Field,
        pointer: str,
        value: Any,
        ctx: list[str],
        cell: _Cell | None,
        multiple: bool,
    ) -> str:
        fid = field_id(pointer)
        self._note(pointer, ctx, fid)
        help_html, help_ids = self._help_for(f, fid, cell)
        error_html, error_ids = self._error(pointer, fid)
        if multiple:
            chosen = {option_value(v) for v in value} if isinstance(value, list) else set()
        else:
            chosen = set() if value is MISSING else {option_value(value)}
        kind = "checkbox" if multiple else "radio"
        items = []
        for i, (opt, label) in enumerate(f.options):
            v = option_value(opt)
            oid = fid if i == 0 else f"{fid}-{i}"
            items.append(
                f'<div class="check"><input type="{kind}" id="{oid}" name="{escape(pointer)}" '
                f'value="{escape(v)}"{_attr("checked", v in chosen)}'
                + (' aria-invalid="true"' if pointer in self.errors else "")
                + f'><label for="{oid}">{self._t(label)}</label></div>'
            )
        if cell is not None:
            legend = (
                f'<legend class="visually-hidden">{self._t(f.label)}, '
                f"{escape(cell.row_label)}</legend>"
            )
        else:
            legend = f"<legend>{self._t(f.label)}{self._required(f)}</legend>"
        cls = "options" + (" inline" if f.inline else "")
        if pointer in self.errors:
            cls += " has-error"
        if cell is None:
            cls = "field " + cls
        return (
            f'<fieldset class="{cls}"'
            + _attr("aria-describedby", " ".join(help_ids + error_ids) or None)
            + ">"
            + legend
            + help_html
            + error_html
            + "".join(items)
            + "</fieldset>"
        )

    def _file(self, f: Field, pointer: str, value: Any, ctx: list[str], cell: _Cell | None) -> str:
        fid = field_id(pointer)
        self._note(pointer, ctx, fid)
        help_html, help_ids = self._help_for(f, fid, cell)
        error_html, error_ids = self._error(pointer, fid)
        current = ""
        current_ids: list[str] = []
        row_note = (
            f'<span class="visually-hidden"> ({escape(cell.row_label)})</span>' if cell else ""
        )
        if isinstance(value, str) and value:
            current_ids = [f"{fid}-fil"]
            current = (
                f'<p class="current-file" id="{fid}-fil">{escape(_("Bifogad fil:"))} '
                f"{self._file_text(value)}</p>"
                f'<input type="hidden" name="{escape(pointer)}" value="{escape(value)}">'
                f'<div class="check"><input type="checkbox" id="{fid}-ta-bort" '
                f'name="#remove{escape(pointer)}" value="1">'
                f'<label for="{fid}-ta-bort">{escape(_("Ta bort filen"))}'
                + row_note
                + "</label></div>"
            )
        label = self._label(f, fid, cell)
        control = (
            f'<input type="file" id="{fid}" name="#file{escape(pointer)}"'
            + self._described(help_ids + current_ids + error_ids, pointer)
            + ">"
        )
        return self._wrap(pointer, cell, label + help_html + error_html + current + control, "file")

    def _file_text(self, value: str) -> str:
        link = self.file_link(value) if self.file_link else None
        if link is None:
            return f"<span>{escape(value)}</span>"
        url, name = link
        return f'<a href="{escape(url)}" download>{escape(name)}</a>'

    # -- read-only values -----------------------------------------------------------------

    def display(self, f: Field, value: Any) -> str:
        """A value as text (read-only fields, tables of earlier answers)."""
        if value is MISSING or value is None or value == "" or value == []:
            return f'<span class="empty">{escape(_("Inte ifyllt"))}</span>'
        if f.kind == "boolean" or isinstance(value, bool):
            return str(escape(_("Ja") if value else _("Nej")))
        if f.kind in ("choice", "choices"):
            labels = dict((option_value(o), lbl) for o, lbl in f.options)
            items = value if isinstance(value, list) else [value]
            return ", ".join(str(self._t(labels.get(option_value(v), str(v)))) for v in items)
        if f.kind == "file" and isinstance(value, str):
            return self._file_text(value)
        if isinstance(value, (dict, list)):
            return f"<code>{escape(json.dumps(value, ensure_ascii=False))}</code>"
        text = str(value)
        if "\n" in text or f.kind == "text":
            return f'<span class="prewrap">{self._t(text)}</span>'
        return str(self._t(text))

    def _readonly(
        self, f: Field, pointer: str, value: Any, ctx: list[str], cell: _Cell | None
    ) -> str:
        fid = field_id(pointer)
        self._note(pointer, ctx, None)
        error_html, _ids = self._error(pointer, fid)
        if cell is not None:
            return error_html + self.display(f, value)
        help_html, _hids = self._help(f, fid)
        return (
            f'<div class="field readonly" role="group" aria-labelledby="{fid}-etikett">'
            f'<p class="label" id="{fid}-etikett">{self._t(f.label)}</p>'
            + help_html
            + error_html
            + f'<div class="value">{self.display(f, value)}</div></div>'
        )

    # -- groups and tables ------------------------------------------------------------------

    def _group(self, f: Field, pointer: str, value: Any, ctx: list[str], cell: _Cell | None) -> str:
        fid = field_id(pointer)
        self._note(pointer, ctx, fid)
        obj = value if isinstance(value, dict) else {}
        help_html, help_ids = self._help(f, fid)
        error_html, error_ids = self._error(pointer, fid)
        inner_ctx = [*ctx, f.label] if f.label else ctx
        children = "".join(
            self._field(c, join(pointer, c.key or ""), obj.get(c.key or "", MISSING), inner_ctx)
            for c in f.children
        )
        legend = self._t(f.label)
        if cell is not None:
            legend = Markup("{}, {}").format(legend, cell.row_label)
        return (
            f'<fieldset class="group{" has-error" if pointer in self.errors else ""}" id="{fid}"'
            + (' tabindex="-1"' if pointer in self.errors else "")
            + _attr("aria-describedby", " ".join(help_ids + error_ids) or None)
            + f"><legend>{legend}</legend>"
            + help_html
            + error_html
            + children
            + "</fieldset>"
        )

    def _columns(self, f: Field) -> list[Field]:
        assert f.item is not None
        if f.item.kind == "object":
            return [c for c in f.item.children if not c.hidden]
        return [f.item]

    def _table(self, f: Field, pointer: str, value: Any, ctx: list[str], cell: _Cell | None) -> str:
        assert f.item is not None
        fid = field_id(pointer)
        self._note(pointer, ctx, fid)
        rows = value if isinstance(value, list) else []
        help_html, help_ids = self._help(f, fid)
        error_html, error_ids = self._error(pointer, fid)
        columns = self._columns(f)
        objects = f.item.kind == "object"
        # A read-only first column (an organisation's name) names the row; else its number.
        named = objects and bool(columns) and columns[0].readonly and columns[0].kind != "object"
        head = []
        if not named:
            head.append(f'<th scope="col">{escape(_("Rad"))}</th>')
        column_help: dict[str, str | None] = {}
        for col in columns:
            key = col.key or "varde"
            col_fid = f"{fid}-{key}"
            texts = [t for t in (col.description, col.help) if t] if not col.readonly else []
            help_span = ""
            if texts:
                column_help[key] = f"{col_fid}-hjalp"
                help_span = (
                    f'<span class="help" id="{col_fid}-hjalp">'
                    + " ".join(str(self._t(t)) for t in texts)
                    + "</span>"
                )
            else:
                column_help[key] = None
            title = col.label or _("Värde")
            head.append(f'<th scope="col">{self._t(title)}{self._required(col)}{help_span}</th>')
        if f.removable:
            head.append(
                f'<th scope="col"><span class="visually-hidden">{escape(_("Ta bort"))}</span></th>'
            )
        body = []
        for i, row in enumerate(rows):
            row_pointer = join(pointer, i)
            row_obj = row if isinstance(row, dict) else {}
            if named:
                first = columns[0]
                raw = row_obj.get(first.key or "", MISSING)
                row_label = str(raw) if isinstance(raw, (str, int)) and raw != "" else None
                row_label = row_label or _("rad %(n)s", n=i + 1)
            else:
                row_label = _("rad %(n)s", n=i + 1)
            row_ctx = [*ctx, f"{f.label}, {row_label}" if f.label else row_label]
            cells = []
            if not named:
                cells.append(f'<th scope="row">{i + 1}</th>')
            for j, col in enumerate(columns):
                key = col.key or "varde"
                if objects:
                    cell_pointer = join(row_pointer, key)
                    cell_value = row_obj.get(key, MISSING)
                else:
                    cell_pointer = row_pointer
                    cell_value = MISSING if row is None else row
                content = self._field(
                    col, cell_pointer, cell_value, row_ctx, _Cell(row_label, column_help[key])
                )
                tag = "th" if named and j == 0 else "td"
                scope = ' scope="row"' if tag == "th" else ""
                cls = ' class="has-error"' if cell_pointer in self.errors else ""
                cells.append(f"<{tag}{scope}{cls}>{content}</{tag}>")
            if f.removable:
                cells.append(
                    f'<td><button type="submit" class="link" name="_action" '
                    f'value="remove:{escape(row_pointer)}" '
                    f'formaction="{escape(self.action_url)}#{fid}">{escape(_("Ta bort"))}'
                    f'<span class="visually-hidden"> {escape(row_label)}</span></button></td>'
                )
            body.append("<tr>" + "".join(cells) + "</tr>")
        legend_id = f"{fid}-rubrik"
        parts = [
            f'<fieldset class="field table{" has-error" if pointer in self.errors else ""}" '
            f'id="{fid}"'
            + (' tabindex="-1"' if pointer in self.errors else "")
            + _attr("aria-describedby", " ".join(help_ids + error_ids) or None)
            + f'><legend id="{legend_id}">{self._t(f.label)}{self._required(f)}</legend>',
            help_html,
            error_html,
        ]
        if rows:
            parts.append(
                f'<div class="table-scroll" role="region" aria-labelledby="{legend_id}" '
                f'tabindex="0"><table class="form-table">'
                f'<caption class="visually-hidden">{self._t(f.label)}</caption>'
                f"<thead><tr>{''.join(head)}</tr></thead><tbody>{''.join(body)}</tbody>"
                "</table></div>"
            )
        else:
            parts.append(f'<p class="hint">{escape(_("Inga rader ännu."))}</p>')
        parts.append(f'<input type="hidden" name="#count{escape(pointer)}" value="{len(rows)}">')
        if f.addable and (f.max_items is None or len(rows) < f.max_items):
            target = join(pointer, len(rows))
            if objects:
                visible = [c for c in columns if not c.readonly]
                if visible:
                    target = join(target, visible[0].key or "")
            parts.append(
                f'<p class="row-actions"><button type="submit" name="_action" '
                f'value="add:{escape(pointer)}" '
                f'formaction="{escape(self.action_url)}#{field_id(target)}">'
                f"{escape(_('Lägg till rad'))}"
                f'<span class="visually-hidden"> ({self._t(f.label)})</span></button></p>'
            )
        parts.append("</fieldset>")
        return "".join(parts)
