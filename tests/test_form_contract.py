"""A person completing a task is trusted with the fields of that task's form, nothing else
(engine/form_contract.py), whatever the entry point: the engine, the REST API, the command
line. The three reproductions of issue 14 (a role grant in another organisation, a skipped
review, an incident on the city-wide instance) run through the API and are each refused,
with nothing changed and the city's instance still running.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from engine.actors import Actor
from engine.errors import ValidationError
from engine.form_contract import problems
from engine.form_patterns import search
from engine.models import HistoryEvent, HumanTask, Incident
from processes import api_tokens, demo
from processes.models import RoleGrant
from tests.city import City
from tests.diagrams import Diagram
from tests.test_process_plan_cycle import APPROVE, act, lagesbild, measures, open_year
from webui.app import create_app
from webui.cli import main

ADMIN = Actor("admin", admin=True)


def check(schema: dict[str, Any], data: Any, current: Any = None) -> list[tuple[str, str]]:
    return [(p.element, p.message) for p in problems(schema, data, current or {}, "f", search)]


# -- the contract on its own -------------------------------------------------------------------


FORM = {
    "type": "object",
    "properties": {
        "namn": {"type": "string"},
        "forvaltning": {"type": "string", "readOnly": True},
        "rader": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"nr": {"type": "integer", "readOnly": True}, "text": {}},
            },
        },
        "bilaga": {"type": "object"},
    },
    "additionalProperties": True,  # at the top level this opens nothing
}


def test_only_declared_top_level_fields_are_accepted() -> None:
    assert check(FORM, {"namn": "Nora"}) == []
    assert check(FORM, {"namn": "Nora", "organisation": "farsta"}) == [
        ("/organisation", "'organisation' is not a field of this form")
    ]


def test_a_read_only_field_may_be_left_out_or_sent_unchanged_but_not_changed() -> None:
    current = {"forvaltning": "Farsta", "rader": [{"nr": 1, "text": "a"}]}
    assert check(FORM, {"namn": "x"}, current) == []
    assert check(FORM, {"forvaltning": "Farsta"}, current) == []
    assert check(FORM, {"forvaltning": "Bromma"}, current) == [
        ("/forvaltning", "'forvaltning' is read-only in this form")
    ]
    assert check(FORM, {"rader": [{"nr": 1, "text": "b"}]}, current) == []
    assert check(FORM, {"rader": [{"nr": 2, "text": "b"}]}, current) == [
        ("/rader/0/nr", "'nr' is read-only in this form")
    ]
    # A row the task did not have cannot bring a value for a read-only cell.
    assert check(FORM, {"rader": [{"nr": 1}, {"nr": 2}]}, current) == [
        ("/rader/1/nr", "'nr' is read-only in this form")
    ]


def test_nested_objects_are_closed_unless_the_form_opens_them() -> None:
    assert check(FORM, {"rader": [{"text": "a", "extra": 1}]}) == [
        ("/rader/0/extra", "'extra' is not a field of 'rader'")
    ]
    assert check(FORM, {"bilaga": {"anything": 1}}) == []  # a free-form object field
    opened = {
        "type": "object",
        "properties": {
            "m": {
                "type": "object",
                "properties": {"a": {}},
                "patternProperties": {"^x_": {"type": "string"}},
                "additionalProperties": False,
            }
        },
    }
    assert check(opened, {"m": {"a": 1, "x_1": "ok"}}) == []
    assert [e for e, _ in check(opened, {"m": {"b": 1}})] == ["/m/b"]


def test_fields_declared_in_conditional_branches_and_references_count() -> None:
    schema = {
        "type": "object",
        "$defs": {"comment": {"type": "string"}},
        "properties": {"beslut": {"enum": ["ja", "nej"]}},
        "allOf": [
            {
                "if": {"properties": {"beslut": {"const": "nej"}}},
                "then": {"properties": {"motivering": {"$ref": "#/$defs/comment"}}},
            }
        ],
        "dependencies": {"beslut": {"properties": {"notering": {"type": "string"}}}},
    }
    assert check(schema, {"beslut": "nej", "motivering": "x", "notering": "y"}) == []
    assert [e for e, _ in check(schema, {"beslut": "nej", "other": 1})] == ["/other"]


# -- through the engine ------------------------------------------------------------------------

SCHEMA = json.dumps(
    {
        "type": "object",
        "properties": {
            "amount": {"type": "integer"},
            "date": {"type": "string", "format": "date"},
            "math": {"type": "integer"},
            "organisation": {"type": "string", "readOnly": True},
        },
        "required": ["amount"],
    }
)


def approval_process() -> Diagram:
    return (
        Diagram("approval")
        .start()
        .script("prepare", 'organisation = "farsta"')
        .user("approve", "Approve", form="approve.schema.json")
        .user("formless", "Formless")
        .script(
            "after", "year = date[:4]\ntomorrow = (datetime(2026, 1, 1) + timedelta(days=1)).day"
        )
        .end()
        .chain("start", "prepare", "approve", "formless", "after", "end")
    )


def open_task(engine: Any, element_id: str) -> Any:
    return next(t for t in engine.tasks.list(limit=100).items if t.element_id == element_id)


def stored(engine: Any, iid: int) -> tuple[int, int, int]:
    """(events in the instance's history, completed tasks, open incidents)."""
    with engine.db.read() as session:
        events = session.scalar(
            select(func.count()).select_from(HistoryEvent).where(HistoryEvent.instance_id == iid)
        )
        done = session.scalar(
            select(func.count())
            .select_from(HumanTask)
            .where(HumanTask.instance_id == iid, HumanTask.state == "completed")
        )
        incidents = session.scalar(
            select(func.count()).select_from(Incident).where(Incident.instance_id == iid)
        )
    return events, done, incidents


def test_an_undeclared_or_changed_read_only_field_is_refused_and_nothing_stored(
    engine: Any, deploy: Any
) -> None:
    deploy(approval_process(), approve__schema__json=SCHEMA)
    iid = engine.runtime.start("approval", {}, ADMIN).instance_id
    task = open_task(engine, "approve")
    before = stored(engine, iid)
    with pytest.raises(ValidationError) as refused:
        engine.tasks.complete(
            task.id, {"amount": 5, "organisation": "bromma", "is_district": False}, ADMIN
        )
    assert {p.element: p.message for p in refused.value.problems} == {
        "/is_district": "'is_district' is not a field of this form",
        "/organisation": "'organisation' is read-only in this form",
    }
    assert "nothing was saved" in refused.value.summary
    assert stored(engine, iid) == before
    assert engine.tasks.get(task.id).state == "open"
    assert engine.runtime.get(iid).data == {"organisation": "farsta"}

    with pytest.raises(ValidationError):
        engine.tasks.save_draft(task.id, {"amount": 5, "is_district": False}, ADMIN)
    assert engine.tasks.get(task.id).draft is None
    engine.tasks.save_draft(task.id, {"amount": 5, "organisation": "farsta"}, ADMIN)
    assert engine.tasks.get(task.id).draft == {"amount": 5, "organisation": "farsta"}


def test_fields_named_like_script_helpers_work_and_a_formless_task_takes_nothing(
    engine: Any, deploy: Any
) -> None:
    deploy(approval_process(), approve__schema__json=SCHEMA)
    iid = engine.runtime.start("approval", {}, ADMIN).instance_id
    engine.tasks.complete(
        open_task(engine, "approve").id, {"amount": 5, "date": "2026-12-01", "math": 1}, ADMIN
    )
    formless = open_task(engine, "formless")
    with pytest.raises(ValidationError) as refused:
        engine.tasks.complete(formless.id, {"approved": True}, ADMIN)
    assert [p.element for p in refused.value.problems] == ["/approved"]
    assert "has no form" in refused.value.problems[0].message
    outcome = engine.tasks.complete(formless.id, {}, ADMIN)
    assert outcome.incident is None
    info = engine.runtime.get(iid)
    assert info.state == "completed"
    assert info.data["year"] == "2026" and info.data["tomorrow"] == 2
    assert info.data["math"] == 1 and "approved" not in info.data


# -- the reproductions, through the API and the command line -----------------------------------


class Api:
    def __init__(self, app: Any, token: str) -> None:
        self.client = app.test_client()
        self.headers = {"Authorization": f"Bearer {token}"}

    def complete(self, task_id: int, data: dict[str, Any]) -> Any:
        return self.client.post(
            f"/api/v1/tasks/{task_id}/complete", headers=self.headers, json={"data": data}
        )


def api_for(city: City, user: str) -> Api:
    app = create_app(city.engine, {"SECRET_KEY": "tests", "WTF_CSRF_ENABLED": True})
    return Api(app, api_tokens.create(city.engine, user, "tests")[1])


def grants(city: City, user: str) -> set[tuple[str, str | None]]:
    with city.engine.db.read() as session:
        rows = session.execute(
            select(RoleGrant.role, RoleGrant.organisation_id).where(RoleGrant.user_id == user)
        ).all()
    return {(r, o) for r, o in rows}


def pointers(response: Any) -> list[str]:
    return [e["pointer"] for e in response.get_json()["errors"]]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def city_with_exploatering(request: Any, tmp_path: Any) -> Any:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'kedja.sqlite'}"
    else:
        from tests.conftest import _reset_pg

        url = request.getfixturevalue("pg_server")
        _reset_pg(url)
    city = City(url, only=demo.SMALL | {"exploateringskontoret"})
    city.url = url  # type: ignore[attr-defined]
    yield city
    city.close()


def test_a_head_cannot_appoint_a_responsible_in_another_organisation(
    city_with_exploatering: City,
) -> None:
    city = city_with_exploatering
    instance = city.start("plan_cycle", 2026)
    act(city, "samordnare", "confirm_participants", {})
    choose = city.task("chef.exploateringskontoret", "choose_responsible")
    head = api_for(city, "chef.exploateringskontoret")
    nora = {"namn": "Nora Nilsson", "epost": "nora.nilsson@stockholm.se"}

    refused = head.complete(choose.id, {**nora, "organisation": "farsta"})
    assert refused.status_code == 422
    assert pointers(refused) == ["/data/organisation"]
    assert "not a field of this form" in refused.get_json()["errors"][0]["message"]
    assert grants(city, "nora.nilsson@stockholm.se") == set()
    assert city.engine.tasks.get(choose.id).state == "open"

    assert head.complete(choose.id, nora).status_code == 200
    assert grants(city, "nora.nilsson@stockholm.se") == {("responsible", "exploateringskontoret")}
    assert city.instance(instance).state == "running"


def test_a_district_cannot_skip_its_local_councils_review(city_with_exploatering: City) -> None:
    city = city_with_exploatering
    open_year(city, ("farsta",))
    act(city, "ansvarig.farsta", "lagesbild", lagesbild("farsta"), "farsta")
    plan = city.task("ansvarig.farsta", "atgardsplan", "farsta")
    responsible = api_for(city, "ansvarig.farsta")

    refused = responsible.complete(plan.id, {"atgarder": measures("farsta"), "is_district": False})
    assert refused.status_code == 422
    assert pointers(refused) == ["/data/is_district"]
    assert city.engine.tasks.get(plan.id).state == "open"

    assert responsible.complete(plan.id, {"atgarder": measures("farsta")}).status_code == 200
    review = [t for t in city.tasks("lokalrad.farsta") if t.element_id == "local_council_review"]
    assert [t.organisation for t in review] == ["farsta"]


def test_a_stray_field_named_like_a_helper_cannot_stop_the_citys_instance(
    city_with_exploatering: City,
) -> None:
    city = city_with_exploatering
    instance = open_year(city, ("trafikkontoret", "farsta"))
    act(city, "ansvarig.trafikkontoret", "lagesbild", lagesbild("trafikkontoret"), "trafikkontoret")
    act(city, "ansvarig.trafikkontoret", "atgardsplan", {"atgarder": measures("trafikkontoret")})
    approval = city.task("chef.trafikkontoret", "head_approval", "trafikkontoret")
    head = api_for(city, "chef.trafikkontoret")

    refused = head.complete(approval.id, {**APPROVE, "math": 1})
    assert refused.status_code == 422
    assert pointers(refused) == ["/data/math"]
    assert city.instance(instance).open_incidents == []

    assert head.complete(approval.id, APPROVE).status_code == 200
    assert city.instance(instance).open_incidents == []
    # The other organisations' work goes on.
    act(city, "ansvarig.farsta", "lagesbild", lagesbild("farsta"), "farsta")
    assert city.instance(instance).state == "running"


def test_the_command_line_refuses_an_undeclared_field_with_exit_code_3(
    city_with_exploatering: City,
) -> None:
    city = city_with_exploatering
    city.start("plan_cycle", 2026)
    act(city, "samordnare", "confirm_participants", {})
    choose = city.task("chef.exploateringskontoret", "choose_responsible")
    data = {"namn": "Nora", "epost": "nora@stockholm.se", "organisation": "farsta"}
    result = CliRunner().invoke(
        main,
        [
            "complete",
            "--db",
            city.url,  # type: ignore[attr-defined]
            str(choose.id),
            "--as",
            "chef.exploateringskontoret",
            "--data",
            json.dumps(data),
        ],
    )
    assert result.exit_code == 3, result.output
    assert "organisation" in result.output and "not a field of this form" in result.output
    assert grants(city, "nora@stockholm.se") == set()


# -- starting a process ------------------------------------------------------------------------

START_FORM = json.dumps(
    {
        "type": "object",
        "properties": {"reason": {"type": "string", "minLength": 1}},
        "required": ["reason"],
    }
)


def started_process(with_form: bool) -> Diagram:
    from tests.diagrams import _Node

    d = Diagram("errand")
    if with_form:
        d.nodes.append(_Node("start", "startEvent", body=_properties("start.schema.json")))
    else:
        d.start()
    return d.user("handle", "Handle").end().chain("start", "handle", "end")


def _properties(form: str) -> str:
    return (
        "<bpmn:extensionElements><spiffworkflow:properties>"
        f'<spiffworkflow:property name="formJsonSchemaFilename" value="{form}"/>'
        "</spiffworkflow:properties></bpmn:extensionElements>"
    )


def test_start_answers_must_fit_the_start_form(engine: Any, deploy: Any) -> None:
    deploy(started_process(with_form=True), start__schema__json=START_FORM)
    with pytest.raises(ValidationError) as refused:
        engine.runtime.start_with_form("errand", {"reason": "x", "organisation": "farsta"}, ADMIN)
    assert [p.element for p in refused.value.problems] == ["/organisation"]
    with pytest.raises(ValidationError) as invalid:
        engine.runtime.start_with_form("errand", {}, ADMIN)
    assert [p.element for p in invalid.value.problems] == ["/reason"]
    assert engine.runtime.count() == 0

    started = engine.runtime.start_with_form(
        "errand", {"reason": "a broken lamp"}, ADMIN, variables={"source": "host"}
    )
    assert engine.runtime.get(started.instance_id).data == {
        "reason": "a broken lamp",
        "source": "host",
    }


def test_a_process_without_a_start_form_takes_no_start_answers(engine: Any, deploy: Any) -> None:
    deploy(started_process(with_form=False))
    with pytest.raises(ValidationError, match="takes only the fields of its form"):
        engine.runtime.start_with_form("errand", {"a": 1}, ADMIN)
    assert engine.runtime.count() == 0
    engine.runtime.start_with_form("errand", {}, ADMIN)
    assert engine.runtime.count() == 1


def test_a_yearly_start_through_the_api_cannot_override_the_calendar(city: City) -> None:
    app = create_app(city.engine, {"SECRET_KEY": "tests", "WTF_CSRF_ENABLED": True})
    token = api_tokens.create(city.engine, "admin", "tests")[1]
    client, headers = app.test_client(), {"Authorization": f"Bearer {token}"}
    refused = client.post(
        "/api/v1/instances",
        headers=headers,
        json={"key": "plan_cycle", "year": 2026, "data": {"deadlines": {}}},
    )
    assert refused.status_code == 422
    assert [e["pointer"] for e in refused.get_json()["errors"]] == ["/data/deadlines"]
    started = client.post(
        "/api/v1/instances", headers=headers, json={"key": "plan_cycle", "year": 2026}
    )
    assert started.status_code == 201, started.get_json()


# -- messages from outside ---------------------------------------------------------------------


def waiting_for(variable: str | None) -> Diagram:
    return (
        Diagram("awaits")
        .start()
        .script("prepare", 'organisation = "farsta"')
        .catch_message("answer", "answer", variable=variable)
        .user("handle", "Handle")
        .end()
        .chain("start", "prepare", "answer", "handle", "end")
    )


@pytest.mark.parametrize("variable", [None, "svar"])
def test_a_message_payload_lands_only_in_the_message_variable(
    engine: Any, deploy: Any, variable: str | None
) -> None:
    deploy(waiting_for(variable))
    iid = engine.runtime.start("awaits", {}, ADMIN).instance_id
    payload = {"organisation": "bromma", "math": 1}
    assert engine.runtime.correlate("answer", payload, None, ADMIN) == iid
    data = engine.runtime.get(iid).data
    assert data["organisation"] == "farsta" and "math" not in data
    if variable:
        assert data[variable] == payload
    else:
        assert set(data) == {"organisation"}


def test_a_read_only_date_sent_back_as_the_api_gave_it_is_unchanged() -> None:
    from datetime import date

    schema = {"type": "object", "properties": {"due": {"readOnly": True}}}
    current = {"due": date(2026, 5, 15)}
    assert check(schema, {"due": "2026-05-15"}, current) == []
    assert check(schema, {"due": {"typename": "date", "value": "2026-05-15"}}, current) == []
    assert check(schema, {"due": "2026-05-16"}, current) == [
        ("/due", "'due' is read-only in this form")
    ]


def test_a_field_declared_in_two_branches_is_reported_once() -> None:
    schema = {
        "type": "object",
        "properties": {"kod": {"readOnly": True}},
        "allOf": [{"properties": {"kod": {"readOnly": True}}}],
    }
    assert check(schema, {"kod": "B"}, {"kod": "A"}) == [
        ("/kod", "'kod' is read-only in this form")
    ]
