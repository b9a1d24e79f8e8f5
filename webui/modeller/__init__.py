"""The modeller: process owners open what runs, change it, check it and deploy a new version.

Each deployed process has a page (`/modeller/<key>`) that opens the definition's stored files
— exactly what runs, never the files on disk — in the bpmn-js Modeler. "Validera" sends the
edited diagram to `validera`, which runs the deploy's own checks (see `checks`) and answers
with the problems and the drawn element each belongs to, so the page marks them on the
diagram. "Driftsätt" deploys the definition's files with the edited one as a new version;
running instances stay on the version they started on (the engine never moves them).

Only process owners and administrators may use any of it. The page works without
JavaScript as far as it can: the version list, the downloads, and deploying an edited
`.bpmn` file uploaded through an ordinary form (for a diagram edited in another modeller).
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import ngettext

from engine.errors import NotFound, Problem, ValidationError
from engine.repository import DefinitionInfo
from engine.xml_safety import MAX_XML_BYTES
from processes.calendar import GovernanceCalendar
from processes.roles import LANES
from webui import query_args
from webui.auth.access import current_actor, engine, register, role_required

from . import checks, form_files

bp = Blueprint(
    "modeller",
    __name__,
    url_prefix="/modeller",
    template_folder="templates",
    static_folder="static",
)
ROLES = ("process_owner", "administrator")


# -- looking things up --------------------------------------------------------------------------


def _definition(key: str, version: int | None = None) -> DefinitionInfo:
    """The definition, or 404 (for a version: "there is no version N of key")."""
    try:
        return engine().repository.get(key, version)
    except NotFound:
        if version is None:
            abort(404)
        query_args.no_such_version(key, version)


def _version_arg() -> int | None:
    """The version the request names (query string, form field or JSON body) of the
    address's process, checked by `query_args.version_value`: 400 when it is not a whole
    number, 404 "there is no version N of key" when it is too large to exist."""
    raw = request.args.get("version") or request.form.get("version")
    if raw is None and request.is_json:
        body = request.get_json(silent=True)
        raw = body.get("version") if isinstance(body, dict) else None
    return query_args.version_value(raw, (request.view_args or {}).get("key", ""))


def _diagrams(definition: DefinitionInfo) -> list[str]:
    return [name for name in definition.files if name.lower().endswith(".bpmn")]


def _main_diagram(definition: DefinitionInfo, files: dict[str, bytes]) -> str:
    """The file that holds the process itself (a definition may bring called diagrams)."""
    marker = f'id="{definition.key}"'.encode()
    diagrams = _diagrams(definition)
    return next((n for n in diagrams if marker in files.get(n, b"")), diagrams[0])


def _chosen_file(definition: DefinitionInfo, files: dict[str, bytes], name: str | None) -> str:
    if not name:
        return _main_diagram(definition, files)
    if name not in _diagrams(definition):
        abort(404)
    return name


def _user_name(user_id: str) -> str:
    try:
        return register().user(user_id).name
    except NotFound:
        return user_id


# -- pages --------------------------------------------------------------------------------------


@bp.get("")
@bp.get("/")
@role_required(*ROLES)
def index():  # type: ignore[no-untyped-def]
    definitions = engine().repository.definitions(latest_only=True)
    return render_template("modeller/index.html", definitions=definitions, user_name=_user_name)


@bp.get("/<key>")
@role_required(*ROLES)
def show(key: str):  # type: ignore[no-untyped-def]
    return _render_show(key, _version_arg(), request.args.get("fil"))


def _render_show(
    key: str,
    version: int | None,
    file_name: str | None,
    problems: list[checks.Finding] | None = None,
    status: int = 200,
    moved: list[Any] | None = None,
) -> Any:
    definition = _definition(key, version)
    files = engine().repository.files(definition.id)
    chosen = _chosen_file(definition, files, file_name)
    draft = _drafts.current(key, chosen)
    opened = draft is not None and request.args.get("utkast") == "1"
    if opened and draft.base_version != definition.version:  # type: ignore[union-attr]
        definition = _definition(key, draft.base_version)  # type: ignore[union-attr]
    versions = list(reversed(engine().repository.definitions(key)))
    latest = versions[0]
    body = render_template(
        "modeller/show.html",
        definition=definition,
        latest=latest,
        versions=versions,
        approvals=engine().approvals.for_key(key),
        diagrams=_diagrams(definition),
        chosen=chosen,
        problems=problems,
        user_name=_user_name,
        waiting=_older_cases(key, latest.version),
        moved=moved,
        draft=draft,
        draft_opened=opened,
        form_templates=form_files.template_texts(),
    )
    return body, status


def _older_cases(key: str, latest: int) -> list[Any]:
    """Running cases on an older version, each checked against the latest (what moving
    them would do, before anyone presses the button)."""
    eng = engine()
    return [
        eng.runtime.check_migration(i.id, latest)
        for i in eng.runtime.list(key=key, limit=1000)
        if i.state in ("running", "suspended") and i.version != latest
    ]


@bp.post("/<key>/flytta")
@role_required("administrator", "process_owner")
def move_cases(key: str):  # type: ignore[no-untyped-def]
    """Move every case that can move to the latest version; the others stay, with why."""
    _definition(key)
    reason = (request.form.get("reason") or "").strip()
    if not reason:
        flash(_("Skriv varför ärendena flyttas; skälet sparas i varje ärendes historik."), "error")
        return _render_show(key, None, None, status=400)
    moved, refused = engine().runtime.migrate_all(key, current_actor(), reason=reason)
    said = ngettext(
        "%(num)d ärende flyttades till den senaste versionen.",
        "%(num)d ärenden flyttades till den senaste versionen.",
        len(moved),
    )
    if refused:
        said += " " + ngettext(
            "%(num)d ärende kunde inte flyttas.",
            "%(num)d ärenden kunde inte flyttas.",
            len(refused),
        )
    flash(said)
    if refused:  # the table says what stands in the way; this says what the owner can do
        flash(
            _(
                "Ärenden som inte kunde flyttas fortsätter på sin version; tabellen säger "
                "vilket element som står i vägen. Flytta dem när de har gått vidare från det "
                "elementet, eller be en administratör avbryta dem i driftöversikten om de inte "
                "ska fortsätta."
            ),
            "info",
        )
    return _render_show(key, None, None, moved=moved)


@bp.get("/<key>/diagram.json")
@role_required(*ROLES)
def diagram(key: str):  # type: ignore[no-untyped-def]
    definition = _definition(key, _version_arg())
    files = engine().repository.files(definition.id)
    chosen = _chosen_file(definition, files, request.args.get("fil"))
    xml = files[chosen].decode("utf-8-sig")
    if request.args.get("utkast") == "1":  # the signed-in user's draft instead (drafts.py)
        draft = _drafts.current(key, chosen)
        if draft is None:
            abort(404)
        definition = _definition(key, draft.base_version)
        files = engine().repository.files(definition.id)
        xml = draft.content
    folder = posixpath.dirname(chosen)
    names = _form_files(definition, chosen)
    drafted = _drafts.forms(key) if request.args.get("utkast") == "1" else {}
    return jsonify(
        key=definition.key,
        version=definition.version,
        file=chosen,
        xml=xml,
        forms=names,
        # the forms panel edits these beside the diagram (static/forms-panel.js)
        form_texts={n: files[posixpath.join(folder, n)].decode("utf-8-sig") for n in names},
        form_drafts={
            posixpath.relpath(n, folder or "."): text
            for n, text in drafted.items()
            if posixpath.dirname(n).startswith(folder)
        },
        draft=request.args.get("utkast") == "1",
    )


def _form_files(definition: DefinitionInfo, diagram_name: str) -> list[str]:
    """The definition's form files as a user task in `diagram_name` names them (relative to
    the diagram's folder), for the properties panel's choice of form."""
    folder = diagram_name.rsplit("/", 1)[0] + "/" if "/" in diagram_name else ""
    return sorted(
        name.removeprefix(folder)
        for name in definition.files
        if name.endswith(".json") and name.startswith(folder)
    )


@bp.get("/roller.json")
@role_required(*ROLES)
def roles():  # type: ignore[no-untyped-def]
    """What the properties panel offers: the lane names that are roles, and the calendar's
    variables a timer expression may use."""
    return jsonify(
        lanes=[{"name": name, "role": role} for name, role in sorted(LANES.items())],
        calendar=sorted(GovernanceCalendar().variables(2026)),
    )


@bp.get("/tjanster.json")
@role_required(*ROLES)
def services():  # type: ignore[no-untyped-def]
    """The operators a service task may name: exactly those the deploy accepts (the
    engine's registered services), so the panel offers no name the checks would refuse."""
    services = engine().services
    names = sorted(services.names())
    declared = {name: services.parameters(name) for name in names}
    return jsonify(
        operators=names,
        # What each declared it takes: the same lists the deploy checks parameters against.
        parameters={
            name: {"required": list(p.required), "optional": list(p.optional)}
            for name, p in declared.items()
            if p is not None
        },
    )


@bp.get("/<key>/ladda-ned")
@role_required(*ROLES)
def download(key: str):  # type: ignore[no-untyped-def]
    definition = _definition(key, _version_arg())
    files = engine().repository.files(definition.id)
    chosen = _chosen_file(definition, files, request.args.get("fil"))
    base = chosen.rsplit("/", 1)[-1].removesuffix(".bpmn")
    return Response(
        files[chosen],
        mimetype="application/xml",
        headers={
            "Content-Disposition": (f'attachment; filename="{base}-v{definition.version}.bpmn"')
        },
    )


# -- checking and deploying ---------------------------------------------------------------------


@dataclass(frozen=True)
class Submission:
    """An edit as the page or the upload form sends it: the definition it starts from, its
    files with the edited forms in place, and the edited diagram's name and text. `problems`
    are the edited forms that could not be taken (they are not in `files`)."""

    definition: DefinitionInfo
    files: dict[str, bytes]
    chosen: str
    data: bytes
    forms: dict[str, bytes] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def check(self) -> list[Problem]:
        """Everything deploying this edit would meet, the forms' own problems first."""
        return self.problems + checks.check(self.files, self.chosen, self.data, engine().services)

    def findings(self, problems: list[Problem]) -> list[checks.Finding]:
        return checks.findings(problems, self.chosen, self.data)


def _submitted() -> Submission:
    """The edit from the page's JSON request (the diagram and the forms edited beside it) or
    from the upload form (a diagram only)."""
    definition = _definition(request.view_args["key"], _version_arg())  # type: ignore[index]
    files = engine().repository.files(definition.id)
    edited_forms = None
    if request.is_json:
        payload = request.get_json(silent=True) or {}
        xml = payload.get("xml")
        if not isinstance(xml, str):
            abort(400)
        data = xml.encode("utf-8")
        name = payload.get("file")
        edited_forms = payload.get("forms")
    else:
        upload = request.files.get("diagram")
        if upload is None or not upload.filename:
            abort(400)
        data = upload.read(MAX_XML_BYTES + 1)
        name = request.form.get("file")
    chosen = _chosen_file(definition, files, name if isinstance(name, str) else None)
    edits = form_files.edits_from(edited_forms, files, chosen)
    return Submission(
        definition,
        {**files, **edits.files},
        chosen,
        data,
        edits.files,
        edits.problems,
    )


@bp.post("/<key>/validera")
@role_required(*ROLES)
def validate(key: str):  # type: ignore[no-untyped-def]
    edit = _submitted()
    found = edit.findings(edit.check())
    return jsonify(ok=not found, file=edit.chosen, problems=[f.as_dict() for f in found])


@bp.post("/<key>/driftsatt")
@role_required(*ROLES)
def deploy(key: str):  # type: ignore[no-untyped-def]
    edit = _submitted()
    problems = edit.check()
    deployed = []
    if not problems:
        try:
            results = engine().repository.deploy(
                checks.edited_bundle(edit.files, edit.chosen, edit.data), current_actor()
            )
        except ValidationError as err:
            problems = list(err.problems)
        else:
            deployed = [r for r in results if r.created]
    found = edit.findings(problems)
    if not found:
        _drafts.remove(key, edit.chosen)  # deployed: the draft is no longer unfinished work
    if request.is_json:
        if found:
            return jsonify(ok=False, file=edit.chosen, problems=[f.as_dict() for f in found]), 422
        _flash_deployed(deployed)  # shown on the page the script opens next
        return jsonify(
            ok=True,
            deployed=[{"key": r.definition.key, "version": r.definition.version} for r in deployed],
            url=url_for("modeller.show", key=key),
        )
    if found:
        return _render_show(key, edit.definition.version, edit.chosen, found, 422)
    _flash_deployed(deployed)
    return redirect(url_for("modeller.show", key=key))


def _flash_deployed(deployed: list[Any]) -> None:
    if not deployed:
        flash(_("Inget ändrades: samma innehåll är redan driftsatt."), "info")
    for r in deployed:
        approval = engine().approvals.of(r.definition.id)
        if approval.state == "awaiting":
            flash(
                _(
                    "%(key)s version %(version)s är driftsatt men väntar på godkännande: den "
                    "anropar %(calls)s. En administratör som inte är du godkänner den under "
                    "Administration, Godkännanden; tills dess används den tidigare versionen.",
                    key=r.definition.key,
                    version=r.definition.version,
                    calls=", ".join(sorted({c.operator for c in approval.calls})),
                ),
                "info",
            )
            continue
        flash(
            _(
                "%(key)s version %(version)s är driftsatt.",
                key=r.definition.key,
                version=r.definition.version,
            ),
            "success",
        )


from . import drafts as _drafts  # noqa: E402 — registers their routes on bp
from . import forms_editor as _form_routes  # noqa: E402, F401 — registers their routes on bp
from . import versions as _version_routes  # noqa: E402, F401 — registers their routes on bp
