"""Public pages: the prize nomination form (no sign-in) and the accessibility statement.

A nomination is validated field by field with Swedish messages and nothing typed lost; the
nominator's personal data is stored apart from the process and only prize administrators and
the jury may read it, every reading logged; one source sending many is slowed down."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from engine.errors import NotPermitted
from processes import nominations
from processes.models import Nomination, PersonalDataAccess
from webui.app import create_app

OPEN_PRIZE = {
    "tema": "Trygga mötesplatser",
    "jury": ["jury1", "jury2", "jury3", "juryordf"],
    "prissumma": 50000,
    "bekraftas_av": "council",
    "gallringsdagar": 90,
}
GOOD = {
    "nominee": "Nattvandrarna i Farsta",
    "nominee_organisation": "Farsta nattvandrare",
    "description": "De gör kvällarna tryggare för unga i centrum.",
    "nominator_name": "Nina Nominerare",
    "nominator_email": "nina@exempel.se",
    "nominator_phone": "",
    "consent": "ja",
}


@pytest.fixture
def open_window(city):
    """This year's prize, open for nominations (1 March)."""
    city.start("safety_prize")
    city.complete("prisadmin", city.task("prisadmin", "open_prize"), OPEN_PRIZE)
    city.advance_to("2026-03-02T09:00:00")
    return city


@pytest.fixture
def client(city):
    app = create_app(city.engine, {"SECRET_KEY": "t", "WTF_CSRF_ENABLED": False})
    return app.test_client()


def test_the_form_needs_no_sign_in_and_explains_the_personal_data(client):
    page = client.get("/nominera")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Så behandlar vi dina personuppgifter" in html
    assert 'autocomplete="email"' in html


def test_a_nomination_reaches_the_prize_without_the_nominators_data(open_window, client):
    page = client.post("/nominera", data=GOOD)
    assert page.status_code == 200 and "Tack för din nominering" in page.get_data(as_text=True)
    with open_window.engine.db.read() as session:
        row = session.scalars(select(Nomination)).one()
    assert row.nominator_email == "nina@exempel.se" and row.instance_id is not None
    state = open_window.engine.runtime.workflow(row.instance_id)
    assert "nina@exempel.se" not in repr(state.data) + repr([t.data for t in state.get_tasks()])
    events = open_window.history(row.instance_id)
    assert "nina@exempel.se" not in repr(events) and "Nina" not in repr(events)


def test_errors_are_shown_by_their_fields_and_nothing_typed_is_lost(open_window, client):
    bad = {**GOOD, "nominee": "", "nominator_email": "inte-en-adress", "consent": ""}
    page = client.post("/nominera", data=bad)
    assert page.status_code == 400
    html = page.get_data(as_text=True)
    for field in ("nominee", "nominator_email", "consent"):
        assert f'aria-describedby="{field}-fel"' in html
        assert f'href="#{field}"' in html
    assert "De gör kvällarna tryggare för unga i centrum." in html
    assert 'value="inte-en-adress"' in html
    with open_window.engine.db.read() as session:
        assert session.scalars(select(Nomination)).all() == []


def test_outside_the_window_the_nomination_is_refused_and_not_kept(city, client):
    city.start("safety_prize")  # opened by nobody yet: no window
    page = client.post("/nominera", data=GOOD)
    assert page.status_code == 409
    assert "inte öppen" in page.get_data(as_text=True)
    with city.engine.db.read() as session:
        assert session.scalars(select(Nomination)).all() == []


def test_one_source_sending_many_is_slowed_down(open_window):
    for i in range(nominations.PER_SOURCE_PER_HOUR):
        nominations.submit(
            open_window.engine, 2026, {**GOOD, "nominee": f"Förening {i}"}, "203.0.113.9"
        )
    with pytest.raises(NotPermitted):
        nominations.submit(open_window.engine, 2026, GOOD, "203.0.113.9")
    nominations.submit(open_window.engine, 2026, GOOD, "198.51.100.7")  # another source
    with open_window.engine.db.read() as session:
        keys = {row.source_key for row in session.scalars(select(Nomination))}
    assert all(re.fullmatch(r"[0-9a-f]{32}", k) for k in keys)  # no IP address stored


def test_only_prize_administrators_and_the_jury_read_nominators_and_it_is_logged(open_window):
    sent = nominations.submit(open_window.engine, 2026, GOOD)
    register = open_window.register
    with pytest.raises(NotPermitted):
        nominations.nominator(
            open_window.engine, sent.nomination_id, register.actor("ansvarig.farsta"), "nyfiken"
        )
    data = nominations.nominator(
        open_window.engine, sent.nomination_id, register.actor("prisadmin"), "kontakt"
    )
    assert data["email"] == "nina@exempel.se"
    with open_window.engine.db.read() as session:
        log = session.scalars(select(PersonalDataAccess)).all()
    assert [(r.user_id, r.purpose) for r in log] == [("prisadmin", "kontakt")]


def test_accessibility_statement_is_public(client):
    page = client.get("/tillganglighet")
    assert page.status_code == 200
    assert "WCAG 2.1" in page.get_data(as_text=True)
