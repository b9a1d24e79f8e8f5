"""Who is calling: the bearer token, the user it belongs to, and what their roles allow.

Every request is made as the user a personal API token belongs to
(`Authorization: Bearer <token>`, processes/api_tokens.py). Flask-Login must never load a
user from the session cookie here (see the package's docstring): the user is whoever the
token says, or nobody.
"""

from __future__ import annotations

from flask import Response, g, request
from werkzeug.exceptions import Unauthorized

from engine import Actor
from processes import api_tokens
from processes.governance import register_of
from webui.auth.access import SignedInUser, engine, login_manager

from . import bp

DEPLOYERS = frozenset({"process_owner"})
STARTERS = frozenset({"process_owner"})
TECHNICAL = frozenset({"process_owner", "auditor"})
"""Who sees a case's variables (`data`): as on the case page, administrators, process
owners and auditors."""


def bearer_token() -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


@bp.before_request
def _authenticate() -> None:
    g._login_user = login_manager.anonymous_user()
    if request.endpoint == "api.openapi_document":
        return
    token = bearer_token()
    if token is None:
        raise Unauthorized("Send a personal API token: 'Authorization: Bearer <token>'.")
    try:
        user_id = api_tokens.user_for(engine(), token)
    except api_tokens.TokenExpired as expired:  # its owner can renew it: say so
        raise Unauthorized(str(expired)) from None
    if user_id is None:
        raise Unauthorized("The API token is unknown or revoked.")
    register = register_of(engine())
    g._login_user = SignedInUser(register.user(user_id))
    g.kedja_actor = register.actor(user_id)


def actor() -> Actor:
    return g.kedja_actor


def holds_any(roles: frozenset[str]) -> bool:
    who = actor()
    return who.admin or bool(who.roles & roles)


@bp.after_request
def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response
