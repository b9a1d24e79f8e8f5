"""The sign-in throttle holds across web processes: it is counted in the database.

Each test runs on SQLite and on PostgreSQL. Two Flask apps, each with its own engine on the
same database, stand for two gunicorn processes (or two hosts); the City's simulated clock
moves the window, nothing sleeps.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from engine.errors import ValidationError
from processes.demo import DEMO_PASSWORD
from processes.governance import open_engine
from processes.models import SignInAttempt
from processes.sign_in_attempts import Limits, SignInThrottle
from tests.test_webui_auth import make_app, post, sign_in
from webui.app import create_app

REFUSED = "För många inloggningsförsök. Försök igen klockan"
WRONG = "Fel användarnamn eller lösenord. Försök igen."


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def city_any(request: pytest.FixtureRequest) -> Any:
    return request.getfixturevalue("city" if request.param == "sqlite" else "city_pg")


@pytest.fixture
def second_engine(city_any: Any) -> Iterator[Any]:
    """Another process's engine: its own connections to the same database, the same clock."""
    other = open_engine(city_any.engine.db.url, city_any.clock)
    yield other
    other.close()


@pytest.fixture
def two_apps(city_any: Any, second_engine: Any) -> tuple[Flask, Flask]:
    return make_app(city_any), app_on(second_engine)


def app_on(engine: Any) -> Flask:
    """A web process of its own: another app, another engine, the same secret key."""
    return create_app(engine, {"SECRET_KEY": "tests"})


def client(app: Flask, address: str = "203.0.113.7") -> FlaskClient:
    test_client = app.test_client()
    test_client.environ_base["REMOTE_ADDR"] = address
    return test_client


def attempt(test_client: FlaskClient, user: str, password: str = "gissning") -> Any:
    return sign_in(test_client, user, password)


def stored_rows(engine: Any) -> list[tuple[Any, ...]]:
    with engine.db.read() as session:
        return [
            (row.id, row.at, row.user_key, row.address_key)
            for row in session.scalars(select(SignInAttempt))
        ]


def test_two_processes_share_the_count_and_the_sixth_is_refused(two_apps: Any) -> None:
    first, second = (client(app) for app in two_apps)
    for n in range(5):
        assert attempt(first if n % 2 == 0 else second, "radet1").status_code == 401
    refused = attempt(second, "radet1", DEMO_PASSWORD)  # the right password, too late
    assert refused.status_code == 429
    assert f"{REFUSED} 08:15." in refused.get_data(as_text=True)
    assert refused.headers["Retry-After"] == "900"
    assert attempt(first, "radet1", DEMO_PASSWORD).status_code == 429
    assert second.get("/beslut/").status_code == 302  # not signed in


def test_the_window_slides_on_the_simulated_clock(city_any: Any, two_apps: Any) -> None:
    first, second = (client(app) for app in two_apps)
    for _ in range(5):  # 08:00, 08:01, … 08:04
        assert attempt(first, "radet1").status_code == 401
        city_any.clock.advance(timedelta(minutes=1))
    city_any.clock.advance(timedelta(minutes=9))  # 08:14
    refused = attempt(second, "radet1", DEMO_PASSWORD)
    assert refused.status_code == 429 and f"{REFUSED} 08:15." in refused.get_data(as_text=True)
    city_any.clock.advance(timedelta(minutes=1))  # 08:15: the 08:00 failure has left
    assert attempt(second, "radet1").status_code == 401  # one more try, and it failed
    refused = attempt(first, "radet1", DEMO_PASSWORD)
    assert refused.status_code == 429 and f"{REFUSED} 08:16." in refused.get_data(as_text=True)
    city_any.clock.advance(timedelta(minutes=1))
    assert attempt(first, "radet1", DEMO_PASSWORD).status_code == 302


def test_refusals_do_not_stretch_the_wait(city_any: Any, two_apps: Any) -> None:
    first, _second = (client(app) for app in two_apps)
    for _ in range(5):
        attempt(first, "radet1")
    for _ in range(20):
        city_any.clock.advance(timedelta(seconds=30))
        assert attempt(first, "radet1").status_code == 429
    city_any.clock.advance(timedelta(seconds=300))  # 08:15
    assert attempt(first, "radet1", DEMO_PASSWORD).status_code == 302


def test_a_successful_sign_in_clears_the_user_names_failures(two_apps: Any) -> None:
    first, second = (client(app) for app in two_apps)
    for _ in range(4):
        assert attempt(first, "radet1").status_code == 401
    assert attempt(second, "radet1", DEMO_PASSWORD).status_code == 302
    fresh = client(two_apps[0])
    for _ in range(5):
        assert attempt(fresh, "radet1").status_code == 401
    assert attempt(fresh, "radet1", DEMO_PASSWORD).status_code == 429


def test_the_address_limit_counts_across_user_names(
    city_any: Any, second_engine: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KEDJA_SIGN_IN_MAX_PER_ADDRESS", "3")
    first = client(make_app(city_any))
    second = client(app_on(second_engine))
    for user, where in (("finns.inte", first), ("radet1", second), ("admin", first)):
        assert attempt(where, user).status_code == 401
    refused = attempt(second, "ansvarig.farsta", DEMO_PASSWORD)  # a fourth name, no failures
    assert refused.status_code == 429 and REFUSED in refused.get_data(as_text=True)
    elsewhere = client(make_app(city_any), address="198.51.100.20")
    assert attempt(elsewhere, "ansvarig.farsta", DEMO_PASSWORD).status_code == 302


def test_a_refusal_is_the_same_whether_or_not_the_user_exists(two_apps: Any) -> None:
    first, second = client(two_apps[0]), client(two_apps[1], "198.51.100.20")
    for _ in range(5):
        attempt(first, "radet1")
        attempt(second, "finns.inte")
    known, unknown = attempt(first, "radet1"), attempt(second, "finns.inte")
    assert known.status_code == unknown.status_code == 429
    assert known.headers["Retry-After"] == unknown.headers["Retry-After"]
    strip = re.compile(r'value="[^"]*"')
    known_html, unknown_html = known.get_data(as_text=True), unknown.get_data(as_text=True)
    assert REFUSED in known_html and WRONG not in known_html
    assert strip.sub("", known_html) == strip.sub("", unknown_html)


def test_the_refusal_in_english(two_apps: Any) -> None:
    first = client(two_apps[0])
    for _ in range(5):
        attempt(first, "radet1")
    post(first, "/sprak", {"language": "en"})
    html = attempt(first, "radet1").get_data(as_text=True)
    assert "Too many sign-in attempts. Please try again at 08:15." in html


def test_no_user_name_or_address_is_stored(city_any: Any, two_apps: Any) -> None:
    attempt(client(two_apps[0]), "radet1")
    attempt(client(two_apps[1], "2001:db8:5:6::1"), "Finns.Inte")
    rows = stored_rows(city_any.engine)
    assert len(rows) == 2
    text = repr(rows).casefold()
    for plain in ("radet1", "finns.inte", "203.0.113.7", "2001:db8", "2001:0db8"):
        assert plain not in text
    # The keys are HMACs with the app's secret key, not plain hashes anyone could recompute.
    throttle = SignInThrottle(city_any.engine, "tests")
    assert {r[2] for r in rows} == {throttle.user_key("radet1"), throttle.user_key("finns.inte")}
    assert SignInThrottle(city_any.engine, "another key").user_key("radet1") not in text


def test_old_attempts_are_pruned_as_new_ones_come(city_any: Any, two_apps: Any) -> None:
    first = client(two_apps[0])
    for n in range(12):
        attempt(first, f"namn{n}")
    assert len(stored_rows(city_any.engine)) == 12
    city_any.clock.advance(timedelta(minutes=15))
    attempt(first, "radet1")
    assert len(stored_rows(city_any.engine)) == 1


def test_an_ipv6_client_is_counted_by_its_64_network(city_any: Any) -> None:
    throttle = SignInThrottle(city_any.engine, "tests")
    assert throttle.address_key("2001:db8:1:2::1") == throttle.address_key("2001:db8:1:2:ffff::9")
    assert throttle.address_key("2001:db8:1:2::1") != throttle.address_key("2001:db8:1:3::1")
    assert throttle.address_key("::ffff:203.0.113.7") == throttle.address_key("203.0.113.7")
    assert throttle.user_key(" Radet1 ") == throttle.user_key("radet1")


def test_processes_trying_at_once_never_let_more_through_than_the_limit(
    city_any: Any, second_engine: Any
) -> None:
    """Sixteen attempts at once from two processes' engines: however they interleave, at
    most five check a password, and every one that did is still counted."""
    throttles = [SignInThrottle(engine, "tests") for engine in (city_any.engine, second_engine)]
    start = threading.Barrier(16)
    admitted: list[bool] = []
    lock = threading.Lock()

    def one(n: int) -> None:
        start.wait()
        answer = throttles[n % 2].admit("radet1", f"203.0.113.{n}")
        with lock:
            admitted.append(not answer.refused)

    threads = [threading.Thread(target=one, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    through = sum(admitted)
    assert len(admitted) == 16 and through <= 5
    assert len(stored_rows(city_any.engine)) == through  # each wrong password still counts
    more = 0
    while not throttles[more % 2].admit("radet1", "203.0.113.99").refused:
        more += 1
    assert through + more == 5


def test_limits_come_from_the_environment() -> None:
    assert Limits.from_env({}) == Limits(5, 30, timedelta(minutes=15))
    configured = Limits.from_env(
        {
            "KEDJA_SIGN_IN_MAX_PER_USER": "10",
            "KEDJA_SIGN_IN_MAX_PER_ADDRESS": "0",
            "KEDJA_SIGN_IN_WINDOW_MINUTES": "60",
        }
    )
    assert configured == Limits(10, 0, timedelta(hours=1))
    for variable, value in (
        ("KEDJA_SIGN_IN_MAX_PER_USER", "fem"),
        ("KEDJA_SIGN_IN_MAX_PER_ADDRESS", "-1"),
        ("KEDJA_SIGN_IN_WINDOW_MINUTES", "0"),
    ):
        with pytest.raises(ValidationError, match=variable):
            Limits.from_env({variable: value})


def test_a_bad_limit_stops_the_app_at_start(city: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEDJA_SIGN_IN_MAX_PER_USER", "5 per minute")
    with pytest.raises(ValidationError, match="KEDJA_SIGN_IN_MAX_PER_USER"):
        make_app(city)


def test_a_limit_of_zero_is_off(city: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEDJA_SIGN_IN_MAX_PER_ADDRESS", "0")
    first = client(make_app(city))
    for n in range(35):
        assert attempt(first, f"namn{n}").status_code == 401


def test_behind_a_trusted_proxy_clients_are_counted_by_their_own_address(
    city: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KEDJA_SIGN_IN_MAX_PER_ADDRESS", "2")
    proxy = "127.0.0.1"

    def through_proxy(app: Flask, address: str) -> FlaskClient:
        test_client = client(app, proxy)
        test_client.environ_base["HTTP_X_FORWARDED_FOR"] = address
        return test_client

    plain = make_app(city)  # the proxy's address is all it sees: everyone shares it
    attempt(through_proxy(plain, "203.0.113.1"), "namn1")
    attempt(through_proxy(plain, "203.0.113.2"), "namn2")
    assert attempt(through_proxy(plain, "203.0.113.3"), "namn3").status_code == 429

    monkeypatch.setenv("KEDJA_TRUSTED_PROXIES", "1")
    city.clock.advance(timedelta(minutes=15))
    trusting = make_app(city)
    for _ in range(2):
        assert attempt(through_proxy(trusting, "203.0.113.1"), "namn1").status_code == 401
    assert attempt(through_proxy(trusting, "203.0.113.1"), "namn4").status_code == 429
    assert attempt(through_proxy(trusting, "203.0.113.2"), "namn4").status_code == 401

    monkeypatch.setenv("KEDJA_TRUSTED_PROXIES", "ett")
    with pytest.raises(ValidationError, match="KEDJA_TRUSTED_PROXIES"):
        make_app(city)


def _locked_out(app: Flask) -> FlaskClient:
    locked = client(app)
    for _ in range(5):
        assert attempt(locked, "radet1").status_code == 401
    assert attempt(locked, "radet1", DEMO_PASSWORD).status_code == 429
    return locked


def test_an_administrator_lifts_a_lock_out_from_the_command_line(
    city_any: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Somebody typed five wrong passwords for radet1; `kedja sign-in clear` lets the real
    radet1 in at once, and only radet1's failures are forgotten."""
    from click.testing import CliRunner

    from webui.cli import main

    monkeypatch.setenv("KEDJA_SECRET_KEY", "the key every web process shares")
    app = create_app(city_any.engine)  # the key from the environment, as in production
    locked = _locked_out(app)
    other = client(app, address="198.51.100.20")
    assert attempt(other, "admin").status_code == 401

    result = CliRunner().invoke(
        main, ["sign-in", "clear", "RADET1", "--db", city_any.engine.db.url, "--json"]
    )
    assert result.exit_code == 0, result.output
    assert '"cleared": 5' in result.output  # case-folded like the throttle counts
    assert attempt(locked, "radet1", DEMO_PASSWORD).status_code == 302
    assert len(stored_rows(city_any.engine)) == 1  # admin's failure is still counted


def test_the_command_finds_the_embedded_defaults_key_beside_its_database(
    city: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from webui.cli import main

    monkeypatch.delenv("KEDJA_SECRET_KEY", raising=False)
    locked = _locked_out(create_app(city.engine))  # `make run`: the key kept in var/
    result = CliRunner().invoke(main, ["sign-in", "clear", "radet1", "--db", city.engine.db.url])
    assert result.exit_code == 0, result.output
    assert "Forgot 5 failed sign-in(s) for user name radet1" in result.output
    assert attempt(locked, "radet1", DEMO_PASSWORD).status_code == 302


def test_the_command_refuses_to_guess_a_shared_databases_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from click.testing import CliRunner

    from webui.cli import main

    monkeypatch.delenv("KEDJA_SECRET_KEY", raising=False)
    result = CliRunner().invoke(
        main, ["sign-in", "clear", "radet1", "--db", "postgresql://postgres@127.0.0.1/none"]
    )
    assert result.exit_code == 1 and "KEDJA_SECRET_KEY is not set" in result.output


def test_clearing_an_address_and_saying_nothing(city: Any) -> None:
    from click.testing import CliRunner

    from webui.cli import main

    throttle = SignInThrottle(city.engine, "k", Limits(per_user=0, per_address=2))
    for name in ("a", "b"):
        assert not throttle.admit(name, "2001:db8::1").refused
    assert throttle.admit("c", "2001:db8::2").refused  # the same /64; a refusal is not kept
    assert throttle.clear(address="2001:db8::ffff") == 2
    assert not throttle.admit("d", "2001:db8::2").refused
    with pytest.raises(ValidationError, match="user name or an address"):
        throttle.clear()
    result = CliRunner().invoke(main, ["sign-in", "clear", "--db", city.engine.db.url])
    assert result.exit_code == 2 and "Name a user, or give --address" in result.output
