"""Sign-in and sign-out with local accounts; the language choice.

Sign-in attempts are throttled in the database (`processes.sign_in_attempts`), so the limit
holds across every web process and host: the throttle is asked before the password is
checked, and told when the password was right.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlparse

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask.blueprints import BlueprintSetupState
from flask_babel import gettext as _
from flask_login import current_user, logout_user

from processes.sign_in_attempts import Limits, SignInThrottle
from webui.i18n import STOCKHOLM

from .access import engine, login_required, register, sign_in

bp = Blueprint("auth", __name__, template_folder="templates")
THROTTLE = "kedja_sign_in_throttle"


@bp.record_once
def _install_throttle(state: BlueprintSetupState) -> None:
    """One throttle per app, built when the app is: a bad limit in the environment stops
    `kedja serve` at start rather than at someone's first sign-in."""
    app = state.app
    app.extensions[THROTTLE] = SignInThrottle(
        app.extensions["kedja_engine"], app.secret_key, Limits.from_env()
    )


def throttle() -> SignInThrottle:
    return current_app.extensions[THROTTLE]


def _safe_next(target: str | None) -> str:
    """Only a path on this site (no open redirect to another host)."""
    if target and target.startswith("/") and not target.startswith("//"):
        parsed = urlparse(target)
        if not parsed.netloc and not parsed.scheme:
            return target
    return url_for("index")


@bp.route("/logga-in", methods=["GET", "POST"])
def login():  # type: ignore[no-untyped-def]
    if current_user.is_authenticated:
        return redirect(url_for("index"))
    error = None
    username = ""
    if request.method == "POST":
        username = request.form.get("username", "").strip()
        password = request.form.get("password", "")
        admission = throttle().admit(username, request.remote_addr)
        if admission.retry_at is not None:
            return _too_many_attempts(username, admission.retry_at)
        user = register().authenticate(username, password)
        if user is not None:
            throttle().succeeded(admission)
            session.clear()  # a new session id at sign-in
            sign_in(user.id)
            return redirect(_safe_next(request.args.get("next")))
        error = _("Fel användarnamn eller lösenord. Försök igen.")
    status = 401 if error else 200
    return render_template("auth/login.html", error=error, username=username), status


def _too_many_attempts(username: str, retry_at: datetime) -> Any:
    """429, with the time (Stockholm, rounded up to the minute) from which a new attempt is
    let through — the same answer whether or not the user exists."""
    wait = max(0.0, (retry_at - engine().clock.now()).total_seconds())
    shown = retry_at.astimezone(STOCKHOLM)
    if shown.second or shown.microsecond:
        shown = shown.replace(second=0, microsecond=0) + timedelta(minutes=1)
    error = _(
        "För många inloggningsförsök. Försök igen klockan %(time)s.", time=shown.strftime("%H:%M")
    )
    page = render_template("auth/login.html", error=error, username=username)
    return page, 429, {"Retry-After": str(max(1, math.ceil(wait)))}


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
