"""Pages anyone may read without signing in: the accessibility statement (required by the
DOS law) and the public nomination form for the safety prize."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_babel import gettext as _

from engine.errors import NotFound, NotPermitted, ValidationError
from processes import nominations
from webui.auth.access import engine
from webui.security import limiter

bp = Blueprint("public", __name__, template_folder="templates")


@bp.get("/tillganglighet")
def accessibility():  # type: ignore[no-untyped-def]
    return render_template("public/accessibility.html")


@bp.route("/nominera", methods=["GET", "POST"])
@limiter.limit("20 per hour", methods=["POST"], error_message="too many nominations")
def nominate():  # type: ignore[no-untyped-def]
    year = engine().clock.now().year
    form = {name: "" for name in nominations.FIELDS}
    errors: dict[str, str] = {}
    message = None
    status = 200
    if request.method == "POST":
        form = {name: request.form.get(name, "") for name in nominations.FIELDS}
        form["consent"] = request.form.get("consent", "")
        try:
            nominations.submit(engine(), year, form, request.remote_addr)
            return render_template("public/nominated.html", year=year)
        except ValidationError as exc:
            errors = {p.element or "": p.message for p in exc.problems}
            status = 400
        except (NotFound, NotPermitted) as exc:
            message = str(exc)
            status = 409 if isinstance(exc, NotFound) else 429
    return (
        render_template(
            "public/nominate.html",
            year=year,
            form=form,
            errors=errors,
            message=message,
            fields=nominations.FIELDS,
            labels={
                "nominee": _("Vem eller vad nominerar du?"),
                "nominee_organisation": _("Organisation eller verksamhet (om det finns)"),
                "description": _("Varför ska de få priset?"),
                "nominator_name": _("Ditt namn"),
                "nominator_email": _("Din e-postadress"),
                "nominator_phone": _("Ditt telefonnummer (frivilligt)"),
            },
        ),
        status,
    )
