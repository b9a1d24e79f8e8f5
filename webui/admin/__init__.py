"""Administration: the installation's status (what is deployed, how much runs)."""

from __future__ import annotations

from flask import Blueprint, render_template

from webui.auth.access import engine, role_required

bp = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates")


@bp.get("/status")
@role_required("administrator", "auditor", "process_owner")
def status():  # type: ignore[no-untyped-def]
    eng = engine()
    return render_template(
        "admin/status.html",
        definitions=eng.repository.definitions(latest_only=True),
        running=eng.runtime.count("running"),
        open_tasks=eng.tasks.list(limit=1).total,
        awaiting=len(eng.approvals.awaiting()),
    )


from . import approvals, cockpit  # noqa: E402, F401 — register their routes on bp
