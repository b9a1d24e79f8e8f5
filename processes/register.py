"""The organisation register: organisations, users and the roles they hold.

It is also the engine's `Directory`: the engine asks it who a user is (an `Actor` with their
(role, organisation) grants) and decides from that who may see and do which task. Passwords
are stored as salted hashes (werkzeug's scrypt); the city's identity provider replaces them in
production (docs/operations.md), the register itself stays.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from sqlalchemy import or_, select
from werkzeug.security import check_password_hash, generate_password_hash

from engine import email_addresses
from engine.actors import Actor
from engine.clock import Clock, to_storage
from engine.database import Database
from engine.errors import NotFound, ValidationError

from .models import Organisation, RoleGrant, User
from .roles import ROLES

KINDS = {
    "central": "Central förvaltning",
    "district": "Stadsdelsförvaltning",
    "specialist": "Facknämndsförvaltning",
    "company": "Bolag",
}


@dataclass(frozen=True)
class OrganisationInfo:
    id: str
    name: str
    kind: str
    local_council: str | None
    active: bool


@dataclass(frozen=True)
class UserInfo:
    id: str
    name: str
    email: str | None
    organisation: str | None
    language: str
    active: bool
    grants: tuple[tuple[str, str | None], ...]


def hash_password(password: str) -> str:
    return generate_password_hash(password)


@cache
def _unusable_hash() -> str:
    """A hash of a random password nobody knows, checked when there is no real one to check
    (made on first use: hashing costs time every command would otherwise pay at start)."""
    return generate_password_hash(secrets.token_urlsafe(32))


class Register:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    # -- organisations --------------------------------------------------------------------

    def add_organisation(
        self, id: str, name: str, kind: str, local_council: str | None = None
    ) -> OrganisationInfo:
        if kind not in KINDS:
            raise ValidationError(
                f"Unknown organisation type {kind!r}; use one of {', '.join(KINDS)}."
            )
        with self.db.write() as session:
            if session.get(Organisation, id) is not None:
                raise ValidationError(f"There is already an organisation with id {id!r}.")
            row = Organisation(
                id=id,
                name=name,
                kind=kind,
                local_council=local_council,
                active=True,
                created_at=to_storage(self.clock.now()),
            )
            session.add(row)
            return _organisation(row)

    def organisations(self, include_inactive: bool = False) -> list[OrganisationInfo]:
        with self.db.read() as session:
            query = select(Organisation).order_by(Organisation.name)
            if not include_inactive:
                query = query.where(Organisation.active.is_(True))
            return [_organisation(r) for r in session.scalars(query)]

    def organisation(self, id: str) -> OrganisationInfo:
        with self.db.read() as session:
            row = session.get(Organisation, id)
            if row is None:
                raise NotFound(f"There is no organisation {id!r}.")
            return _organisation(row)

    # -- users and roles ------------------------------------------------------------------

    def add_user(
        self,
        id: str,
        name: str,
        *,
        email: str | None = None,
        organisation: str | None = None,
        password: str | None = None,
        password_hash: str | None = None,
        grants: Iterable[tuple[str, str | None]] = (),
        language: str = "sv",
    ) -> UserInfo:
        """Create a user with their grants. `password_hash` lets a caller hash one password
        once for many accounts (the demo city)."""
        grants = list(grants)
        for role, org in grants:
            _check_role(role, org)
        if email:
            try:
                email = email_addresses.normalise(email.strip())
            except email_addresses.InvalidAddress as exc:
                raise ValidationError(
                    f"The e-mail address of {id!r} is not a plain address ({exc.reason}); "
                    "give one like namn@stad.se."
                ) from exc
        with self.db.write() as session:
            if session.get(User, id) is not None:
                raise ValidationError(f"There is already a user {id!r}.")
            session.add(
                User(
                    id=id,
                    name=name,
                    email=email,
                    organisation_id=organisation,
                    password_hash=password_hash or (hash_password(password) if password else None),
                    language=language,
                    active=True,
                    created_at=to_storage(self.clock.now()),
                )
            )
            for role, org in grants:
                session.add(RoleGrant(user_id=id, role=role, organisation_id=org))
        return self.user(id)

    def grant(self, user_id: str, role: str, organisation: str | None) -> None:
        _check_role(role, organisation)
        with self.db.write() as session:
            if session.get(User, user_id) is None:
                raise NotFound(f"There is no user {user_id!r}.")
            exists = session.scalar(
                select(RoleGrant.id).where(
                    RoleGrant.user_id == user_id,
                    RoleGrant.role == role,
                    RoleGrant.organisation_id.is_(None)
                    if organisation is None
                    else RoleGrant.organisation_id == organisation,
                )
            )
            if exists is None:
                session.add(RoleGrant(user_id=user_id, role=role, organisation_id=organisation))

    def user(self, id: str) -> UserInfo:
        with self.db.read() as session:
            row = session.get(User, id)
            if row is None:
                raise NotFound(f"There is no user {id!r}.")
            grants = session.execute(
                select(RoleGrant.role, RoleGrant.organisation_id)
                .where(RoleGrant.user_id == id)
                .order_by(RoleGrant.role, RoleGrant.organisation_id)
            ).all()
            return _user(row, tuple((r, o) for r, o in grants))

    def users(self) -> list[UserInfo]:
        with self.db.read() as session:
            grants: dict[str, list[tuple[str, str | None]]] = {}
            for user_id, role, org in session.execute(
                select(RoleGrant.user_id, RoleGrant.role, RoleGrant.organisation_id)
            ):
                grants.setdefault(user_id, []).append((role, org))
            return [
                _user(row, tuple(sorted(grants.get(row.id, []), key=str)))
                for row in session.scalars(select(User).order_by(User.id))
            ]

    def users_with_role(self, role: str, organisation: str | None = None) -> list[str]:
        """Who holds `role` for `organisation` (city-wide holders included); with no
        organisation, everyone holding the role anywhere."""
        with self.db.read() as session:
            query = select(RoleGrant.user_id).where(RoleGrant.role == role)
            if organisation is not None:
                query = query.where(
                    or_(
                        RoleGrant.organisation_id.is_(None),
                        RoleGrant.organisation_id == organisation,
                    )
                )
            return sorted(set(session.scalars(query)))

    def set_language(self, user_id: str, language: str) -> None:
        if language not in ("sv", "en"):
            raise ValidationError(f"Unknown language {language!r}; use sv or en.")
        with self.db.write() as session:
            row = session.get(User, user_id)
            if row is None:
                raise NotFound(f"There is no user {user_id!r}.")
            row.language = language

    def authenticate(self, user_id: str, password: str) -> UserInfo | None:
        """The user if the password is theirs and the account active; None otherwise (the
        caller must not say which of the two was wrong)."""
        with self.db.read() as session:
            row = session.get(User, user_id)
            stored = row.password_hash if row is not None else None
            # Always pay for one hash check, so the answer's timing does not tell whether
            # the account exists or has a password.
            matches = check_password_hash(stored or _unusable_hash(), password)
            ok = row is not None and row.active and stored is not None and matches
        return self.user(user_id) if ok else None

    # -- the engine's Directory -----------------------------------------------------------

    def actor(self, user_id: str) -> Actor:
        user = self.user(user_id)
        if not user.active:
            raise NotFound(f"The user {user_id!r} is no longer active.")
        return Actor(
            id=user.id,
            grants=frozenset(user.grants),
            admin=any(role == "administrator" for role, _ in user.grants),
        )


def _check_role(role: str, organisation: str | None) -> None:
    if role not in ROLES:
        raise ValidationError(f"Unknown role {role!r}; use one of {', '.join(ROLES)}.")
    if ROLES[role].scoped and organisation is None:
        raise ValidationError(f"The role {role!r} is held for one organisation; name it.")


def _organisation(row: Organisation) -> OrganisationInfo:
    return OrganisationInfo(row.id, row.name, row.kind, row.local_council, row.active)


def _user(row: User, grants: tuple[tuple[str, str | None], ...]) -> UserInfo:
    return UserInfo(
        row.id, row.name, row.email, row.organisation_id, row.language, row.active, grants
    )


class BootstrapDirectory:
    """The register, except that while it holds no users at all every named user acts as an
    administrator: the first `kedja deploy` or `kedja demo` on an empty database needs
    someone to act as. Once one user exists, only registered users act."""

    def __init__(self, register: Register) -> None:
        self.register = register
        self._has_users: bool | None = None

    def actor(self, user_id: str) -> Actor:
        if not self._has_users:
            with self.register.db.read() as session:
                self._has_users = session.scalar(select(User.id).limit(1)) is not None
            if not self._has_users:
                return Actor(id=user_id, admin=True)
        return self.register.actor(user_id)
