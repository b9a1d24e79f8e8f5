"""Bad input in requests is refused with a 4xx and a clear message, never a 500 (issue 14,
item 4, the web and API parts): JSON bodies nested thousands of levels deep (json.loads
and jsonschema recursed until RecursionError), and numbers in addresses too large for SQL
(`?sida=99999999999999999999` reached OFFSET and overflowed it).

Through the real application on the small demo city (Flask's test client, CSRF on) and the
real CLI (click's CliRunner); each refusal also checks that nothing was stored.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_file
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import func, select

from engine.models import HistoryEvent, HumanTask, MessageOutbox, ProcessInstance
from processes import api_tokens
from tests.test_webui_auth import make_app
from tests.test_webui_decisions import client_for
from tests.test_webui_instances import lagesbild, plan_cycle_at_lagesbild
from webui import json_limits
from webui.cli import main

HUGE = "99999999999999999999"
DEEP = 5000
PROBLEM = "application/problem+json"
WEBUI = Path(__file__).resolve().parents[1] / "webui"


def nested(depth: int) -> str:
    """JSON text: `depth` arrays inside each other."""
    return "[" * depth + "]" * depth


def snapshot(city: Any) -> tuple[int, int, int, int]:
    """What a refused request must leave as it was: instances, history events, open tasks,
    queued messages."""
    with city.engine.db.read() as session:
        return (
            session.scalar(select(func.count()).select_from(ProcessInstance)) or 0,
            session.scalar(select(func.count()).select_from(HistoryEvent)) or 0,
            session.scalar(
                select(func.count()).select_from(HumanTask).where(HumanTask.state == "open")
            )
            or 0,
            session.scalar(select(func.count()).select_from(MessageOutbox)) or 0,
        )


@pytest.fixture
def app(city: Any) -> Flask:
    return make_app(city)


@pytest.fixture
def plan(city: Any) -> int:
    return plan_cycle_at_lagesbild(city)


def bearer(city: Any, user: str) -> dict[str, str]:
    _info, token = api_tokens.create(city.engine, user, "tests")
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


# -- JSON nested too deeply -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("user", "path", "body"),
    [
        ("ansvarig.farsta", "/tasks/{task}/complete", '{"data": {"analys": %s}}'),
        ("admin", "/instances", '{"key": "plan_cycle", "year": 2027, "data": {"x": %s}}'),
        ("admin", "/messages", '{"name": "m", "payload": {"x": %s}}'),
    ],
)
def test_an_api_body_nested_5000_levels_is_refused_with_400(
    city: Any, app: Flask, plan: int, user: str, path: str, body: str
) -> None:
    task = lagesbild(city, plan, "farsta")
    before = snapshot(city)
    response = app.test_client().post(
        "/api/v1" + path.format(task=task.id),
        data=body % nested(DEEP),
        headers=bearer(city, user),
    )
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    detail = response.get_json()["detail"]
    assert f"nested deeper than {json_limits.MAX_DEPTH} levels" in detail
    assert snapshot(city) == before
    assert city.engine.tasks.get(task.id).state == "open"


def test_a_body_within_the_limit_is_parsed_and_judged_on_its_content(
    city: Any, app: Flask, plan: int
) -> None:
    """The limit is on nesting only: the same request 63 levels deep gets as far as the
    engine, which answers for the message itself (nobody waits for it: 404)."""
    before = snapshot(city)
    body = f'{{"name": "m", "payload": {{"x": {nested(json_limits.MAX_DEPTH - 2)}}}}}'
    response = app.test_client().post("/api/v1/messages", data=body, headers=bearer(city, "admin"))
    assert response.status_code == 404, response.get_data(as_text=True)
    assert "No instance is waiting for message 'm'" in response.get_json()["detail"]
    too_deep = f'{{"name": "m", "payload": {{"x": {nested(json_limits.MAX_DEPTH - 1)}}}}}'
    refused = app.test_client().post(
        "/api/v1/messages", data=too_deep, headers=bearer(city, "admin")
    )
    assert refused.status_code == 400
    assert snapshot(city) == before


def test_a_deep_json_body_to_a_web_page_is_a_400_not_a_500(city: Any, app: Flask) -> None:
    """Every `request.get_json` of the web UI parses through the limited provider: the
    modeller's check of an edited diagram, sent 5,000 levels deep."""
    owner = client_for(app, "processagare")
    page = owner.get("/modeller/tertial_loop").get_data(as_text=True)
    token = page.split('data-csrf="', 1)[1].split('"', 1)[0]
    before = snapshot(city)
    response = owner.post(
        "/modeller/tertial_loop/validera",
        data=f'{{"xml": "x", "forms": {nested(DEEP)}}}',
        headers={"X-CSRFToken": token, "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert snapshot(city) == before


def test_the_cli_refuses_deep_data_as_a_usage_error(city: Any, plan: int, sqlite_url: str) -> None:
    task = lagesbild(city, plan, "farsta")
    before = snapshot(city)
    data = f'{{"analys": {nested(DEEP)}}}'
    args = ["complete", str(task.id), "--as", "ansvarig.farsta", "--db", sqlite_url]
    result = CliRunner().invoke(main, [*args, "--data", data])
    assert result.exit_code == 2, result.output
    assert f"nested deeper than {json_limits.MAX_DEPTH} levels" in result.output
    assert snapshot(city) == before


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        ("1", 0),
        ('"[[[["', 0),  # brackets inside a string do not nest
        ('{"a": "\\"[[", "b": [[1]]}', 3),  # an escaped quote does not end the string
        ('{"a": "\\\\", "b": [[1]]}', 3),  # an escaped backslash does not escape the quote
        ('["", "", [""]]', 2),
        ('[["unterminated [[[[', 2),
        (nested(DEEP), DEEP),
    ],
)
def test_the_depth_is_measured_outside_strings(text: str, depth: int) -> None:
    assert json_limits.depth(text) == depth
    assert json_limits.depth(text.encode("utf-16")) == depth  # bytes in any JSON encoding


def test_loads_refuses_too_deep_text_before_parsing_it() -> None:
    assert json_limits.loads(nested(json_limits.MAX_DEPTH)) == json.loads(
        nested(json_limits.MAX_DEPTH)
    )
    with pytest.raises(json_limits.TooDeep):
        json_limits.loads(nested(json_limits.MAX_DEPTH + 1))
    with pytest.raises(ValueError):  # what Flask's get_json treats as a malformed body
        json_limits.loads(nested(100_000))


# -- numbers in addresses -------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        f"/beslut/register?sida={HUGE}",
        f"/arenden?sida={HUGE}",
        f"/uppgifter?sida={HUGE}",
        "/uppgifter?sida=0",
        "/arenden?sida=tre",
        f"/admin/arenden?version={HUGE}",
        f"/admin/arenden?page={HUGE}",
        "/admin/arenden?version=x",
        "/admin/arenden?year=20266",
    ],
)
def test_a_number_out_of_range_in_the_query_is_a_400_that_says_which(
    city: Any, app: Flask, url: str
) -> None:
    before = snapshot(city)
    response = client_for(app, "admin").get(url)
    assert response.status_code == 400, (url, response.status_code)
    text = response.get_data(as_text=True)
    name, _, value = url.split("?", 1)[1].partition("=")
    assert f"Adressens {name}={value[:24]}" in text
    assert "det ska vara ett heltal från" in text
    assert snapshot(city) == before


def test_a_page_past_the_end_of_a_list_is_an_empty_page(city: Any, app: Flask) -> None:
    admin = client_for(app, "admin")
    for url in ("/beslut/register?sida=7", "/arenden?sida=7", "/uppgifter?sida=7"):
        assert admin.get(url).status_code == 200, url


def test_a_version_that_does_not_exist_is_a_404_naming_it(city: Any, app: Flask) -> None:
    owner = client_for(app, "processagare")
    for version in (HUGE, "9", "x"):
        response = owner.get(f"/modeller/plan_cycle?version={version}")
        assert response.status_code == 404, version
        text = response.get_data(as_text=True)
        assert f"Det finns ingen version {version} av plan_cycle." in text
    compare = owner.get(f"/modeller/plan_cycle/jamfor?fran={HUGE}")
    assert compare.status_code == 404
    assert owner.get("/modeller/plan_cycle?version=1").status_code == 200


@pytest.mark.parametrize(
    "url",
    [
        f"/arenden/{HUGE}",
        f"/arenden/{HUGE}/diagram.json",
        f"/uppgifter/{HUGE}",
        f"/uppgifter/bilagor/{HUGE}",
        f"/admin/arenden/{HUGE}",
        f"/beslut/{HUGE}",
        f"/beslut/export.json?id={HUGE}",
        "/beslut/%C2%B2",  # '²', a digit to str.isdigit
    ],
)
def test_an_id_too_large_to_exist_is_a_404(city: Any, app: Flask, url: str) -> None:
    assert client_for(app, "admin").get(url).status_code == 404


def test_the_api_answers_an_id_too_large_to_exist_with_404(city: Any, app: Flask) -> None:
    headers = bearer(city, "admin")
    for path in (f"/tasks/{HUGE}", f"/instances/{HUGE}", f"/decisions/{HUGE}", "/decisions/²"):
        response = app.test_client().get("/api/v1" + path, headers=headers)
        assert response.status_code == 404, path
        assert response.mimetype == PROBLEM


def test_the_messages_of_the_address_checks_are_translated() -> None:
    from babel.messages.pofile import read_po

    with (WEBUI / "translations/en/LC_MESSAGES/messages.po").open("rb") as source:
        english = {m.id for m in read_po(source) if m.id and m.string}
    keywords = {**DEFAULT_KEYWORDS, "_l": None}
    options = {"extensions": "jinja2.ext.i18n", "newstyle_gettext": "true"}
    used = set()
    for path, method in (
        (WEBUI / "query_args.py", "python"),
        (WEBUI / "templates/bad_argument.html", "jinja2"),
    ):
        for _line, message, _comments, _context in extract_from_file(
            method, str(path), keywords=keywords, options=options
        ):
            used.add(message)
    assert used and sorted(used - english) == []
