"""Who is signed in, and what they may do — the checks every route makes.

The seam for the city's identity provider is `sign_in(user_id)`: local accounts call it after
a password check; an OpenID Connect callback would call it after validating the ID token and
mapping its subject to a user of the register (docs/operations.md).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import abort, current_app, g
from flask_login import LoginManager, UserMixin, current_user, login_required, login_user

from engine import Actor, Engine
from engine.errors import NotFound
from processes.governance import register_of
from processes.register import Register

login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = None  # the sign-in page says why on its own


class SignedInUser(UserMixin):
    def __init__(self, info: Any) -> None:
        self.info = info
        self.id = info.id
        self.name = info.name
        self.language = info.language
        self.organisation = info.organisation
        self.grants = info.grants

    @property
    def roles(self) -> frozenset[str]:
        return frozenset(role for role, _ in self.grants)


@login_manager.user_loader
def _load(user_id: str) -> SignedInUser | None:
    try:
        info = register().user(user_id)
    except NotFound:
        return None
    return SignedInUser(info) if info.active else None


def engine() -> Engine:
    return current_app.extensions["kedja_engine"]


def register() -> Register:
    """The organisation register of the app's engine (users, organisations, sign-in)."""
    return register_of(engine())


def sign_in(user_id: str) -> None:
    """Start a session for a user of the register (after whatever proved who they are)."""
    login_user(SignedInUser(register().user(user_id)))


def current_actor() -> Actor:
    """The signed-in user as the engine sees them (roles per organisation)."""
    if "kedja_actor" not in g:
        if not current_user.is_authenticated:
            abort(401)
        g.kedja_actor = register().actor(current_user.id)
    return g.kedja_actor


def has_role(*roles: str) -> bool:
    actor = current_actor()
    return actor.admin or bool(actor.roles & set(roles))


def role_required(*roles: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The route needs one of `roles` (administrators pass); others get 403."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        @login_required
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not has_role(*roles):
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorate


__all__ = [
    "SignedInUser",
    "current_actor",
    "engine",
    "has_role",
    "login_manager",
    "login_required",
    "role_required",
    "sign_in",
]
