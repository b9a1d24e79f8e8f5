"""The account area (`/konto`): a signed-in user chooses how they hear of their work (a mail
per notification or a Monday digest) and their language; the calendar address is tested in
tests/test_calendar_feed.py. The real application, CSRF on, on the small demo city."""

from __future__ import annotations

from flask.testing import FlaskClient

from processes import notification_preferences
from tests.city import City
from tests.test_webui_auth import (
    JINJA,
    KEYWORDS,
    METHODS,
    WEBUI,
    _catalogue,
    _message_key,
    make_app,
    post,
    sign_in,
)


def client_for(city: City, user: str) -> FlaskClient:
    client = make_app(city).test_client()
    sign_in(client, user)
    return client


def test_the_settings_need_a_signed_in_user(city: City) -> None:
    answer = make_app(city).test_client().get("/konto/")
    assert answer.status_code == 302 and "/logga-in" in answer.headers["Location"]


def test_a_user_chooses_the_weekly_digest_and_english(city: City) -> None:
    client = client_for(city, "ansvarig.farsta")
    page = client.get("/konto/").get_data(as_text=True)
    assert "<h1>Inställningar</h1>" in page
    assert 'id="mode-each" name="mode" value="each" checked' in page
    assert "ansvarig.farsta@demo.kedja.example" in page

    saved = post(client, "/konto/", {"mode": "digest", "language": "en"})
    assert saved.status_code == 302
    assert notification_preferences.preference(city.engine, "ansvarig.farsta") == "digest"
    assert city.register.user("ansvarig.farsta").language == "en"
    page = client.get("/konto/").get_data(as_text=True)
    assert "<h1>Settings</h1>" in page and "Your settings have been saved." in page
    assert 'id="mode-digest" name="mode" value="digest" checked' in page
    assert '<html lang="en">' in page

    post(client, "/konto/", {"mode": "each", "language": "sv"})
    assert notification_preferences.preference(city.engine, "ansvarig.farsta") == "each"
    assert "Dina inställningar är sparade." in client.get("/konto/").get_data(as_text=True)


def test_a_bad_choice_is_refused_with_an_error_summary(city: City) -> None:
    client = client_for(city, "ansvarig.farsta")
    answer = post(client, "/konto/", {"mode": "hourly", "language": "fi"})
    assert answer.status_code == 400
    page = answer.get_data(as_text=True)
    assert 'class="error-summary" role="alert"' in page
    assert '<a href="#mode-each">Välj hur du vill få dina aviseringar.</a>' in page
    assert '<a href="#language-sv">Välj språk.</a>' in page
    assert 'aria-describedby="mode-hjalp mode-fel"' in page
    assert notification_preferences.preference(city.engine, "ansvarig.farsta") == "each"
    # Without the form's CSRF token nothing changes.
    assert client.post("/konto/", data={"mode": "digest", "language": "sv"}).status_code == 400
    assert notification_preferences.preference(city.engine, "ansvarig.farsta") == "each"


def test_a_user_without_an_address_is_told_so(city: City) -> None:
    city.register.add_user("utan.epost", "Utan Epost", organisation="farsta", password="kedja-demo")
    page = client_for(city, "utan.epost").get("/konto/").get_data(as_text=True)
    assert "Du har ingen e-postadress i registret" in page


def test_every_message_of_the_account_area_has_an_english_translation() -> None:
    from babel.messages.extract import extract_from_dir

    folder = WEBUI / "account"
    english = _catalogue(folder / "translations/en/LC_MESSAGES/messages.po")
    used = {
        _message_key(message, context)
        for _file, _line, message, _comments, context in extract_from_dir(
            folder, METHODS, {"**/templates/**.html": JINJA}, keywords=KEYWORDS
        )
    }
    assert sorted(used - english.keys(), key=str) == []
