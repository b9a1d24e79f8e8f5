"""Sign-in and sign-out with local accounts; the language choice."""

from __future__ import annotations

from urllib.parse import urlparse

from flask import Blueprint, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, logout_user

from webui.security import limiter

from .access import login_required, register, sign_in

bp = Blueprint("auth", __name__, template_folder="templates")


def _safe_next(target: str | None) -> str:
    """Only a path on this site (no open redirect to another host)."""
    if target and target.startswith("/") and not target.startswith("//"):
        parsed = urlparse(target)
        if not parsed.netloc and not parsed.scheme:
            return target
    return url_for("index")


@bp.route("/logga-in", methods=["GET", "POST"])
@limiter.limit("10 per minute", methods=["POST"], error_message="too many sign-in attempts")
def login():  # type: ignore[no-untyped-def]
    if current_user.is_authenticated:
        return redirect(url_for("index"))
    error = None
    username = ""
    if request.method == "POST":
        username = request.form.get("username", "").strip()
        password = request.form.get("password", "")
        user = register().authenticate(username, password)
        if user is not None:
            session.clear()  # a new session id at sign-in
            sign_in(user.id)
            return redirect(_safe_next(request.args.get("next")))
        error = _("Fel användarnamn eller lösenord. Försök igen.")
    status = 401 if error else 200
    return render_template("auth/login.html", error=error, username=username), status


@bp.post("/logga-ut")
@login_required
def logout():  # type: ignore[no-untyped-def]
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))


@bp.post("/sprak")
def language():  # type: ignore[no-untyped-def]
    """Choose the language: stored on the user when signed in, else in the session."""
    chosen = request.form.get("language")
    if chosen in ("sv", "en"):
        session["language"] = chosen
        if current_user.is_authenticated:
            register().set_language(current_user.id, chosen)
    return redirect(_safe_next(request.form.get("next")))
