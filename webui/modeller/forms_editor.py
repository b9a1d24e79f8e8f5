"""The form editor page: one task form (JSON Schema + UI schema) beside its preview.

The modeller page edits forms beside the diagram (`static/forms-panel.js`) and deploys them
with it; this page is the same editing without JavaScript, one form at a time (`/modeller/
<key>/formular/<file>`): both texts next to the form exactly as the task page would render
it — the preview comes from `webui.forms` on the server, so "Förhandsgranska" works without
JavaScript; `form-editor.js` only asks the same server code again after a pause in typing.
Names, templates and the checks of the text are `form_files`.

Nothing is stored until "Driftsätt": that deploys a new version with every other file of
the definition unchanged, after the same checks as any deploy (`checks`). A new form made
here is refused until a user task names it — the engine versions only the files a process
uses — which is why new forms are made on the modeller page, beside the task that uses them.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from typing import Any

from flask import abort, jsonify, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from markupsafe import Markup

from engine.errors import ValidationError
from engine.repository import DefinitionInfo
from webui import forms
from webui.auth.access import current_actor, engine, role_required

from . import ROLES, _definition, _flash_deployed, _main_diagram, _version_arg, bp, checks
from .form_files import (
    NEW_NAME,
    SCHEMA,
    TEMPLATES,
    forms_folder,
    parse_object,
    schema_error,
    template_text,
    ui_name,
)


def form_files(definition: DefinitionInfo) -> list[str]:
    """The definition's JSON Schema files: one per form."""
    return sorted(name for name in definition.files if name.endswith(SCHEMA))


def _forms_folder(definition: DefinitionInfo, files: dict[str, bytes]) -> str:
    """Where a new form goes: `forms/` beside the main diagram, as the processes keep them."""
    return forms_folder(_main_diagram(definition, files))


@dataclass
class Edit:
    """What the editor shows: the two texts, their problems and the rendered preview."""

    schema_text: str
    ui_text: str
    errors: dict[str, str] = field(default_factory=dict)
    preview: Markup | None = None
    title: str = ""
    refused: list[str] = field(default_factory=list)

    def check(self) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """Parse both texts; on success render the preview. None (with `errors`) if not."""
        schema = self._parse("schema", self.schema_text)
        ui = self._parse("ui", self.ui_text or "{}")
        if isinstance(schema, dict) and (problem := schema_error(schema)):
            self.errors["schema"] = problem
        if self.errors or not isinstance(schema, dict) or not isinstance(ui, dict):
            return None
        self.title = str(schema.get("title") or "")
        # The form's texts are the process owner's Swedish, whatever the page's language.
        english = str(get_locale() or "sv") != "sv"
        renderer = forms.Renderer({}, content_lang="sv" if english else None)
        self.preview = renderer.form(forms.build(schema, ui))
        return schema, ui

    def _parse(self, which: str, text: str) -> Any:
        value, error = parse_object(text)
        if error:
            self.errors[which] = error
        return value


def _stored(definition: DefinitionInfo, name: str) -> tuple[dict[str, bytes], Edit]:
    """The definition's files and the editor's starting text for `name`: the stored files,
    or for a new name a template (`?mall=`)."""
    if not name.endswith(SCHEMA) or ".." in name.split("/"):
        abort(404)
    files = engine().repository.files(definition.id)
    if name in files:
        ui = files.get(ui_name(name), b"{}\n")
        return files, Edit(files[name].decode("utf-8-sig"), ui.decode("utf-8-sig"))
    template = TEMPLATES.get(request.values.get("mall", ""))
    stem = posixpath.basename(name).removesuffix(SCHEMA)
    folder = _forms_folder(definition, files)
    if template is None or posixpath.dirname(name) != folder or not NEW_NAME.match(stem):
        abort(404)
    return files, Edit(template_text(template[0]), template_text(template[1]))


def _render(definition: DefinitionInfo, name: str, edit: Edit, status: int = 200) -> Any:
    files = engine().repository.files(definition.id)
    return (
        render_template(
            "modeller/form.html",
            definition=definition,
            name=name,
            edit=edit,
            new=name not in files,
            template=request.values.get("mall", ""),
        ),
        status,
    )


# -- pages --------------------------------------------------------------------------------------


@bp.get("/<key>/formular")
@role_required(*ROLES)
def form_list(key: str):  # type: ignore[no-untyped-def]
    """The definition's forms, and making a new one from a template."""
    definition = _definition(key, _version_arg())
    return _render_list(definition)


def _render_list(definition: DefinitionInfo, error: str | None = None, status: int = 200) -> Any:
    return (
        render_template(
            "modeller/forms.html",
            definition=definition,
            names=form_files(definition),
            error=error,
            templates=TEMPLATES,
        ),
        status,
    )


@bp.get("/<key>/formular/ny")
@role_required(*ROLES)
def new_form(key: str):  # type: ignore[no-untyped-def]
    """Open the editor on a new form file made from a template (nothing is stored yet)."""
    definition = _definition(key)
    stem = (request.args.get("namn") or "").strip()
    template = request.args.get("mall", "")
    if template not in TEMPLATES:
        abort(400)
    if not NEW_NAME.match(stem):
        message = _(
            "Namnet får bara innehålla små bokstäver a–z, siffror, - och _, "
            "till exempel godkann_ansokan."
        )
        return _render_list(definition, message, 400)
    files = engine().repository.files(definition.id)
    name = posixpath.join(_forms_folder(definition, files), stem + SCHEMA)
    if name in files:
        return _render_list(definition, _("Formuläret %(file)s finns redan.", file=name), 400)
    return redirect(url_for("modeller.form_editor", key=key, name=name, mall=template))


@bp.get("/<key>/formular/<path:name>")
@role_required(*ROLES)
def form_editor(key: str, name: str):  # type: ignore[no-untyped-def]
    definition = _definition(key, _version_arg())
    _files, edit = _stored(definition, name)
    edit.check()
    return _render(definition, name, edit)


@bp.post("/<key>/formular/<path:name>")
@role_required(*ROLES)
def form_submit(key: str, name: str):  # type: ignore[no-untyped-def]
    """ "Förhandsgranska" renders the typed text; "Driftsätt" deploys it as a new version."""
    definition = _definition(key, _version_arg())
    files, _start = _stored(definition, name)
    edit = Edit(request.form.get("schema", ""), request.form.get("ui", ""))
    parsed = edit.check()
    if parsed is None:
        return _render(definition, name, edit, 422)
    if request.form.get("_action") != "deploy":
        return _render(definition, name, edit)
    edited = {**files, name: edit.schema_text.encode(), ui_name(name): edit.ui_text.encode()}
    main = _main_diagram(definition, files)
    problems = checks.check(edited, main, edited[main], engine().services)
    deployed = []
    if not problems:
        try:
            results = engine().repository.deploy(
                checks.edited_bundle(edited, main, edited[main]), current_actor()
            )
        except ValidationError as err:
            problems = list(err.problems)
        else:
            deployed = [r for r in results if r.created]
    if not problems and not deployed and name not in files:
        # The engine versions what a process uses: a form no task names changes nothing.
        edit.refused = [
            _(
                "Ingen uppgift i processen använder %(file)s ännu, så det finns ingen ny version "
                "att driftsätta. Ange formuläret på en användaruppgift i diagrammet och "
                "driftsätt dem tillsammans.",
                file=name,
            )
        ]
        return _render(definition, name, edit, 422)
    if problems:
        edit.refused = [
            " ".join(filter(None, (p.file, p.element, "–", p.message, p.hint))) for p in problems
        ]
        return _render(definition, name, edit, 422)
    _flash_deployed(deployed)
    return redirect(url_for("modeller.form_editor", key=key, name=name))


@bp.post("/<key>/formular-forhandsgranska")
@bp.post("/<key>/formular-forhandsgranska/<path:name>")
@role_required(*ROLES)
def form_preview(key: str, name: str | None = None):  # type: ignore[no-untyped-def]
    """The preview for `form-editor.js` and the modeller page's forms panel: the same
    rendering as the editor page, as JSON. Nothing is stored; the panel names no file."""
    definition = _definition(key, _version_arg())
    if name is not None:
        _stored(definition, name)
    payload = request.get_json(silent=True) or {}
    edit = Edit(str(payload.get("schema", "")), str(payload.get("ui", "")))
    edit.check()
    return jsonify(
        ok=not edit.errors,
        errors=edit.errors,
        title=edit.title,
        html=str(edit.preview) if edit.preview is not None else "",
    )
