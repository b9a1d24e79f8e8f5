"""Decisions: what waits for the council and the other deciding roles, and the register.

`/beslut` lists the decisions waiting for the signed-in user, each with the case it belongs
to and the decisions already taken in it; the decision itself is made in the task's form
(the tasks area, `/uppgifter/<id>`), which requires a decision and a motivation. The
register (`/beslut/register`) lists every registered decision: they are official records
(allmänna handlingar), so every signed-in user may read, search, print and export them.
Records are never changed here; `processes.decisions` only reads them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, abort, render_template, request, url_for
from flask_babel import lazy_gettext as _l

from engine.errors import NotFound
from processes.decisions import Decision, export_json, get_decision, list_decisions, printable
from webui import names, query_args
from webui.auth.access import current_actor, engine, login_required
from webui.instances.access import may_see_case
from webui.instances.model import definition_model

from .awaiting import awaiting, holds_decision_role

bp = Blueprint(
    "decisions",
    __name__,
    url_prefix="/beslut",
    template_folder="templates",
    static_folder="static",
)
PAGE_SIZE = 50
EXPORT_LIMIT = 100_000
LATEST_SHOWN = 5
KINDS = {
    # Who decided, as the register names them (processes.decisions.KIND_NAMES_SV).
    "council": _l("Riskhanteringsrådet"),
    "city_director": _l("Stadsdirektören"),
    "jury": _l("Juryn för trygghetspriset"),
    "security_chief": _l("Säkerhetschefen"),
    "local_council": _l("Lokalt brottsförebyggande råd"),
    "head": _l("Förvaltnings- eller bolagschef"),
}


@bp.app_template_global()
def decision_kind(kind: str) -> str:
    label = KINDS.get(kind)
    return str(label) if label is not None else kind


@dataclass(frozen=True)
class Search:
    text: str
    kind: str
    organisation: str

    @classmethod
    def from_request(cls) -> Search:
        kind = request.args.get("beslutande", "")
        return cls(
            text=request.args.get("q", "").strip()[:200],
            kind=kind if kind in KINDS else "",
            organisation=request.args.get("organisation", "").strip()[:100],
        )

    def args(self) -> dict[str, str]:
        """The search as query arguments (for the next page and the export link)."""
        return {
            name: value
            for name, value in (
                ("q", self.text),
                ("beslutande", self.kind),
                ("organisation", self.organisation),
            )
            if value
        }

    def run(self, limit: int, offset: int = 0) -> list[Decision]:
        return list_decisions(
            engine(),
            kind=self.kind or None,
            organisation=self.organisation or None,
            search=self.text or None,
            limit=limit,
            offset=offset,
        )


def _decision(ref: str) -> Decision:
    try:
        return get_decision(engine(), ref)
    except NotFound:
        abort(404)


@bp.get("")
@bp.get("/")
@login_required
def index():  # type: ignore[no-untyped-def]
    actor = current_actor()
    return render_template(
        "decisions/index.html",
        decider=holds_decision_role(actor),
        items=awaiting(engine(), actor),
        latest=list_decisions(engine(), limit=LATEST_SHOWN),
        now=engine().clock.now(),
    )


@bp.get("/register")
@login_required
def register():  # type: ignore[no-untyped-def]
    search = Search.from_request()
    page = query_args.page()
    found = search.run(PAGE_SIZE + 1, (page - 1) * PAGE_SIZE)
    return render_template(
        "decisions/register.html",
        search=search,
        decisions=found[:PAGE_SIZE],
        page=page,
        more=len(found) > PAGE_SIZE,
        kinds=KINDS,
        organisations=names.organisations(),
        searched=bool(search.args()),
    )


@bp.get("/export.json")
@login_required
def export():  # type: ignore[no-untyped-def]
    """The register, or a search in it, as JSON for registration and archiving systems."""
    record_id = request.args.get("id", "")
    search = Search.from_request()
    decisions = [_decision(record_id)] if record_id else search.run(EXPORT_LIMIT)
    return Response(
        export_json(decisions),
        mimetype="application/json",
        headers={"Content-Disposition": 'attachment; filename="beslut.json"'},
    )


def _record_context(decision: Decision) -> dict[str, Any]:
    eng = engine()
    step = None
    try:
        definition = eng.repository.get(decision.definition_key, decision.definition_version)
        step = definition_model(eng, definition.id).element_name(decision.element_id)
    except NotFound:
        pass
    return {
        "d": decision,
        "step": step,
        "case_visible": may_see_case(eng, current_actor(), decision.instance_id),
        "document_rows": [
            (key, value if isinstance(value, str | int | float) else json.dumps(value))
            for key, value in (decision.document or {}).items()
        ],
    }


@bp.get("/<ref>")
@login_required
def detail(ref: str):  # type: ignore[no-untyped-def]
    return render_template("decisions/detail.html", **_record_context(_decision(ref)))


@bp.get("/<ref>/utskrift")
@login_required
def printable_view(ref: str):  # type: ignore[no-untyped-def]
    return render_template("decisions/print.html", **_record_context(_decision(ref)))


@bp.get("/<ref>/utskrift.txt")
@login_required
def printable_text(ref: str):  # type: ignore[no-untyped-def]
    """The record as the plain-text document `processes.decisions.printable` writes (for
    filing in systems that take text)."""
    decision = _decision(ref)
    return Response(
        printable(decision),
        mimetype="text/plain",
        headers={
            "Content-Disposition": f'inline; filename="beslut-{decision.id}.txt"',
            "Link": f'<{url_for("decisions.detail", ref=decision.id)}>; rel="canonical"',
        },
    )
