"""Sign-in, the protections every request gets, languages, and the status page.

Runs the real application (Flask's test client) on the small demo city, with CSRF
protection, the rate limiter and the sign-in throttle switched on as in production.
`sign_in` here is the helper the other web UI tests use: it signs in the way a browser
does, with the form's CSRF token.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlparse

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir, extract_from_file
from babel.messages.pofile import read_po
from flask import Flask
from flask.testing import FlaskClient

from processes.demo import DEMO_PASSWORD
from webui.app import create_app

WEBUI = Path(__file__).resolve().parents[1] / "webui"
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
WRONG = "Fel användarnamn eller lösenord. Försök igen."


def make_app(city: Any, **config: Any) -> Flask:
    """The web UI as deployed: CSRF and the rate limiter on (neither is off in TESTING)."""
    return create_app(city.engine, {"SECRET_KEY": "tests", **config})


def csrf_token(client: FlaskClient) -> str:
    """A CSRF token for this client's session, from a page anyone may open."""
    page = client.get("/tillganglighet").get_data(as_text=True)
    match = TOKEN.search(page)
    assert match, "every page carries the language form with a CSRF token"
    return match.group(1)


def sign_in(
    client: FlaskClient, user: str, password: str = DEMO_PASSWORD, next_url: str | None = None
) -> Any:
    url = "/logga-in" + (f"?next={quote(next_url, safe='')}" if next_url else "")
    return client.post(
        url, data={"username": user, "password": password, "csrf_token": csrf_token(client)}
    )


def post(client: FlaskClient, url: str, data: dict[str, str] | None = None) -> Any:
    """A POST as the page's form makes it, CSRF token included."""
    return client.post(url, data={**(data or {}), "csrf_token": csrf_token(client)})


@pytest.fixture
def app(city: Any) -> Flask:
    return make_app(city)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


# -- signing in ---------------------------------------------------------------------------------


def test_the_front_page_sends_a_visitor_to_sign_in(client: FlaskClient) -> None:
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/logga-in")
    for protected in ("/beslut/", "/beslut/register", "/arenden/", "/admin/status"):
        answer = client.get(protected)
        assert answer.status_code == 302, protected
        assert "/logga-in" in answer.headers["Location"]


def test_sign_in_and_out(client: FlaskClient) -> None:
    page = client.get("/logga-in")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert '<label for="username">Användarnamn</label>' in html
    assert 'autocomplete="current-password"' in html

    response = sign_in(client, "radet1")
    assert response.status_code == 302
    assert "Rune Rådsledamot" in client.get("/beslut/").get_data(as_text=True)

    assert post(client, "/logga-ut").status_code == 302
    assert client.get("/beslut/").status_code == 302  # signed out: back to sign-in


def test_a_failed_sign_in_does_not_say_whether_the_user_exists(client: FlaskClient) -> None:
    known = sign_in(client, "radet1", "fel-losenord")
    unknown = sign_in(client, "finns.inte", "fel-losenord")
    assert known.status_code == unknown.status_code == 401
    known_html, unknown_html = known.get_data(as_text=True), unknown.get_data(as_text=True)
    assert WRONG in known_html and WRONG in unknown_html
    # The same page apart from the typed user name (kept, so it need not be typed again)
    # and the CSRF token.
    strip = re.compile(r'value="[^"]*"')
    assert strip.sub("", known_html) == strip.sub("", unknown_html)
    assert 'aria-invalid="true" aria-describedby="fel"' in known_html


def test_an_inactive_or_passwordless_account_cannot_sign_in(city: Any, client: FlaskClient) -> None:
    city.register.add_user("utan.losenord", "Utan Lösenord", organisation="farsta")
    assert sign_in(client, "utan.losenord", "").status_code == 401


def test_a_post_without_a_csrf_token_is_refused(client: FlaskClient) -> None:
    refused = client.post("/logga-in", data={"username": "radet1", "password": DEMO_PASSWORD})
    assert refused.status_code == 400
    assert client.get("/beslut/").status_code == 302  # not signed in
    assert client.post("/sprak", data={"language": "en"}).status_code == 400

    assert sign_in(client, "radet1").status_code == 302
    assert client.post("/logga-ut").status_code == 400  # a forged sign-out does nothing
    assert client.get("/beslut/").status_code == 200


def test_sign_in_is_throttled(client: FlaskClient) -> None:
    """Five wrong passwords for a user name within 15 minutes; the sixth attempt is refused
    before its password is checked, so even the right one does not get through. Counted in
    the database, so every web process sees the same count (tests/test_sign_in_throttle.py)."""
    for _ in range(5):
        assert sign_in(client, "radet1", "gissning").status_code == 401
    refused = sign_in(client, "radet1")
    assert refused.status_code == 429
    html = refused.get_data(as_text=True)
    assert "För många inloggningsförsök. Försök igen klockan 08:15." in html
    assert WRONG not in html and 'aria-invalid="true" aria-describedby="fel"' in html
    assert client.get("/beslut/").status_code == 302  # not signed in


def test_no_redirect_to_another_site_after_sign_in(client: FlaskClient) -> None:
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:x"):
        response = sign_in(client, "radet1", next_url=target)
        assert response.status_code == 302
        location = response.headers["Location"]
        assert _stays_here(location), (target, location)
        post(client, "/logga-ut")
    response = sign_in(client, "radet1", next_url="/beslut/register?q=RHR")
    assert response.headers["Location"] == "/beslut/register?q=RHR"
    switched = post(client, "/sprak", {"language": "sv", "next": "//evil.example/"})
    assert _stays_here(switched.headers["Location"])


def _stays_here(location: str) -> bool:
    """A path on this site: no scheme, no host, and nothing a browser reads as one
    (`//host`, `/\\host`; an encoded backslash, `/%5C…`, is a plain path)."""
    parsed = urlparse(location)
    return (
        not parsed.scheme
        and not parsed.netloc
        and location.startswith("/")
        and not location.startswith(("//", "/\\"))
    )


# -- what every response carries --------------------------------------------------------------


def test_security_headers_and_cookie(client: FlaskClient) -> None:
    page = client.get("/logga-in")
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Referrer-Policy"] == "same-origin"
    assert page.headers["Cache-Control"] == "no-store"


def test_the_session_cookie_is_http_only_and_same_site(client: FlaskClient) -> None:
    cookie = sign_in(client, "radet1").headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # the embedded default serves plain HTTP on loopback


def test_secure_cookies_behind_tls(city: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEDJA_SECURE_COOKIES", "1")
    app = create_app(city.engine, {"SECRET_KEY": "t", "WTF_CSRF_ENABLED": False})
    cookie = sign_in(app.test_client(), "radet1").headers.get("Set-Cookie", "")
    assert "Secure" in cookie and "HttpOnly" in cookie


def test_pages_have_no_inline_scripts_or_styles(city: Any, client: FlaskClient) -> None:
    """The CSP forbids them; this catches a template that would break under it."""
    instance = city.start("guideline_revision")
    pages = ["/logga-in", "/tillganglighet", "/nominera"]
    sign_in(client, "admin")
    pages += ["/beslut/", "/beslut/register", "/arenden/", f"/arenden/{instance}", "/admin/status"]
    for url in pages:
        html = client.get(url).get_data(as_text=True)
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), url
        assert not re.search(r"\sstyle=", html), url
        assert not re.search(r"\son[a-z]+=", html), url


# -- languages ----------------------------------------------------------------------------------


def test_a_visitor_switches_to_english_and_back(client: FlaskClient) -> None:
    swedish = client.get("/logga-in").get_data(as_text=True)
    assert '<html lang="sv">' in swedish and "Logga in" in swedish
    response = post(client, "/sprak", {"language": "en", "next": "/logga-in"})
    assert response.headers["Location"] == "/logga-in"
    english = client.get("/logga-in").get_data(as_text=True)
    assert '<html lang="en">' in english
    assert "<h1>Sign in</h1>" in english and "Skip to content" in english
    assert 'lang="sv" class="link">På svenska</button>' in english
    post(client, "/sprak", {"language": "sv"})
    assert "<h1>Logga in</h1>" in client.get("/logga-in").get_data(as_text=True)


def test_the_browser_language_is_used_until_someone_chooses(client: FlaskClient) -> None:
    page = client.get("/logga-in", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert '<html lang="en">' in page.get_data(as_text=True)


def test_a_signed_in_users_choice_is_kept_on_their_profile(city: Any, app: Flask) -> None:
    client = app.test_client()
    sign_in(client, "radet1")
    post(client, "/sprak", {"language": "en"})
    assert city.register.user("radet1").language == "en"
    page = client.get("/beslut/").get_data(as_text=True)
    assert "Decisions" in page and "Sign out" in page

    # A new session (another computer) starts in English, whatever the browser says.
    other = app.test_client()
    sign_in(other, "radet1")
    page = other.get("/beslut/register", headers={"Accept-Language": "sv"})
    assert "Decisions register" in page.get_data(as_text=True)


# -- the status page ----------------------------------------------------------------------------


@pytest.mark.parametrize("user", ["admin", "revisor", "processagare"])
def test_status_is_for_administrators_auditors_and_process_owners(
    city: Any, client: FlaskClient, user: str
) -> None:
    city.start("guideline_revision")
    sign_in(client, user)
    page = client.get("/admin/status")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "<strong>1</strong> pågående ärenden" in html
    assert "<code>guideline_revision</code>" in html
    assert 'href="/admin/status" aria-current="page"' in html


@pytest.mark.parametrize("user", ["ansvarig.farsta", "radet1", "samordnare", "chef.bromma"])
def test_status_is_refused_to_everyone_else(client: FlaskClient, user: str) -> None:
    sign_in(client, user)
    assert client.get("/admin/status").status_code == 403
    assert 'href="/admin/status"' not in client.get("/beslut/").get_data(as_text=True)


def test_status_in_english(city: Any, client: FlaskClient) -> None:
    city.register.set_language("admin", "en")
    sign_in(client, "admin")
    html = client.get("/admin/status").get_data(as_text=True)
    assert "running cases" in html and "Latest version of each process" in html


def test_health_endpoints(client: FlaskClient) -> None:
    assert client.get("/health/live").json == {"status": "ok"}
    ready = client.get("/health/ready")
    assert ready.status_code == 200 and ready.json["status"] == "ok"
    assert client.get("/static/kedja.css").status_code == 200


def test_node_modules_is_served_only_for_the_viewer(client: FlaskClient) -> None:
    script = client.get("/vendor/bpmn-js/dist/bpmn-navigated-viewer.production.min.js")
    assert script.status_code == 200
    assert client.get("/vendor/bpmn-js/package.json").status_code == 404
    assert client.get("/vendor/axe-core/axe.min.js").status_code == 404


# -- the English catalogues ----------------------------------------------------------------------

KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None}
METHODS = [("**/templates/**.html", "jinja2"), ("**.py", "python")]
JINJA = {"extensions": "jinja2.ext.i18n", "newstyle_gettext": "true"}
AREAS = (
    "auth",
    "public",
    "admin",
    "decisions",
    "instances",
    "tasks",
    "overview",
    "account",
    "modeller",
)


def _message_key(message: Any, context: str | None) -> tuple[str | None, str]:
    return context, message if isinstance(message, str) else message[0]


def _catalogue(path: Path) -> dict[tuple[str | None, str], Any]:
    with path.open("rb") as source:
        catalogue = read_po(source)
    return {_message_key(m.id, m.context): m.string for m in catalogue if m.id and m.string}


@pytest.mark.parametrize("area", AREAS)
def test_every_message_of_an_area_has_an_english_translation(area: str) -> None:
    folder = WEBUI / area
    english = _catalogue(folder / "translations/en/LC_MESSAGES/messages.po")
    used = {
        _message_key(message, context)
        for _file, _line, message, _comments, context in extract_from_dir(
            folder, METHODS, {"**/templates/**.html": JINJA}, keywords=KEYWORDS
        )
    }
    assert sorted(used - english.keys(), key=str) == []


def test_the_page_frame_is_translated() -> None:
    english = _catalogue(WEBUI / "translations/en/LC_MESSAGES/messages.po")
    used = set()
    for path, method in ((WEBUI / "templates/base.html", "jinja2"), (WEBUI / "app.py", "python")):
        for _line, message, _comments, context in extract_from_file(
            method, str(path), keywords=KEYWORDS, options=JINJA
        ):
            used.add(_message_key(message, context))
    assert sorted(used - english.keys(), key=str) == []


def test_catalogues_agree_on_shared_messages() -> None:
    """Flask-Babel merges every catalogue into one: a message id translated differently in
    two areas would take whichever catalogue loads last, on every page."""
    seen: dict[tuple[str | None, str], tuple[Any, Path]] = {}
    for path in sorted(WEBUI.glob("**/translations/en/LC_MESSAGES/messages.po")):
        for key, string in _catalogue(path).items():
            if key in seen:
                assert seen[key][0] == string, (key, seen[key][1], path)
            seen[key] = (string, path)
