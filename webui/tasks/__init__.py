"""The tasks area: the task list (`/uppgifter`) and the task page with its form.

Staff find their work here and finish it: claim a task or hand it to a colleague, fill in
the form (rendered from the task's JSON Schema, validated on the server), attach files, save
a draft, complete. Everything works without JavaScript; `static/tasks.js` only moves focus
to the error summary when a submission comes back with errors.
"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint(
    "tasks",
    __name__,
    url_prefix="/uppgifter",
    template_folder="templates",
    static_folder="static",
)


@bp.record_once
def _check_upload_quotas(_state: object) -> None:
    """A bad KEDJA_UPLOAD_QUOTA_* setting stops the web app when it starts, naming the
    variable, rather than at somebody's first upload."""
    from processes.attachment_quotas import Quotas

    Quotas.from_env()


from . import views  # noqa: E402, F401  (registers the routes on bp)
