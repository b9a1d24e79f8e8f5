"""Four eyes on power (engine/approvals.py): a version that calls a privileged service runs
only once an administrator other than its deployer approves it; the approval is in the
history, and the service checks it again when called. Then the reproduction of issue 14 on
the demo city: a process owner's diagram that grants themself a role and registers a council
decision, deployed and started through the API.
"""

from __future__ import annotations

import io
from typing import Any

import pytest
from sqlalchemy import func, select, update

from engine import Actor, Engine
from engine.bundle import Bundle
from engine.errors import InvalidState, NotPermitted, ValidationError
from engine.models import HistoryEvent, ProcessDefinition, Timer
from engine.services import ServiceCall, privileged, takes
from processes import api_tokens
from processes.models import DecisionRecord, RoleGrant
from tests.city import City
from webui.app import create_app

OWNER = Actor("owner", admin=True)  # deployed it (an administrator, but one pair of eyes)
OTHER = Actor("other-admin", admin=True)
STAFF = Actor("staff")
CALLED: list[str] = []


@privileged("grants roles")
@takes("who")
def grant(call: ServiceCall) -> dict[str, Any]:
    CALLED.append(str(call.params["who"]))
    return {"granted": call.params["who"]}


@takes()
def look_up(call: ServiceCall) -> dict[str, Any]:
    return {"found": 1}


def diagram(operator: str, timer: bool = False) -> bytes:
    params = '<spiffworkflow:parameter id="who" type="any" value="\'owner\'"/>'
    params = params if operator == "grant" else ""
    start = (
        '<bpmn:startEvent id="start"><bpmn:timerEventDefinition><bpmn:timeDate>'
        '"2027-01-04T08:00:00+01:00"</bpmn:timeDate></bpmn:timerEventDefinition>'
        "</bpmn:startEvent>"
        if timer
        else '<bpmn:startEvent id="start"/>'
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
    id="defs" targetNamespace="http://example.org/kedja">
  <bpmn:process id="svc" isExecutable="true">
    {start}
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait"/>
    <bpmn:manualTask id="wait" name="Wait"/>
    <bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="call_it"/>
    <bpmn:serviceTask id="call_it" name="Call it">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="{operator}" resultVariable="result">
          <spiffworkflow:parameters>{params}</spiffworkflow:parameters>
        </spiffworkflow:serviceTaskOperator>
      </bpmn:extensionElements>
    </bpmn:serviceTask>
    <bpmn:sequenceFlow id="f3" sourceRef="call_it" targetRef="end"/>
    <bpmn:endEvent id="end"/>
  </bpmn:process>
</bpmn:definitions>""".encode()


@pytest.fixture
def engine(db_url, clock):  # type: ignore[no-untyped-def]
    CALLED.clear()
    eng = Engine(db_url, clock, services={"grant": grant, "look_up": look_up})
    yield eng
    eng.close()


def deploy(engine: Engine, xml: bytes, actor: Actor = OWNER) -> Any:
    (result,) = engine.repository.deploy(Bundle.from_files({"svc.bpmn": xml}), actor)
    return result.definition


def repository_events(engine: Engine, kind: str) -> list[HistoryEvent]:
    with engine.db.read() as session:
        return list(
            session.scalars(
                select(HistoryEvent).where(
                    HistoryEvent.instance_id.is_(None), HistoryEvent.kind == kind
                )
            )
        )


def test_a_version_calling_a_privileged_service_waits_for_a_second_administrator(
    engine: Engine,
) -> None:
    definition = deploy(engine, diagram("grant"))
    approval = engine.approvals.of(definition.id)
    assert approval.state == "awaiting"
    assert [(c.element, c.operator, c.privilege) for c in approval.calls] == [
        ("call_it", "grant", "grants roles")
    ]
    with pytest.raises(InvalidState, match="awaits an administrator's approval"):
        engine.runtime.start("svc", {}, OWNER)
    with pytest.raises(InvalidState, match="awaits"):
        engine.runtime.start("svc", {}, OWNER, version=1)
    assert engine.runtime.count() == 0

    with pytest.raises(NotPermitted, match="four eyes"):
        engine.approvals.approve(definition.id, OWNER)
    with pytest.raises(NotPermitted, match="Only an administrator"):
        engine.approvals.approve(definition.id, STAFF)
    assert engine.approvals.of(definition.id).state == "awaiting"

    engine.approvals.approve(definition.id, OTHER, "read the diff")
    approved = engine.approvals.of(definition.id)
    assert (approved.state, approved.decided_by, approved.note) == (
        "approved",
        "other-admin",
        "read the diff",
    )
    (event,) = repository_events(engine, "definition.approved")
    assert event.actor == "other-admin" and "grants roles" in event.data
    assert engine.verify_history() == []

    (task_id,) = engine.runtime.start("svc", {}, OWNER).created_tasks
    engine.tasks.complete(task_id, {}, OWNER)
    assert CALLED == ["owner"]


def test_a_refused_version_never_runs_and_the_previous_one_stays_in_effect(
    engine: Engine,
) -> None:
    first = deploy(engine, diagram("look_up"))
    assert engine.approvals.of(first.id).state == "not_needed"
    second = deploy(engine, diagram("grant"))
    # Until the new version is approved, "the latest" to start is the one before it.
    started = engine.runtime.start("svc", {}, OWNER)
    assert engine.runtime.get(started.instance_id).version == 1
    check = engine.runtime.check_migration(started.instance_id, 2)
    assert check.problems == ["version 2 awaits an administrator's approval"]
    with pytest.raises(InvalidState):
        engine.runtime.migrate(started.instance_id, OTHER, 2)

    with pytest.raises(ValidationError, match="Say why"):
        engine.approvals.refuse(second.id, OTHER, " ")
    engine.approvals.refuse(second.id, OTHER, "grants roles it should not")
    assert engine.approvals.of(second.id).state == "refused"
    with pytest.raises(InvalidState, match="refused"):
        engine.approvals.approve(second.id, OTHER)
    with pytest.raises(InvalidState, match="refused by an administrator"):
        engine.runtime.start("svc", {}, OWNER, version=2)
    assert len(repository_events(engine, "definition.refused")) == 1


def test_an_awaiting_versions_start_timer_waits_for_the_approval(engine: Engine) -> None:
    definition = deploy(engine, diagram("grant", timer=True))

    def start_timers() -> int:
        with engine.db.read() as session:
            return session.scalar(
                select(func.count()).select_from(Timer).where(Timer.instance_id.is_(None))
            )

    assert start_timers() == 0
    engine.approvals.approve(definition.id, OTHER)
    assert start_timers() == 1


def test_the_system_deploying_at_set_up_is_approved_at_once(engine: Engine) -> None:
    definition = deploy(engine, diagram("grant"), Actor("system", admin=True))
    approval = engine.approvals.of(definition.id)
    assert (approval.state, approval.decided_by) == ("approved", "system")


def test_the_service_checks_the_approval_again_when_called(engine: Engine) -> None:
    definition = deploy(engine, diagram("grant"))
    engine.approvals.approve(definition.id, OTHER)
    (task_id,) = engine.runtime.start("svc", {}, OWNER).created_tasks
    with engine.db.write() as session:  # changed behind the engine's back
        session.execute(
            update(ProcessDefinition)
            .where(ProcessDefinition.id == definition.id)
            .values(approval="awaiting")
        )
    outcome = engine.tasks.complete(task_id, {}, OWNER)
    assert outcome.incident is not None and "not approved" in outcome.incident
    assert CALLED == []


# -- the reproduction on the demo city ---------------------------------------------------------

POWER_GRAB = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
    id="defs" targetNamespace="http://example.org/grab">
  <bpmn:process id="grab" isExecutable="true">
    <bpmn:laneSet id="ls"><bpmn:lane id="l" name="Processägare">
      <bpmn:flowNodeRef>start</bpmn:flowNodeRef><bpmn:flowNodeRef>decide</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>appoint</bpmn:flowNodeRef><bpmn:flowNodeRef>register</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>end</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="decide"/>
    <bpmn:userTask id="decide" name="Besluta">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="formJsonSchemaFilename" value="empty.schema.json"/>
      </spiffworkflow:properties></bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="f2" sourceRef="decide" targetRef="appoint"/>
    <bpmn:serviceTask id="appoint" name="Utse">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="appoint_responsible" resultVariable="r1">
          <spiffworkflow:parameters>
            <spiffworkflow:parameter id="organisation" type="any" value="'farsta'"/>
            <spiffworkflow:parameter id="email" type="any" value="'processagare@stockholm.se'"/>
            <spiffworkflow:parameter id="name" type="any" value="'Processägaren'"/>
          </spiffworkflow:parameters>
        </spiffworkflow:serviceTaskOperator>
      </bpmn:extensionElements>
    </bpmn:serviceTask>
    <bpmn:sequenceFlow id="f3" sourceRef="appoint" targetRef="register"/>
    <bpmn:serviceTask id="register" name="Registrera">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="register_decision" resultVariable="r2">
          <spiffworkflow:parameters>
            <spiffworkflow:parameter id="kind" type="any" value="'council'"/>
            <spiffworkflow:parameter id="decision" type="any" value="'Riktlinjen upphävs'"/>
            <spiffworkflow:parameter id="motivation" type="any" value="'Den behövs inte'"/>
            <spiffworkflow:parameter id="task" type="any" value="'decide'"/>
          </spiffworkflow:parameters>
        </spiffworkflow:serviceTaskOperator>
      </bpmn:extensionElements>
    </bpmn:serviceTask>
    <bpmn:sequenceFlow id="f4" sourceRef="register" targetRef="end"/>
    <bpmn:endEvent id="end"/>
  </bpmn:process>
</bpmn:definitions>"""
EMPTY_FORM = '{"type": "object", "properties": {}}'


def counts(city: City) -> tuple[int, int]:
    with city.engine.db.read() as session:
        grants = session.scalar(
            select(func.count())
            .select_from(RoleGrant)
            .where(RoleGrant.organisation_id == "farsta", RoleGrant.role == "responsible")
        )
        decisions = session.scalar(select(func.count()).select_from(DecisionRecord))
    return grants, decisions


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def any_city(request: pytest.FixtureRequest) -> City:
    return request.getfixturevalue("city" if request.param == "sqlite" else "city_pg")


def test_a_process_owner_cannot_grant_themself_a_role_or_register_a_decision(
    any_city: City,
) -> None:
    city = any_city
    app = create_app(city.engine, {"SECRET_KEY": "tests", "WTF_CSRF_ENABLED": True})
    client = app.test_client()
    owner = {"Authorization": f"Bearer {api_tokens.create(city.engine, 'processagare', 't')[1]}"}
    before = counts(city)

    files = {
        "files": [
            (io.BytesIO(POWER_GRAB.encode()), "grab.bpmn"),
            (io.BytesIO(EMPTY_FORM.encode()), "empty.schema.json"),
        ]
    }
    deployed = client.post(
        "/api/v1/deployments", headers=owner, data=files, content_type="multipart/form-data"
    )
    assert deployed.status_code == 201, deployed.get_json()
    started = client.post("/api/v1/instances", headers=owner, json={"key": "grab"})
    assert started.status_code in (400, 409)
    assert "approval" in started.get_json()["detail"]
    assert counts(city) == before

    # An administrator approves it: the role grant runs (the administrator saw it), but no
    # decision of the council can come from a task of the process owner's.
    (definition,) = city.engine.repository.definitions(key="grab")
    city.engine.approvals.approve(definition.id, city.actor("admin"), "test")
    started = client.post("/api/v1/instances", headers=owner, json={"key": "grab"})
    assert started.status_code == 201, started.get_json()
    (task_id,) = started.get_json()["created_tasks"]
    done = client.post(f"/api/v1/tasks/{task_id}/complete", headers=owner, json={"data": {}})
    assert done.status_code == 200
    incident = done.get_json()["incident"]
    assert "council decision must be made by a holder of the role 'council'" in incident
    grants, decisions = counts(city)
    assert decisions == before[1]  # the whole step rolled back: no grant either
    assert grants == before[0]


# -- the administrators' page --------------------------------------------------------------------


def test_an_administrator_approves_on_the_approvals_page_and_the_modeller_says_so(
    city: City,
) -> None:
    from tests.test_webui_auth import make_app, post
    from tests.test_webui_decisions import client_for, html

    city.engine.repository.deploy(
        Bundle.from_files(
            {"grab.bpmn": POWER_GRAB.encode(), "empty.schema.json": EMPTY_FORM.encode()}
        ),
        city.actor("processagare"),
    )
    (definition,) = city.engine.repository.definitions(key="grab")
    app = make_app(city)

    owner = client_for(app, "processagare")
    page = html(owner, "/admin/godkannanden")
    assert "appoint_responsible" in page and "register_decision" in page
    assert "Registrerar ett beslut i stadens beslutsregister" in page
    assert 'value="approve"' not in page  # a process owner sees, an administrator decides
    assert (
        post(owner, f"/admin/godkannanden/{definition.id}", {"action": "approve"}).status_code
        == 403
    )
    assert "Väntar på godkännande" in html(owner, "/modeller/grab")
    assert html(client_for(app, "ansvarig.farsta"), "/admin/godkannanden", 403)

    admin = client_for(app, "admin")
    assert 'name="action" value="approve"' in html(admin, "/admin/godkannanden")
    refused = post(admin, f"/admin/godkannanden/{definition.id}", {"action": "refuse"})
    assert refused.status_code == 400
    assert "Skriv varför versionen avslås" in refused.get_data(as_text=True)
    assert city.engine.approvals.of(definition.id).state == "awaiting"
    no_token = admin.post(f"/admin/godkannanden/{definition.id}", data={"action": "approve"})
    assert no_token.status_code == 400
    done = post(
        admin,
        f"/admin/godkannanden/{definition.id}",
        {"action": "approve", f"note_{definition.id}": "läst"},
    )
    assert done.status_code == 303
    approval = city.engine.approvals.of(definition.id)
    assert (approval.state, approval.decided_by, approval.note) == ("approved", "admin", "läst")
    assert "Inga versioner väntar på godkännande" in html(admin, "/admin/godkannanden")
    assert "Godkänd av Ada Administratör" in html(owner, "/modeller/grab")


def test_the_command_line_approves_as_a_named_administrator(city: City, tmp_path: Any) -> None:
    from click.testing import CliRunner

    from webui.cli import main

    (tmp_path / "grab.bpmn").write_text(POWER_GRAB, encoding="utf-8")
    (tmp_path / "empty.schema.json").write_text(EMPTY_FORM, encoding="utf-8")
    url = city.engine.db.url
    deployed = CliRunner().invoke(
        main, ["deploy", str(tmp_path), "--as", "processagare", "--db", url]
    )
    assert deployed.exit_code == 0, deployed.output
    assert "awaits an administrator's approval" in deployed.output
    assert "kedja approve grab 1 --as ID" in deployed.output
    listed = CliRunner().invoke(main, ["approvals", "--db", url])
    assert "grab version 1, deployed by processagare" in listed.output
    assert "appoint_responsible" in listed.output
    own = CliRunner().invoke(main, ["approve", "grab", "1", "--as", "processagare", "--db", url])
    assert own.exit_code != 0 and "Only an administrator" in own.output
    done = CliRunner().invoke(main, ["approve", "grab", "1", "--as", "admin", "--db", url])
    assert done.exit_code == 0, done.output
    assert "grab version 1 is approved by admin" in done.output


def test_kedja_serve_deploys_what_it_is_given_as_the_system(tmp_path: Any) -> None:
    """`kedja serve --deploy PATH` on a database with a register: the operator's deploy runs
    as the system (it used to look for a user called "system" and stop)."""
    import socket
    import subprocess
    import sys
    import time
    from urllib.request import urlopen

    from click.testing import CliRunner

    from webui.cli import main

    url = f"sqlite:///{tmp_path / 'served.sqlite'}"
    assert CliRunner().invoke(main, ["demo", "--db", url]).exit_code == 0
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "grab.bpmn").write_text(POWER_GRAB, encoding="utf-8")
    (tmp_path / "b" / "empty.schema.json").write_text(EMPTY_FORM, encoding="utf-8")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    served = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "webui.cli",
            "serve",
            "--db",
            url,
            "--port",
            str(port),
            "--no-timers",
            "--deploy",
            str(tmp_path / "b"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        for _ in range(120):
            try:
                with urlopen(f"http://127.0.0.1:{port}/health/live") as answer:
                    if answer.status == 200:
                        break
            except OSError:
                if served.poll() is not None:
                    raise AssertionError(served.stdout.read().decode()) from None
                time.sleep(0.25)
        engine = Engine(url)
        try:
            (definition,) = engine.repository.definitions(key="grab")
            approval = engine.approvals.of(definition.id)
            assert (approval.state, approval.decided_by) == ("approved", "system")
        finally:
            engine.close()
    finally:
        served.terminate()
        served.wait(10)
