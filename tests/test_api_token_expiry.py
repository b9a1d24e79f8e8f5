"""API tokens expire (processes/api_tokens.py, issue 14 item 11): 90 days unless configured,
refused with a 401 that says when and where to renew, shown and renewable on the account
page (only one's own), renewable with `kedja token renew`, and given an expiry by the
migration when they were made before it."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import select

from engine.clock import to_storage
from engine.errors import ValidationError
from processes import api_tokens
from processes.models import ApiToken
from tests.city import START, City
from tests.test_api import Api, assert_problem
from tests.test_webui_auth import make_app, post, sign_in
from webui.cli import main

DAY = timedelta(days=1)


@pytest.fixture
def app(city: City) -> Flask:
    return make_app(city)


def events(city: City, instance_id: int) -> list[Any]:
    with city.engine.db.read() as session:
        return city.engine.history.events(session, instance_id)


def row(city: City, token_id: int) -> dict[str, Any]:
    with city.engine.db.read() as session:
        found = session.get(ApiToken, token_id)
        return {c: getattr(found, c) for c in ("expires_at", "renewed_at", "revoked_at")}


def test_a_new_token_expires_after_90_days_or_as_configured(
    city: City, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KEDJA_API_TOKEN_DAYS", raising=False)
    now = city.clock.now()
    info, _token = api_tokens.create(city.engine, "samordnare", "ärenden")
    assert info.expires_at == now + 90 * DAY and info.renewed_at is None
    assert info.as_dict()["expires_at"] == (now + 90 * DAY).isoformat()
    assert api_tokens.create(city.engine, "samordnare", "kort", days=7)[0].expires_at == (
        now + 7 * DAY
    )
    monkeypatch.setenv("KEDJA_API_TOKEN_DAYS", "30")
    assert api_tokens.create(city.engine, "samordnare")[0].expires_at == now + 30 * DAY
    before = len(api_tokens.tokens(city.engine))
    for bad in ("0", "3651", "ninety", "-5"):
        monkeypatch.setenv("KEDJA_API_TOKEN_DAYS", bad)
        with pytest.raises(ValidationError, match="KEDJA_API_TOKEN_DAYS must be a whole number"):
            api_tokens.create(city.engine, "samordnare")
    assert len(api_tokens.tokens(city.engine)) == before  # nothing made


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def any_city(request: pytest.FixtureRequest) -> Any:
    return request.getfixturevalue("city" if request.param == "sqlite" else "city_pg")


def test_an_expired_token_is_refused_with_when_and_where_to_renew(any_city: City) -> None:
    city, app = any_city, make_app(any_city)
    city.start("plan_cycle", 2026)
    task = city.task("samordnare", "confirm_participants")
    info, token = api_tokens.create(city.engine, "samordnare", "ärenden", days=10)
    api = Api(app, token)
    assert api.get("/tasks").status_code == 200
    history = len(events(city, task.instance_id))

    city.clock.set(info.expires_at)  # the instant it expires, it no longer works
    body = assert_problem(api.post(f"/tasks/{task.id}/complete", json={"data": {}}), 401)
    assert body["detail"].startswith("The API token expired on 2026-01-11 08:00")
    assert "renew it on your account page" in body["detail"]
    assert f"kedja token renew {info.id}" in body["detail"]
    response = api.get("/tasks")
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    # Nothing happened: the task is still open, no history, the token not marked as used.
    assert city.task("samordnare", "confirm_participants").id == task.id
    assert len(events(city, task.instance_id)) == history
    used = api_tokens.tokens(city.engine, "samordnare")[0].last_used_at
    assert used is not None and used < info.expires_at

    api_tokens.revoke(city.engine, info.id)  # revoked as well: revoked is what it says
    assert (
        assert_problem(api.get("/tasks"), 401)["detail"] == "The API token is unknown or revoked."
    )


def test_the_account_page_lists_and_renews_ones_own_tokens(
    city: City, app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    info, token = api_tokens.create(city.engine, "ansvarig.farsta", "Ärendesystemet", days=10)
    api_tokens.create(city.engine, "samordnare", "Samordnarens skript", days=10)
    client = app.test_client()
    sign_in(client, "ansvarig.farsta")
    page = client.get("/konto").get_data(as_text=True)
    assert 'id="api-nycklar"' in page and "Ärendesystemet" in page
    assert "Samordnarens skript" not in page  # only one's own
    assert "2026-01-11 08:00" in page and "Fungerar" in page

    city.clock.set(info.expires_at + DAY)
    assert Api(app, token).get("/tasks").status_code == 401
    page = client.get("/konto").get_data(as_text=True)
    assert "Har gått ut" in page

    with caplog.at_level(logging.INFO, logger="kedja.api_tokens"):
        renewed = post(client, f"/konto/api-nycklar/{info.id}/fornya")
    assert renewed.status_code == 302 and renewed.location.endswith("#api-nycklar")
    now = city.clock.now()
    assert row(city, info.id)["expires_at"] == to_storage(now + 90 * DAY)
    assert row(city, info.id)["renewed_at"] == to_storage(now)
    assert any("renewed until" in r.getMessage() for r in caplog.records)
    page = client.get("/konto").get_data(as_text=True)
    assert (
        "API-nyckeln Ärendesystemet är förnyad och gäller till 2026-04-12 09:00." in page
    )  # summer time
    assert "förnyad 2026-01-12 08:00" in page
    assert Api(app, token).get("/tasks").status_code == 200  # works again


def test_another_users_or_a_revoked_token_is_not_renewed(city: City, app: Flask) -> None:
    mine, _ = api_tokens.create(city.engine, "ansvarig.farsta", "mitt", days=10)
    other, _ = api_tokens.create(city.engine, "samordnare", "någon annans", days=10)
    client = app.test_client()
    sign_in(client, "ansvarig.farsta")
    before = row(city, other.id)
    assert post(client, f"/konto/api-nycklar/{other.id}/fornya").status_code == 404
    assert post(client, f"/konto/api-nycklar/{other.id}/aterkalla").status_code == 404
    assert post(client, "/konto/api-nycklar/99999/fornya").status_code == 404
    assert row(city, other.id) == before

    assert post(client, f"/konto/api-nycklar/{mine.id}/aterkalla").status_code == 302
    revoked = row(city, mine.id)
    assert revoked["revoked_at"] is not None
    answer = post(client, f"/konto/api-nycklar/{mine.id}/fornya")
    assert answer.status_code == 302
    assert row(city, mine.id) == revoked  # still revoked, expiry unchanged
    page = client.get("/konto").get_data(as_text=True)
    assert "API-nyckeln är återkallad och kan inte förnyas." in page
    assert f'action="/konto/api-nycklar/{mine.id}/fornya"' not in page
    with pytest.raises(ValidationError, match="revoked and cannot be renewed"):
        api_tokens.renew(city.engine, mine.id)


def test_the_account_page_in_english(city: City, app: Flask) -> None:
    api_tokens.create(city.engine, "ansvarig.farsta", "Ärendesystemet")
    city.register.set_language("ansvarig.farsta", "en")
    client = app.test_client()
    sign_in(client, "ansvarig.farsta")
    page = client.get("/konto").get_data(as_text=True)
    assert "API tokens" in page and "Valid until" in page and ">Renew</button>" in page


def test_the_token_command_renews_and_lists_expiry(city: City, sqlite_url: str) -> None:
    runner = CliRunner()
    made = runner.invoke(
        main, ["token", "create", "--db", sqlite_url, "--as", "samordnare", "--days", "5"]
    )
    assert made.exit_code == 0, made.output
    token = made.stdout.strip().splitlines()[0]
    assert "expires" in made.stderr
    (listed,) = [
        t
        for t in json.loads(
            runner.invoke(main, ["token", "list", "--db", sqlite_url, "--json"]).stdout
        )
        if t["user"] == "samordnare"
    ]
    # The command line runs on the real clock: the expiry is 5 days after creation.
    created = datetime.fromisoformat(listed["created_at"])
    assert datetime.fromisoformat(listed["expires_at"]) - created == 5 * DAY

    renewed = runner.invoke(
        main, ["token", "renew", "--db", sqlite_url, str(listed["id"]), "--days", "20", "--json"]
    )
    assert renewed.exit_code == 0, renewed.output
    body = json.loads(renewed.stdout)
    assert (
        datetime.fromisoformat(body["expires_at"]) - datetime.fromisoformat(body["renewed_at"])
        == 20 * DAY
    )
    human = runner.invoke(main, ["token", "list", "--db", sqlite_url, "--user", "samordnare"])
    assert "active until" in human.output and token not in human.output

    bad = runner.invoke(
        main, ["token", "renew", "--db", sqlite_url, str(listed["id"]), "--days", "0"]
    )
    assert bad.exit_code == 3 and "from 1 to 3650" in bad.output
    assert runner.invoke(main, ["token", "renew", "--db", sqlite_url, "99999"]).exit_code == 1
    runner.invoke(main, ["token", "revoke", "--db", sqlite_url, str(listed["id"])])
    revoked = runner.invoke(main, ["token", "renew", "--db", sqlite_url, str(listed["id"])])
    assert revoked.exit_code == 3 and "revoked" in revoked.output


def test_tokens_made_before_the_migration_expire_90_days_after_they_were_made(db_url: str) -> None:
    import sqlalchemy as sa
    from alembic import command

    from engine.database import Database
    from processes import migrations as governance

    db = Database(db_url)
    db.upgrade()
    governance.upgrade(db.write_engine, "g006")
    made = to_storage(START)
    before = sa.table(  # the table as g006 left it
        "api_token",
        sa.column("user_id"),
        sa.column("name"),
        sa.column("token_hash"),
        sa.column("created_at", sa.DateTime()),
    )
    with db.write_engine.begin() as conn:
        conn.execute(
            sa.insert(before).values(
                user_id="samordnare", name="gammal", token_hash="0" * 64, created_at=made
            )
        )
    governance.upgrade(db.write_engine)
    table = ApiToken.__table__
    with db.write_engine.connect() as conn:
        expires, renewed = conn.execute(select(table.c.expires_at, table.c.renewed_at)).one()
    assert expires == made + 90 * DAY and renewed is None
    command.downgrade(governance._config(db.write_engine), "g006")
    governance.upgrade(db.write_engine)
    assert governance.current_revision(db.write_engine) == governance.head_revision()
    db.dispose()
