"""Comparing two versions of a process, and importing a new process from a .bpmn file.

Both belong to the modeller (same blueprint, same roles) but are not part of the editor:
the comparison (`/modeller/<key>/jamfor`) answers "what did that deployment change?" before
anyone moves running cases to it; the import (`/modeller/ny`) lets a process owner bring a
diagram made elsewhere — Camunda Modeler, SpiffArena — into the city as a new process, after
exactly the checks deploying it would meet. The uploaded bytes are stored as they came: the
engine deploys the file, never a re-serialisation of it, so nothing the modeller does not
understand is lost.
"""

from __future__ import annotations

import contextlib
import posixpath
from typing import Any

from flask import redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.datastructures import FileStorage

from engine import bpmn_rules
from engine.errors import NotFound, Problem, ValidationError
from engine.xml_safety import MAX_XML_BYTES, parse_xml
from webui import query_args
from webui.auth.access import current_actor, engine, role_required

from . import ROLES, _definition, _flash_deployed, bp, checks, diff

# -- comparing versions -------------------------------------------------------------------------


def _version_of(key: str, name: str, default: int) -> int:
    """The version the query argument `name` names (`query_args.version_value`), else
    `default`."""
    value = query_args.version_value(request.args.get(name), key)
    return default if value is None else value


@bp.get("/<key>/jamfor")
@role_required(*ROLES)
def compare(key: str):  # type: ignore[no-untyped-def]
    """The elements added, removed and changed from version `fran` to version `till`
    (by default the latest and the one before it)."""
    latest = _definition(key)
    after = _definition(key, _version_of(key, "till", latest.version))
    before = _definition(key, _version_of(key, "fran", max(after.version - 1, 1)))
    repository = engine().repository
    result = diff.compare(repository.files(before.id), repository.files(after.id))
    return render_template(
        "modeller/diff.html",
        definition=latest,
        before=before,
        after=after,
        versions=list(reversed(repository.definitions(key))),
        diff=result,
    )


# -- importing a new process --------------------------------------------------------------------

EXTRA_SUFFIXES = (".json", ".dmn")


def _base_name(upload: FileStorage) -> str:
    """The uploaded file's own name: browsers may send a path (old Internet Explorer sent
    the whole Windows path); only the last part names the file."""
    return posixpath.basename((upload.filename or "").replace("\\", "/")).strip()


def _form_paths(diagram: bytes, name: str) -> dict[str, str]:
    """Where the diagram expects each form file, by the file's own name.

    A diagram names its forms by path (`forms/intake.schema.json`), but an upload field only
    gives the file's name (`intake.schema.json`); each uploaded form is stored where the
    diagram looks for it, so the same diagram deploys from the upload as from a folder."""
    try:
        tree = parse_xml(name, diagram)
    except ValidationError:
        return {}  # the checks report the unreadable diagram
    paths: dict[str, str] = {}
    for element in tree.iter(f"{{{bpmn_rules.BPMN_NS}}}*"):
        properties = bpmn_rules.spiff_properties(element)
        for prop in bpmn_rules.FORM_PROPERTIES:
            reference = properties.get(prop, "").strip().replace("\\", "/")
            path = posixpath.normpath(reference) if reference else ""
            if path and not path.startswith(("..", "/")):
                paths.setdefault(posixpath.basename(path), path)
    return paths


def _already_deployed(name: str, diagram: bytes) -> list[Problem]:
    """An import makes new processes; a process that exists gets its new version on its own
    page, where the running cases and the versions are."""
    try:
        tree = parse_xml(name, diagram)
    except ValidationError:
        return []
    problems = []
    for process_id in sorted(bpmn_rules.executable_process_ids(tree)):
        with contextlib.suppress(NotFound):
            engine().repository.get(process_id)
            element = tree.find(f".//{{{bpmn_rules.BPMN_NS}}}process[@id='{process_id}']")
            problems.append(
                Problem(
                    f"a process with the id {process_id!r} is already deployed",
                    file=name,
                    element=process_id,
                    line=element.sourceline if element is not None else None,
                    hint=f"Deploy a new version of it from its page (/modeller/{process_id}), "
                    "or give this process an id of its own",
                )
            )
    return problems


def _render_new(problems: list[checks.Finding] | None = None, status: int = 200) -> Any:
    return render_template("modeller/new.html", problems=problems), status


@bp.get("/ny")
@role_required(*ROLES)
def new():  # type: ignore[no-untyped-def]
    return _render_new()


@bp.post("/ny")
@role_required(*ROLES)
def import_process():  # type: ignore[no-untyped-def]
    """Check the uploaded diagram (with its forms and decision tables) as deploying it
    would, and deploy it as a new process if nothing is wrong."""
    upload = request.files.get("diagram")
    name = _base_name(upload) if upload is not None else ""
    if not name:
        return _render_new([_finding(_("Välj en BPMN-fil att importera."))], 422)
    if not name.lower().endswith(".bpmn"):
        message = _("Filen %(file)s är inte en .bpmn-fil.", file=name)
        return _render_new([_finding(message, name)], 422)
    data = upload.read(MAX_XML_BYTES + 1)  # type: ignore[union-attr]
    placed = _form_paths(data, name)
    files: dict[str, bytes] = {}
    refused: list[checks.Finding] = []
    for extra in request.files.getlist("filer"):
        extra_name = _base_name(extra)
        if not extra_name:
            continue  # the field was left empty
        if not extra_name.lower().endswith(EXTRA_SUFFIXES):
            message = _(
                "Filen %(file)s är varken ett formulär (.json) eller en beslutstabell (.dmn).",
                file=extra_name,
            )
            refused.append(_finding(message, extra_name))
            continue
        path = placed.get(extra_name, extra_name)
        if path in files or path == name:
            refused.append(_finding(_("Två filer heter %(file)s.", file=extra_name), extra_name))
            continue
        files[path] = extra.read(MAX_XML_BYTES + 1)
    if refused:
        return _render_new(refused, 422)
    problems = _already_deployed(name, data) + checks.check(files, name, data, engine().services)
    deployed = []
    if not problems:
        try:
            results = engine().repository.deploy(
                checks.edited_bundle(files, name, data), current_actor()
            )
        except ValidationError as err:
            problems = list(err.problems)
        else:
            deployed = [r for r in results if r.created]
    if problems:
        return _render_new(checks.findings(problems, name, data), 422)
    _flash_deployed(deployed)
    if not deployed:  # nothing executable in the file: the checks let it through
        return redirect(url_for("modeller.index"))
    return redirect(url_for("modeller.show", key=deployed[0].definition.key))


def _finding(message: str, file: str | None = None) -> checks.Finding:
    """A problem with the upload itself (before any check of its content)."""
    return checks.Finding(message, file, None, None, None, None)
