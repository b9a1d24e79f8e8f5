"""Scripts too long or too deeply nested, and form JSON nested too deeply, are deploy problems.

Issue 14, item 4 (the deploy-time part): deploying a script `x = ---…1` (100,000 minus signs)
or `1+1+…` (200,000 terms), or a form JSON nested 100,000 levels, gave an unhandled 500 /
traceback (MemoryError or RecursionError in Python's compiler or in json.loads). Each is now a
problem naming the file and the element, through the engine, the API (422), the modeller's
"Validera" / "Driftsätt" (422) and `kedja deploy` (exit 3) — and nothing is deployed.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from click.testing import CliRunner

from engine import Actor, ValidationError
from engine.bundle_json import MAX_JSON_DEPTH
from engine.scripting import (
    MAX_SOURCE_CHARS,
    SandboxViolation,
    _code,
    _compile_cached,
    check_source,
)
from processes import api_tokens
from tests.diagrams import Diagram
from tests.test_api import Api, assert_problem
from tests.test_modeller import MAIN, deployed, post_json
from tests.test_webui_auth import make_app
from tests.test_webui_decisions import client_for
from webui import cli
from webui.app import create_app

MINUS = "x = " + "-" * 100_000 + "1"
PLUS = "x = " + "+".join(["1"] * 200_000)
DEEP_BUT_SHORT = "x = " + "-" * 600 + "1"  # 605 characters; Python's compiler gives up
DEEP_JSON = "[" * 100_000 + "]" * 100_000
STORED_FORM = "tertial-loop/forms/council_tertial.schema.json"
ADMIN = Actor("admin", admin=True)
STAFF = Actor("stina", frozenset({("staff", "farsta")}))


def _scripted(script: str) -> Diagram:
    d = Diagram("skript").start().script("berakna", script, name="Beräkna").end()
    return d.chain("start", "berakna", "end")


def _with_form() -> Diagram:
    d = Diagram("formular").start().user("fyll_i", "Fyll i", lane="staff", form="f.json").end()
    return d.chain("start", "fyll_i", "end")


# -- the engine -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("script", "says"),
    [(MINUS, "too long"), (PLUS, "too long"), (DEEP_BUT_SHORT, "nested too deeply")],
    ids=["100k-minus", "200k-terms", "600-deep"],
)
def test_a_script_too_long_or_too_deep_is_a_problem_on_its_element(engine, deploy, script, says):
    with pytest.raises(ValidationError) as err:
        deploy(_scripted(script))
    [problem] = err.value.problems
    assert (problem.file, problem.element) == ("skript.bpmn", "berakna")
    assert problem.message.startswith(f"the script is {says}")
    assert problem.hint.startswith("Simplify it")
    assert len(problem.message) < 200  # the message does not quote the whole script
    assert engine.repository.definitions() == []


def test_a_condition_nested_too_deeply_is_a_problem_too(engine, deploy):
    d = Diagram("villkor").start().xor("val", default="f_nej").user("ja").user("nej").end()
    d.flow("start", "val").flow("val", "ja", condition="not " * 600 + "x", id="f_ja")
    d.flow("val", "nej", id="f_nej").flow("ja", "end").flow("nej", "end")
    with pytest.raises(ValidationError) as err:
        deploy(d)
    [problem] = err.value.problems
    assert problem.element == "f_ja" and problem.message.startswith("the condition is nested")
    assert engine.repository.definitions() == []


def test_a_form_nested_too_deeply_is_a_problem_naming_the_file(engine, deploy):
    with pytest.raises(ValidationError) as err:
        deploy(_with_form(), f__json=DEEP_JSON)
    [problem] = err.value.problems
    assert problem.file == "f.json" and "nested too deeply" in problem.message
    assert f"at most {MAX_JSON_DEPTH} levels" in problem.message and problem.hint
    # Deeper than the limit but within Python's stack: the same problem, not a schema error.
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(MAX_JSON_DEPTH):
        schema = {"type": "object", "properties": {"a": schema}}
    with pytest.raises(ValidationError) as err:
        deploy(_with_form(), f__json=json.dumps(schema))
    assert ["nested too deeply" in p.message for p in err.value.problems] == [True]
    assert engine.repository.definitions() == []


def test_form_data_too_deep_for_the_validator_is_refused_and_nothing_is_stored(engine, deploy):
    schema = {"type": "object", "properties": {"rader": {"type": "array", "uniqueItems": True}}}
    deploy(_with_form(), f__json=json.dumps(schema))
    iid = engine.runtime.start("formular", {"organisation": "farsta"}, ADMIN).instance_id
    task = engine.tasks.list(instance_id=iid).items[0]
    deep: Any = 1
    for _ in range(5_000):  # uniqueItems compares rows recursively
        deep = [deep]
    with pytest.raises(ValidationError) as err:
        engine.tasks.complete(task.id, {"rader": [deep, deep]}, STAFF)
    assert [p.message for p in err.value.problems] == ["the data is nested too deeply"]
    assert engine.tasks.get(task.id).state == "open"
    assert "rader" not in engine.runtime.get(iid).data


def test_the_sandbox_refuses_the_same_at_run_time_and_does_not_cache_long_text() -> None:
    cached = _compile_cached.cache_info().currsize
    with pytest.raises(SandboxViolation, match="nested too deeply for Python to compile"):
        _code(DEEP_BUT_SHORT, "exec")
    assert check_source("x" * (MAX_SOURCE_CHARS + 1), "eval") == [
        f"Line 1: too long: {MAX_SOURCE_CHARS + 1:,} characters, at most "
        f"{MAX_SOURCE_CHARS:,} are allowed"
    ]
    assert _compile_cached.cache_info().currsize == cached  # neither refusal is kept
    [nul] = check_source("x = 1\x00", "exec")  # a ValueError or a SyntaxError, by version
    assert "null bytes" in nul
    assert check_source("x = " + "+".join(["1"] * 100), "exec") == []


# -- the entry points -------------------------------------------------------------------------


def test_kedja_deploy_exits_3_and_names_the_file_and_element(db_url, tmp_path):
    runner = CliRunner()
    # A shared database is migrated on purpose (SQLite migrates itself), as in test_cli.
    assert runner.invoke(cli.main, ["db", "upgrade", "--db", db_url]).exit_code == 0
    folder = tmp_path / "bundle"
    folder.mkdir()
    (folder / "skript.bpmn").write_text(_scripted(PLUS).xml(), encoding="utf-8")
    result = runner.invoke(
        cli.main, ["deploy", str(folder), "--db", db_url], catch_exceptions=False
    )
    assert result.exit_code == 3, result.output
    assert "skript.bpmn" in result.stderr and "berakna" in result.stderr
    assert "too long" in result.stderr and "Traceback" not in result.output
    listed = runner.invoke(cli.main, ["definitions", "--json", "--db", db_url])
    assert listed.exit_code == 0 and json.loads(listed.stdout) == []


def test_the_api_answers_422_naming_the_file_and_element(city: Any) -> None:
    app = create_app(city.engine, {"SECRET_KEY": "tests", "WTF_CSRF_ENABLED": True})
    _info, token = api_tokens.create(city.engine, "processagare", "tests")
    owner = Api(app, token)
    before = city.engine.repository.definitions()

    def upload(**files: str) -> Any:
        sent = [(io.BytesIO(text.encode()), name) for name, text in files.items()]
        return owner.post("/deployments", data={"files": sent}, content_type="multipart/form-data")

    body = assert_problem(upload(**{"skript.bpmn": _scripted(MINUS).xml()}), 422)
    assert [(e["file"], e["element"]) for e in body["errors"]] == [("skript.bpmn", "berakna")]
    assert "too long" in body["errors"][0]["message"]
    body = assert_problem(upload(**{"formular.bpmn": _with_form().xml(), "f.json": DEEP_JSON}), 422)
    assert [e["file"] for e in body["errors"]] == ["f.json"]
    assert "nested too deeply" in body["errors"][0]["message"]
    assert city.engine.repository.definitions() == before


def test_the_modeller_shows_the_problems_and_deploys_nothing(city: Any) -> None:
    owner = client_for(make_app(city), "processagare")
    xml = deployed(city)
    first_script = b"<bpmn:script>tertial_nr = 0"
    assert first_script in xml
    too_deep = xml.replace(first_script, f"<bpmn:script>{DEEP_BUT_SHORT}\ntertial_nr = 0".encode())
    checked = post_json(owner, "/modeller/tertial_loop/validera", too_deep).get_json()
    assert checked["ok"] is False
    [problem] = checked["problems"]
    assert problem["file"] == MAIN and problem["shape"]
    assert problem["message"].startswith("the script is nested too deeply")

    answer = post_json(owner, "/modeller/tertial_loop/driftsatt", too_deep)
    assert answer.status_code == 422
    answer = post_json(
        owner,
        "/modeller/tertial_loop/driftsatt",
        xml,
        forms={"forms/council_tertial.schema.json": DEEP_JSON},
        version="1",
    )
    assert answer.status_code == 422
    [problem] = answer.get_json()["problems"]
    assert problem["file"] == STORED_FORM and "nested too deeply" in problem["message"]
    assert city.engine.repository.get("tertial_loop").version == 1


def test_the_form_editors_preview_names_the_depth_instead_of_failing(city: Any) -> None:
    from tests.test_modeller import token

    owner = client_for(make_app(city), "processagare")
    nested: dict[str, Any] = {"type": "string"}
    for _ in range(150):  # parses, but past what the schema check and the renderer recurse
        nested = {"type": "object", "properties": {"a": nested}}
    for text in ('{"a":' * 100_000 + "1" + "}" * 100_000, json.dumps(nested)):
        answer = owner.post(
            "/modeller/tertial_loop/formular-forhandsgranska",
            json={"schema": text, "ui": "{}"},
            headers={"X-CSRFToken": token(owner)},
        )
        assert answer.status_code == 200
        body = answer.get_json()
        assert body["ok"] is False
        assert body["errors"]["schema"] == (
            f"Formuläret är nästlat för djupt: högst {MAX_JSON_DEPTH} nivåer."
        )
