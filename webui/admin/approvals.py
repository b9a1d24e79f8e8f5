"""Approving versions that call privileged services (engine/approvals.py), four eyes.

A process owner's new version that grants roles, registers decisions, notifies many, erases
or publishes waits here until an administrator who did not deploy it approves it or refuses
it. The page shows what each privileged call is and links to the modeller's comparison with
the version before, so the administrator approves what they have read, not a name. Approval
and refusal, with the note, go into the repository's hash-chained history.
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from engine.errors import InvalidState, NotFound, NotPermitted, ValidationError
from webui.auth.access import current_actor, engine, role_required

from . import bp

VIEWERS = ("administrator", "process_owner", "auditor")
PRIVILEGE_LABELS = {
    "appoint_responsible": _l("Ger en roll: gör en person ansvarig för en organisation"),
    "register_decision": _l("Registrerar ett beslut i stadens beslutsregister"),
    "notify": _l("Skickar meddelanden till alla som har en roll"),
    "notify_users": _l("Skickar meddelanden till de användare den anger"),
    "notify_nominators": _l("Mejlar alla som nominerat till årets pris"),
    "erase_nominator_data": _l("Raderar nominerandes personuppgifter"),
    "publish_guideline": _l("Publicerar en ny version av riktlinjen och meddelar alla ansvariga"),
    "publish_prize_winner": _l("Publicerar prisvinnaren"),
}
"""What the city's privileged services do, for the page; another installation's service is
shown with the English text it declares (`@privileged`)."""
DONE = {
    "approve": _l("Version %(version)d av %(key)s är godkänd och kan användas."),
    "refuse": _l("Version %(version)d av %(key)s är avslagen och används aldrig."),
}


@bp.get("/godkannanden")
@role_required(*VIEWERS)
def approvals() -> Any:
    return _render({}, {}, 200)


@bp.post("/godkannanden/<int:definition_id>")
@role_required("administrator")
def decide(definition_id: int) -> Any:
    eng, actor = engine(), current_actor()
    action = request.form.get("action")
    note = (request.form.get(f"note_{definition_id}") or "").strip()[:2000]
    if action not in DONE:
        return _render({}, {}, 400, _("Välj Godkänn eller Avslå."))
    try:
        approval = eng.approvals.of(definition_id)
        decide_as = eng.approvals.approve if action == "approve" else eng.approvals.refuse
        decide_as(definition_id, actor, note)
        flash(DONE[action] % {"version": approval.version, "key": approval.key})
    except NotFound:
        return _render({}, {}, 404, _("Den versionen finns inte."))
    except ValidationError:
        field = f"note_{definition_id}"
        return _render(
            {field: _("Skriv varför versionen avslås. Processägaren läser det.")},
            {field: note},
            400,
        )
    except NotPermitted:
        return _render(
            {},
            {},
            403,
            _(
                "Du driftsatte den här versionen och kan inte själv godkänna den. "
                "En annan administratör måste göra det."
            ),
        )
    except InvalidState:
        return _render({}, {}, 409, _("Versionen väntar inte längre på godkännande."))
    return redirect(url_for(".approvals"), code=303)


def _render(errors: dict[str, str], values: dict[str, str], status: int, problem: str = "") -> Any:
    eng = engine()
    pending = eng.approvals.awaiting()
    return (
        render_template(
            "admin/approvals.html",
            pending=pending,
            names={
                a.definition_id: eng.repository.definition(a.definition_id).name for a in pending
            },
            me=current_actor().id,
            privilege_labels=PRIVILEGE_LABELS,
            may_decide=current_actor().admin,
            errors=errors,
            values=values,
            problem=problem,
        ),
        status,
    )
