"""Form patterns are matched in bounded time (RE2), and a pattern that cannot be is refused.

Issue 14, item 6: `"pattern": "^(a+)+$"` with 28 characters took 28 s inside the completion
step, because jsonschema matches with Python's backtracking `re`. These tests drive the real
deploy and the real completion (`engine.tasks.complete`) on SQLite and PostgreSQL; they assert
results, not times — with backtracking, the reproduction would not finish at all.
"""

from __future__ import annotations

import json

import pytest

from engine import Actor, ValidationError, form_patterns, forms
from tests.diagrams import Diagram
from webui import forms as web_forms

ADMIN = Actor("admin", admin=True)
STAFF = Actor("stina", frozenset({("staff", "farsta")}))
EVIL = "a" * 28 + "!"


def _schema(**code: object) -> str:
    return json.dumps(
        {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "required": ["kod"],
            "properties": {"kod": {"type": "string", "title": "Kod", **code}},
        }
    )


def _diagram() -> Diagram:
    d = Diagram("kodning").start().user("ange_kod", "Ange kod", lane="staff", form="kod.json")
    return d.end().chain("start", "ange_kod", "end")


def test_a_catastrophic_pattern_is_answered_at_once_and_nothing_is_stored(engine, deploy):
    deploy(_diagram(), kod__json=_schema(pattern="^(a+)+$"))
    iid = engine.runtime.start("kodning", {"organisation": "farsta"}, ADMIN).instance_id
    task = engine.tasks.list(instance_id=iid).items[0]

    with pytest.raises(ValidationError) as err:
        engine.tasks.complete(task.id, {"kod": EVIL}, STAFF)
    [problem] = err.value.problems
    assert problem.element == "/kod" and "does not match '^(a+)+$'" in problem.message
    assert "nothing was saved" in err.value.summary
    assert engine.tasks.get(task.id).state == "open"
    assert "kod" not in engine.runtime.get(iid).data

    engine.tasks.complete(task.id, {"kod": "a" * 28}, STAFF)
    assert engine.tasks.get(task.id).state == "completed"
    assert engine.runtime.get(iid).data["kod"] == "a" * 28


def test_a_backreference_is_refused_at_deploy_naming_the_file_and_the_keyword(engine, deploy):
    with pytest.raises(ValidationError) as err:
        deploy(_diagram(), kod__json=_schema(pattern="(a)\\1"))
    [problem] = err.value.problems
    assert problem.file == "kod.json"
    assert problem.element == "/properties/kod/pattern"
    assert "'(a)\\\\1' cannot be matched safely" in problem.message
    assert "no backreferences" in problem.hint and "rewrite the pattern" in problem.hint
    assert engine.repository.definitions() == []


def test_lookaround_in_a_pattern_property_name_is_refused_with_its_pointer(engine, deploy):
    schema = {
        "type": "object",
        "properties": {"kod": {"type": "string"}},
        "patternProperties": {"^rad/(?!0)": {"type": "string"}},
    }
    with pytest.raises(ValidationError) as err:
        deploy(_diagram(), kod__json=json.dumps(schema))
    [problem] = err.value.problems
    assert (problem.file, problem.element) == ("kod.json", "/patternProperties/^rad~1(?!0)")
    assert "invalid perl operator" in problem.message
    assert engine.repository.definitions() == []


def test_unevaluated_properties_next_to_pattern_properties_is_refused(engine, deploy):
    schema = {
        "type": "object",
        "properties": {"kod": {"type": "string"}},
        "patternProperties": {"^x_": {"type": "string"}},
        "unevaluatedProperties": False,
    }
    with pytest.raises(ValidationError) as err:
        deploy(_diagram(), kod__json=json.dumps(schema))
    [problem] = err.value.problems
    assert problem.element == "/unevaluatedProperties" and "bounded time" in problem.message
    assert engine.repository.definitions() == []


def test_every_pattern_of_a_schema_is_found_and_data_is_not_mistaken_for_one() -> None:
    schema = {
        "properties": {
            "pattern": {"type": "string", "pattern": "(?=x)"},  # a field named "pattern"
            "val": {"enum": [{"pattern": "(a)\\1"}], "default": {"pattern": "(?!"}},
        },
        "$defs": {"rad": {"items": [{"pattern": "\\k<n>"}]}},
        "x-unknown": {"pattern": "(?<=a)b"},  # a $ref may point here
    }
    found = [pointer for pointer, _message, _hint in form_patterns.problems(schema)]
    assert found == [
        "/properties/pattern/pattern",
        "/$defs/rad/items/0/pattern",
        "/x-unknown/pattern",
    ]


def test_pattern_keywords_match_with_json_schema_semantics() -> None:
    schema = json.dumps(
        {
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "properties": {
                "kort": {"type": "string", "pattern": "\\u00e5"},  # ECMA escape, unanchored
                "uttryck": {"type": "string", "format": "regex"},
                "fritt": {"type": "object", "patternProperties": {"^(a+)+$": {"type": "integer"}}},
                "stangt": {
                    "type": "object",
                    "patternProperties": {"^(b+)+$": {}},
                    "additionalProperties": False,
                },
            },
        }
    )
    forms.validate(schema, {"kort": "blåbär", "uttryck": "(?<n>a)\\d", "fritt": {}}, "f.json")
    with pytest.raises(ValidationError) as err:
        forms.validate(
            schema,
            {
                "kort": "blabar",
                "uttryck": "(a)\\1",
                "fritt": {"a" * 28: "x", EVIL: "y"},
                "stangt": {"b" * 40 + "!": 1, "bbb": 1},
            },
            "f.json",
        )
    found = {p.element: p.message for p in err.value.problems}
    assert set(found) == {"/kort", "/uttryck", "/fritt/" + "a" * 28, "/stangt"}
    assert "is not a 'regex'" in found["/uttryck"]
    assert found["/stangt"].startswith(f"'{'b' * 40}!' does not match any of the regexes")


def test_a_pattern_deployed_before_the_check_fails_validation_instead_of_backtracking() -> None:
    schema = _schema(pattern="^(a+)+\\1$")
    with pytest.raises(ValidationError) as err:
        forms.validate(schema, {"kod": EVIL}, "kod.json")
    [problem] = err.value.problems
    assert problem.element == "/kod" and "cannot be checked safely" in problem.message
    assert "process owner" in problem.hint
    with pytest.raises(form_patterns.PatternError, match="invalid escape sequence"):
        form_patterns.search("(a)\\1", "aa")
    assert form_patterns.matches("(a)\\1", "aa") is False  # "not declared" for form_contract
    assert form_patterns.matches("^(a+)+$", EVIL) is False and form_patterns.matches("b", "abc")


def test_the_web_forms_messages_use_the_same_bounded_matching() -> None:
    schema = json.loads(_schema(pattern="^(a+)+$"))
    root = web_forms.build(schema, {})
    assert web_forms.messages(root, schema, {"kod": EVIL}) == {"/kod": "”Kod” har fel format."}
    unsafe = json.loads(_schema(pattern="(a)\\1"))
    assert web_forms.messages(web_forms.build(unsafe, {}), unsafe, {"kod": "aa"}) == {
        "/kod": "”Kod” kan inte kontrolleras: formulärets mönster för fältet är inte säkert. "
        "Be processägaren att rätta formuläret."
    }


def test_the_form_editor_refuses_the_pattern_as_the_deploy_does(city) -> None:
    from tests.test_modeller import token
    from tests.test_webui_auth import make_app
    from tests.test_webui_decisions import client_for

    owner = client_for(make_app(city), "processagare")

    def preview(schema: str) -> dict:
        answer = owner.post(
            "/modeller/tertial_loop/formular-forhandsgranska",
            json={"schema": schema, "ui": "{}"},
            headers={"X-CSRFToken": token(owner)},
        )
        assert answer.status_code == 200
        return answer.get_json()

    refused = preview(_schema(pattern="(a)\\1"))
    assert refused["ok"] is False
    assert refused["errors"]["schema"].startswith(
        "Mönstret i /properties/kod/pattern kan inte kontrolleras säkert."
    )
    # RE2's (and ECMA-262's) named group, which Python's re would call invalid, is accepted.
    assert preview(_schema(pattern="^(?<lan>[A-Z]{2})-\\d+$"))["ok"] is True
