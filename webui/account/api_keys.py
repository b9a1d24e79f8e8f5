"""A user's own API tokens on the settings page (`/konto#api-nycklar`): each with its name,
when it was made and last used, and when it expires; renew (it works the configured number
of days from now again) or revoke.

Why here and not only on the command line: a token expires (processes/api_tokens.py), and
the API's refusal of an expired token sends its owner to this page, where signing in is the
proof that they still want it. Creating tokens stays with an administrator
(`kedja token create`), who decides which integrations may act as whom. Only the signed-in
user's own tokens are listed and can be changed: another user's token id is "not found".
"""

from __future__ import annotations

from flask import abort, flash, redirect, url_for
from flask_babel import gettext as _
from flask_login import current_user

from engine.errors import NotFound, ValidationError
from processes import api_tokens
from webui.auth.access import engine, login_required
from webui.i18n import format_when

from . import bp

SECTION = "#api-nycklar"


def _own(token_id: int) -> api_tokens.TokenInfo:
    for info in api_tokens.tokens(engine(), current_user.id):
        if info.id == token_id:
            return info
    abort(404)


@bp.post("/api-nycklar/<int:token_id>/fornya")
@login_required
def renew_api_token(token_id: int):  # type: ignore[no-untyped-def]
    if _own(token_id).revoked_at is not None:
        flash(_("API-nyckeln är återkallad och kan inte förnyas."), "error")
        return redirect(url_for(".settings") + SECTION)
    try:
        info = api_tokens.renew(engine(), token_id, owner=current_user.id)
    except NotFound:  # deleted meanwhile
        abort(404)
    except ValidationError as exc:  # KEDJA_API_TOKEN_DAYS is wrong (the operator's to fix)
        flash(_("API-nyckeln kunde inte förnyas: %(why)s", why=str(exc)), "error")
        return redirect(url_for(".settings") + SECTION)
    flash(
        _(
            "API-nyckeln %(name)s är förnyad och gäller till %(when)s.",
            name=info.name,
            when=format_when(info.expires_at),
        ),
        "success",
    )
    return redirect(url_for(".settings") + SECTION)


@bp.post("/api-nycklar/<int:token_id>/aterkalla")
@login_required
def revoke_api_token(token_id: int):  # type: ignore[no-untyped-def]
    info = _own(token_id)
    api_tokens.revoke(engine(), token_id)
    flash(
        _("API-nyckeln %(name)s är återkallad. Den fungerar inte längre.", name=info.name),
        "success",
    )
    return redirect(url_for(".settings") + SECTION)
