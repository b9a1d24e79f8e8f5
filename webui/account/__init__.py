"""A user's own settings (`/konto`): how they hear of their work (a mail per notification,
or a weekly digest on Mondays at 08:00), their language, their private calendar feed, and
their API tokens with their expiry (`api_keys`: renew, revoke).

The calendar feed is served at `/kalender/<token>.ics` without signing in — calendar programs
cannot sign in — so the random token in the address is the credential (`tokens`). The
settings page creates one (shown once: only its hash is stored), replaces it, or revokes it;
a revoked or unknown token gets 404.
"""

from __future__ import annotations

import os
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_login import current_user

from engine.errors import NotFound, ValidationError
from processes import api_tokens, notification_preferences
from webui.auth.access import engine, login_required, register
from webui.security import limiter

from . import tokens
from .feed import FeedBuilder

bp = Blueprint("account", __name__, url_prefix="/konto", template_folder="templates")
LANGUAGES = ("sv", "en")


def _base_url() -> str:
    """The address users reach Kedja at: KEDJA_BASE_URL (what mails link to), else this
    request's."""
    return (os.environ.get("KEDJA_BASE_URL") or request.host_url).rstrip("/")


def _page(status: int = 200, **extra: Any):  # type: ignore[no-untyped-def]
    eng = engine()
    user = register().user(current_user.id)
    values = {
        "mode": notification_preferences.preference(eng, user.id),
        "language": user.language if user.language in LANGUAGES else "sv",
    }
    context = {
        "user": user,
        "values": values,
        "errors": {},
        "calendar": tokens.active(eng, user.id),
        "new_url": None,
        "api_tokens": api_tokens.tokens(eng, user.id),
        "api_token_days": _token_days(),
        "now": eng.clock.now(),
        **extra,
    }
    if extra.get("submitted"):
        context["values"] = {**values, **extra["submitted"]}
    return render_template("account/settings.html", **context), status


def _token_days() -> int | None:
    """How long a renewed token works, for the page's explanation (None when
    KEDJA_API_TOKEN_DAYS is wrong: renewing then says what is wrong)."""
    try:
        return api_tokens.lifetime_days()
    except ValidationError:
        return None


@bp.get("")
@bp.get("/")
@login_required
def settings():  # type: ignore[no-untyped-def]
    return _page()


@bp.post("")
@bp.post("/")
@login_required
def save():  # type: ignore[no-untyped-def]
    mode = request.form.get("mode", "")
    language = request.form.get("language", "")
    errors = {}
    if mode not in notification_preferences.MODES:
        errors["mode-each"] = _("Välj hur du vill få dina aviseringar.")
    if language not in LANGUAGES:
        errors["language-sv"] = _("Välj språk.")
    if errors:
        return _page(400, errors=errors, submitted={"mode": mode, "language": language})
    eng = engine()
    notification_preferences.set_preference(eng, current_user.id, mode)
    register().set_language(current_user.id, language)
    session["language"] = language
    with force_locale(language):  # the next page is in the chosen language
        flash(_("Dina inställningar är sparade."), "success")
    return redirect(url_for(".settings"))


@bp.post("/kalender/ny")
@login_required
def new_calendar():  # type: ignore[no-untyped-def]
    """Create (or replace) the calendar address and show it, this once."""
    token = tokens.create(engine(), current_user.id)
    url = _base_url() + url_for(".feed", token=token)
    return _page(new_url=url)


@bp.post("/kalender/aterkalla")
@login_required
def revoke_calendar():  # type: ignore[no-untyped-def]
    if tokens.revoke(engine(), current_user.id):
        flash(_("Kalenderadressen är återkallad. Den fungerar inte längre."), "success")
    return redirect(url_for(".settings") + "#kalender")


@limiter.limit("60 per minute")
def feed(token: str):  # type: ignore[no-untyped-def]
    """The calendar feed; no sign-in, the token is the credential (see `tokens`)."""
    eng = engine()
    user_id = tokens.user_for(eng, token)
    if user_id is None:
        abort(404)
    try:
        user = register().user(user_id)
    except NotFound:
        abort(404)
    body = FeedBuilder(eng, _base_url(), eng.clock.now()).build(user)
    return Response(
        body,
        mimetype="text/calendar",
        headers={
            "Content-Disposition": 'inline; filename="kedja.ics"',
            "Cache-Control": "private, no-cache",
            "X-Robots-Tag": "noindex",
        },
    )


@bp.record_once
def _feed_route(state: Any) -> None:
    # The feed's address is /kalender/<token>.ics, outside the blueprint's /konto prefix.
    state.app.add_url_rule("/kalender/<token>.ics", endpoint="account.feed", view_func=feed)


from . import api_keys  # noqa: E402, F401 — registers the API token routes on bp
