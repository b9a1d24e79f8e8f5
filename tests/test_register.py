"""The organisation register: who a user is to the engine, passwords, roles per organisation."""

from __future__ import annotations

import pytest

from engine.errors import NotFound, ValidationError


def test_a_responsible_person_acts_for_their_own_organisation_only(city):
    actor = city.register.actor("ansvarig.farsta")
    assert actor.holds("responsible", "farsta")
    assert not actor.holds("responsible", "bromma")
    assert not actor.admin
    coordinator = city.register.actor("samordnare")
    assert coordinator.holds("coordinator", "bromma")  # a city-wide role
    assert city.register.actor("admin").admin


def test_passwords_are_hashed_and_checked_without_saying_what_was_wrong(city):
    from processes.models import User

    with city.engine.db.read() as session:
        stored = session.get(User, "ansvarig.farsta").password_hash
    assert "kedja-demo" not in stored and stored.startswith(("scrypt:", "pbkdf2:"))
    assert city.register.authenticate("ansvarig.farsta", "kedja-demo") is not None
    assert city.register.authenticate("ansvarig.farsta", "fel") is None
    assert city.register.authenticate("finns.inte", "kedja-demo") is None


def test_roles_are_checked_when_granted(city):
    with pytest.raises(ValidationError, match="Unknown role"):
        city.register.grant("ansvarig.farsta", "kung", None)
    with pytest.raises(ValidationError, match="one organisation"):
        city.register.grant("ansvarig.farsta", "responsible", None)
    city.register.grant("ansvarig.farsta", "responsible", "bromma")
    assert city.register.actor("ansvarig.farsta").holds("responsible", "bromma")
    with pytest.raises(NotFound):
        city.register.actor("finns.inte")


def test_users_with_role_include_city_wide_holders(city):
    assert city.register.users_with_role("responsible", "farsta") == ["ansvarig.farsta"]
    assert "samordnare" in city.register.users_with_role("coordinator", "farsta")
    assert len(city.register.users_with_role("responsible")) == 6


def test_the_cli_acts_only_as_registered_users_once_there_are_any(city, sqlite_url):
    from click.testing import CliRunner

    from webui import cli

    result = CliRunner().invoke(
        cli.main, ["start", "plan_cycle", "--db", sqlite_url, "--as", "inkräktare"]
    )
    assert result.exit_code == 1 and "inkräktare" in result.output
