"""Drafts: a process owner's edit saved without deploying it.

Editing a process can take longer than one sitting, and deploying half a change would put it
in front of every new case. "Spara utkast" stores the edited diagram as it is — checked, so
the answer says whether it could be deployed, but saved whatever the checks find — and the
process's page then offers to open it again or throw it away.

One current draft per process, file and user (`processes.models.ModellerDraft`): saving again
replaces it. The forms edited beside the diagram are saved with it, one row per form file,
and belong to the diagram's draft: opening the draft opens them, and throwing the draft away
or deploying it removes them too. The deployed versions are the history, not the drafts.
A draft is private to the one who saved it (another process owner sees the deployed diagram
and nothing of the draft), and deploying the file from the modeller removes the deployer's
draft of it: once deployed it is no longer unfinished work. A draft remembers the version it
was edited from; opening it opens that version's page, so deploying from a draft of an older
version says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import abort, current_app, flash, jsonify, redirect, request, url_for
from flask_babel import gettext as _
from sqlalchemy import delete, select

from engine.clock import from_storage, to_storage
from engine.xml_safety import MAX_XML_BYTES
from processes.models import ModellerDraft
from webui.auth.access import current_actor, engine, role_required

from . import ROLES, _chosen_file, _definition, _submitted, bp


@dataclass(frozen=True)
class Draft:
    """What the page needs to know about a draft (the XML only when it is opened)."""

    file_name: str
    base_version: int
    saved_at: datetime
    content: str


def current(key: str, file_name: str) -> Draft | None:
    """The signed-in user's draft of one file of a process, if there is one."""
    with engine().db.read() as session:
        row = session.scalars(
            select(ModellerDraft).where(
                ModellerDraft.definition_key == key,
                ModellerDraft.file_name == file_name,
                ModellerDraft.saved_by == current_actor().id,
            )
        ).first()
        if row is None:
            return None
        return Draft(row.file_name, row.base_version, from_storage(row.saved_at), row.content)  # type: ignore[arg-type]


def forms(key: str) -> dict[str, str]:
    """The form files the signed-in user saved with a draft of the process, by file name."""
    with engine().db.read() as session:
        rows = session.scalars(
            select(ModellerDraft).where(
                ModellerDraft.definition_key == key,
                ModellerDraft.file_name.like("%.json"),
                ModellerDraft.saved_by == current_actor().id,
            )
        )
        return {row.file_name: row.content for row in rows}


def remove(key: str, file_name: str) -> bool:
    """Throw away the signed-in user's draft of a file, and the forms saved with it; True if
    there was a draft of the file."""
    with engine().db.write() as session:
        mine = (ModellerDraft.definition_key == key, ModellerDraft.saved_by == current_actor().id)
        result = session.execute(
            delete(ModellerDraft).where(*mine, ModellerDraft.file_name == file_name)
        )
        session.execute(delete(ModellerDraft).where(*mine, ModellerDraft.file_name.like("%.json")))
        return bool(result.rowcount)  # type: ignore[attr-defined]


def _save(key: str, file_name: str, base_version: int, content: str) -> datetime:
    now = engine().clock.now()
    user_id = current_actor().id
    with engine().db.write() as session:
        row = session.scalars(
            select(ModellerDraft).where(
                ModellerDraft.definition_key == key,
                ModellerDraft.file_name == file_name,
                ModellerDraft.saved_by == user_id,
            )
        ).first()
        if row is None:
            row = ModellerDraft(definition_key=key, file_name=file_name, saved_by=user_id)
            session.add(row)
        row.base_version = base_version
        row.content = content
        row.saved_at = to_storage(now)
    return now


@bp.post("/<key>/utkast")
@role_required(*ROLES)
def save_draft(key: str):  # type: ignore[no-untyped-def]
    """Save the edited diagram and the forms edited beside it (JSON from the page's
    script, CSRF in the header). Forms whose text is not yet valid JSON are saved too —
    a draft is unfinished work — and the answer lists their problems."""
    if not request.is_json:
        abort(400)
    edit = _submitted()
    definition, chosen, data = edit.definition, edit.chosen, edit.data
    if len(data) > MAX_XML_BYTES:
        return jsonify(ok=False, message=_("Diagrammet är för stort för att sparas.")), 413
    saved_at = _save(key, chosen, definition.version, data.decode("utf-8"))
    for name, text in edit.forms.items():
        _save(key, name, definition.version, text.decode("utf-8"))
    found = edit.findings(edit.check())
    when = current_app.jinja_env.filters["when"](saved_at)
    return jsonify(
        ok=True,
        file=chosen,
        base_version=definition.version,
        message=_("Utkastet är sparat %(when)s. Det är inte driftsatt.", when=when),
        valid=not found,
        problems=[f.as_dict() for f in found],
        url=url_for("modeller.show", key=key, utkast=1, fil=chosen),
    )


@bp.delete("/<key>/utkast")
@role_required(*ROLES)
def delete_draft(key: str):  # type: ignore[no-untyped-def]
    """Throw the draft away from a script (`?fil=` names the file, CSRF in the header)."""
    definition = _definition(key)
    chosen = _chosen_file(definition, engine().repository.files(definition.id), _file_arg())
    return jsonify(ok=remove(key, chosen), url=url_for("modeller.show", key=key, fil=chosen))


@bp.post("/<key>/utkast/kasta")
@role_required(*ROLES)
def discard_draft(key: str):  # type: ignore[no-untyped-def]
    """Throw the draft away from the page's form (works without JavaScript)."""
    definition = _definition(key)
    chosen = _chosen_file(definition, engine().repository.files(definition.id), _file_arg())
    if remove(key, chosen):
        flash(_("Utkastet är borttaget."), "success")
    return redirect(url_for("modeller.show", key=key, fil=chosen))


def _file_arg() -> str | None:
    return request.form.get("file") or request.args.get("fil") or None
