"""A damaged instance — its stored `workflow_state` not JSON, or JSON SpiffWorkflow cannot
restore — is shown as damaged from its rows, refuses work with a clear answer, and can be
terminated without its state (issue 14, item 5; engine/damaged.py).

Each test damages the column with SQL, as an edit in the database or a broken restore
would, and drives the real entry points: the web pages and the REST API through Flask's
test client, the CLI through click's CliRunner, on SQLite and PostgreSQL. The update also
moves the row's version on, as any other writer would: no process may then take a workflow
it has cached for the committed one, so every entry point meets the damaged text.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import func, select, text

from engine import Actor, DamagedState
from engine.models import HistoryEvent, MessageOutbox, MessageSubscription, Timer
from processes import api_tokens
from tests.diagrams import Diagram, linear
from tests.test_webui_auth import make_app, post
from tests.test_webui_decisions import client_for
from tests.test_webui_instances import lagesbild, plan_cycle_at_lagesbild
from webui.cli import main

ADMIN = Actor("admin", admin=True)
NOT_JSON = '{"tasks": {"3f2c'  # cut off mid-way, as a truncated restore leaves it
NOT_A_STATE = '{"tasks": 3}'  # JSON, but nothing SpiffWorkflow can restore
DAMAGES = {"not-json": NOT_JSON, "not-a-state": NOT_A_STATE}
DAMAGED = "Ärendet är skadat: dess sparade tillstånd går inte att läsa."


def damage(engine: Any, instance_id: int, state: str = NOT_JSON) -> None:
    with engine.db.write() as session:
        session.execute(
            text(
                "UPDATE process_instance SET workflow_state = :state, version = version + 1 "
                "WHERE id = :iid"
            ),
            {"state": state, "iid": instance_id},
        )


def stored(engine: Any, instance_id: int) -> tuple[str, str, int]:
    with engine.db.read() as session:
        return session.execute(
            text("SELECT workflow_state, state, version FROM process_instance WHERE id = :i"),
            {"i": instance_id},
        ).one()


def counts(engine: Any, instance_id: int) -> dict[str, int]:
    """What must not change when work on a damaged instance is refused."""
    with engine.db.read() as session:
        return {
            "events": session.scalar(
                select(func.count())
                .select_from(HistoryEvent)
                .where(HistoryEvent.instance_id == instance_id)
            ),
            "open_tasks": len(engine.tasks.list(instance_id=instance_id, limit=500).items),
            "timers": session.scalar(
                select(func.count()).select_from(Timer).where(Timer.instance_id == instance_id)
            ),
        }


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def town(request: Any) -> Any:
    """The demo city on SQLite and on PostgreSQL."""
    return request.getfixturevalue("city" if request.param == "sqlite" else "city_pg")


@pytest.fixture
def app(town: Any) -> Flask:
    return make_app(town)


@pytest.fixture
def plan(town: Any) -> int:
    """The plan cycle with six organisations' lägesbild open and six timers waiting."""
    return plan_cycle_at_lagesbild(town)


def api_headers(town: Any, user: str) -> dict[str, str]:
    _info, token = api_tokens.create(town.engine, user, "tests")
    return {"Authorization": f"Bearer {token}"}


def kedja(town: Any, *args: str) -> Any:
    return CliRunner().invoke(main, [*args, "--db", town.engine.db.url])


# -- the engine -----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", DAMAGES)
def test_loading_a_damaged_state_raises_damaged_state_naming_the_instance(
    engine: Any, deploy: Any, kind: str
) -> None:
    deploy(linear("short", 2))
    iid = engine.runtime.start("short", {}, ADMIN).instance_id
    damage(engine, iid, DAMAGES[kind])
    with pytest.raises(DamagedState) as raised:
        engine.runtime.get(iid)
    assert raised.value.instance_id == iid
    assert str(raised.value).startswith(f"Instance {iid} is damaged")
    expected = "not valid JSON" if kind == "not-json" else "SpiffWorkflow cannot restore it"
    assert expected in raised.value.problem
    with pytest.raises(DamagedState):
        engine.runtime.suspend(iid, ADMIN, "x")
    assert engine.runtime.get(iid, with_data=False).state == "running"


def test_a_suspended_damaged_instance_is_terminated_from_its_rows(engine: Any, deploy: Any) -> None:
    deploy(linear("short", 2))
    iid = engine.runtime.start("short", {}, ADMIN).instance_id
    engine.runtime.suspend(iid, ADMIN, "looking into it")
    damage(engine, iid)
    engine.runtime.terminate(iid, ADMIN, "its state was lost")
    assert engine.runtime.get(iid, with_data=False).state == "terminated"
    assert engine.tasks.list(instance_id=iid).items == []
    assert [t.element_id for t in engine.tasks.list(instance_id=iid, state="cancelled").items] == [
        "task_1"
    ]
    assert stored(engine, iid)[0] == NOT_JSON  # the evidence stays
    assert engine.verify_history() == []
    checked, found = engine.check_states()
    assert checked == 1 and [(d.instance_id, d.ended_as_damaged) for d in found] == [(iid, True)]


def test_a_damaged_instance_is_not_moved_to_a_new_version_and_says_why(
    engine: Any, deploy: Any
) -> None:
    deploy(linear("short", 2))
    broken = engine.runtime.start("short", {}, ADMIN).instance_id
    fine = engine.runtime.start("short", {}, ADMIN).instance_id
    damage(engine, broken)
    deploy(linear("short", 3))
    moved, refused = engine.runtime.migrate_all("short", ADMIN, reason="v2")
    assert [m.instance_id for m in moved] == [fine]
    assert [(r.instance_id, r.problems) for r in refused] == [
        (broken, [f"its stored state cannot be loaded ({_problem(engine, broken)})"])
    ]
    assert engine.runtime.get(broken, with_data=False).version == 1


def _problem(engine: Any, instance_id: int) -> str:
    with pytest.raises(DamagedState) as raised:
        engine.runtime.workflow(instance_id)
    return raised.value.problem


def test_a_damaged_instance_does_not_hold_up_the_timers_due_after_it(
    engine: Any, deploy: Any, clock: Any
) -> None:
    from datetime import timedelta

    d = Diagram("nap").start().timer("sleep", '"PT1H"').user("woke").end()
    deploy(d.chain("start", "sleep", "woke", "end"))
    first = engine.runtime.start("nap", {}, ADMIN).instance_id
    second = engine.runtime.start("nap", {}, ADMIN).instance_id
    damage(engine, first)
    clock.set(clock.now() + timedelta(hours=1))
    fired = engine.timers.fire_due()
    assert [(f.instance_id, f.retried) for f in fired] == [(first, True), (second, False)]
    assert f"Instance {first} is damaged" in (fired[0].incident or "")
    assert [t.element_id for t in engine.tasks.list(instance_id=second).items] == ["woke"]
    (waiting,) = engine.timers.waiting(instance_id=first)
    assert waiting["attempts"] == 1 and "is damaged" in waiting["last_error"]
    engine.runtime.terminate(first, ADMIN, "lost")
    assert engine.timers.waiting(instance_id=first) == []


def test_a_message_for_a_damaged_instance_waits_and_the_others_go_out(
    engine: Any, deploy: Any
) -> None:
    prize = (
        Diagram("prize")
        .start()
        .catch_message("wait_nomination", "nomination", variable="nomination")
        .user("screen", "Screen nominations")
        .end()
    )
    prize.correlate("nomination", "year", "year")
    prize.chain("start", "wait_nomination", "screen", "end")
    nominator = (
        Diagram("nominate")
        .start()
        .user("write", "Write nomination")
        .throw_message("send", "nomination", payload="{'year': year}")
        .end()
    )
    nominator.correlate("nomination", "year", "year")
    nominator.chain("start", "write", "send", "end")
    deploy(prize, nominator)
    broken = engine.runtime.start("prize", {"year": 2025}, ADMIN).instance_id
    fine = engine.runtime.start("prize", {"year": 2026}, ADMIN).instance_id
    damage(engine, broken)
    for year in (2025, 2026):
        sender = engine.runtime.start("nominate", {"year": year}, ADMIN).instance_id
        (write,) = engine.tasks.list(instance_id=sender).items
        engine.tasks.complete(write.id, {}, ADMIN)  # the sender's own step is not refused
        assert engine.runtime.get(sender, with_data=False).state == "completed"
    assert [t.element_id for t in engine.tasks.list(instance_id=fine).items] == ["screen"]
    with engine.db.read() as session:
        (kept,) = session.scalars(select(MessageOutbox)).all()
        subscription = session.scalars(
            select(MessageSubscription).where(MessageSubscription.instance_id == broken)
        ).one()
    assert kept.attempts >= 1 and f"Instance {broken} is damaged" in kept.last_error
    assert subscription.message_name == "nomination"


# -- the case page ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", DAMAGES)
def test_the_case_page_shows_a_damaged_case_from_its_rows(
    town: Any, app: Flask, plan: int, kind: str
) -> None:
    damage(town.engine, plan, DAMAGES[kind])
    for user in ("admin", "ansvarig.farsta"):
        response = client_for(app, user).get(f"/arenden/{plan}")
        assert response.status_code == 200, user
        page = response.get_data(as_text=True)
        assert DAMAGED in page
        assert "Ta fram lägesbild" in page  # its open tasks, from their rows
        assert "Ingenting kan göras i ärendet." in page
    technical = client_for(app, "admin").get(f"/arenden/{plan}").get_data(as_text=True)
    assert ("not valid JSON" if kind == "not-json" else "SpiffWorkflow cannot") in technical
    admin = client_for(app, "admin")
    diagram = admin.get(f"/arenden/{plan}/diagram.json")
    assert diagram.status_code == 200
    assert diagram.get_json()["damaged"] is True
    assert diagram.get_json()["active"] == ["organisation_plans"]  # calls the open tasks'
    assert "confirm_participants" in diagram.get_json()["completed"]  # from the history
    called = admin.get(f"/arenden/{plan}/diagram.json?process=organisation_plan").get_json()
    assert called["active"] == ["lagesbild"]  # the open task rows' element


def test_the_task_page_of_a_damaged_case_says_so_and_keeps_nothing(
    town: Any, app: Flask, plan: int
) -> None:
    task = lagesbild(town, plan, "farsta")
    damage(town.engine, plan)
    before = counts(town.engine, plan)
    farsta = client_for(app, "ansvarig.farsta")
    shown = farsta.get(f"/uppgifter/{task.id}")
    assert shown.status_code == 409
    message = "Ärendet som uppgiften hör till är skadat"
    assert message in shown.get_data(as_text=True)
    sent = post(farsta, f"/uppgifter/{task.id}", {"analys": "Skadegörelsen ökar."})
    assert sent.status_code == 409
    assert message in sent.get_data(as_text=True)
    assert town.engine.tasks.get(task.id).state == "open"
    assert counts(town.engine, plan) == before


# -- the API ------------------------------------------------------------------------------------


def test_the_api_shows_a_damaged_case_and_refuses_work_in_it(
    town: Any, app: Flask, plan: int
) -> None:
    task = lagesbild(town, plan, "farsta")
    damage(town.engine, plan, NOT_A_STATE)
    before = counts(town.engine, plan)
    client = app.test_client()
    shown = client.get(f"/api/v1/instances/{plan}", headers=api_headers(town, "admin"))
    assert shown.status_code == 200
    body = shown.get_json()
    assert body["state"] == "running" and "SpiffWorkflow cannot restore it" in body["damaged"]
    assert "data" not in body
    farsta = api_headers(town, "ansvarig.farsta")
    for response in (
        client.get(f"/api/v1/tasks/{task.id}", headers=farsta),
        client.post(
            f"/api/v1/tasks/{task.id}/complete",
            json={"data": {"analys": "Skadegörelsen ökar."}},
            headers=farsta,
        ),
    ):
        assert response.status_code == 409
        assert response.mimetype == "application/problem+json"
        assert f"Instance {plan} is damaged" in response.get_json()["detail"]
    assert town.engine.tasks.get(task.id).state == "open"
    assert counts(town.engine, plan) == before


# -- the cockpit ------------------------------------------------------------------------------


def test_the_cockpit_terminates_a_damaged_case_with_a_reason(
    town: Any, app: Flask, plan: int
) -> None:
    damage(town.engine, plan)
    before = counts(town.engine, plan)
    assert before["open_tasks"] == 6 and before["timers"] == 6
    admin = client_for(app, "admin")
    page = admin.get(f"/admin/arenden/{plan}")
    assert page.status_code == 200
    text_ = page.get_data(as_text=True)
    assert DAMAGED in text_ and "not valid JSON" in text_
    assert f"/admin/arenden/{plan}/terminate" in text_
    assert f"/admin/arenden/{plan}/suspend" not in text_  # only terminating can work

    refused = post(admin, f"/admin/arenden/{plan}/suspend", {"reason_suspend": "Utreds"})
    assert refused.status_code == 409
    assert f"Instance {plan} is damaged" in refused.get_data(as_text=True)
    missing = post(admin, f"/admin/arenden/{plan}/terminate", {"reason_terminate": " "})
    assert missing.status_code == 400
    assert counts(town.engine, plan) == before
    assert stored(town.engine, plan)[1] == "running"

    done = post(
        admin, f"/admin/arenden/{plan}/terminate", {"reason_terminate": "Tillståndet förstördes"}
    )
    assert done.status_code == 303
    state, row_state, _version = stored(town.engine, plan)
    assert row_state == "terminated" and state == NOT_JSON  # the damaged text is kept
    assert town.engine.tasks.list(instance_id=plan).items == []
    assert len(town.engine.tasks.list(instance_id=plan, state="cancelled").items) == 6
    assert town.engine.timers.waiting(instance_id=plan) == []
    events = town.history(plan)
    ended = [e for e in events if e["kind"] == "instance.terminated"]
    assert [(e["actor"], e["data"]["reason"]) for e in ended] == [
        ("admin", "Tillståndet förstördes")
    ]
    assert "not valid JSON" in ended[0]["data"]["damaged"]
    assert sum(e["kind"] == "task.cancelled" for e in events) == 6
    assert town.engine.verify_history() == []
    after = admin.get(f"/admin/arenden/{plan}").get_data(as_text=True)
    assert DAMAGED in after and "Ärendet är avslutat; det finns inget att göra." in after


def test_other_pages_skip_a_damaged_case(town: Any, app: Flask, plan: int) -> None:
    damage(town.engine, plan)
    for user, url in (("samordnare", "/oversikt/lagesbild"), ("admin", "/arenden")):
        assert client_for(app, user).get(url).status_code == 200, url


# -- the command line -------------------------------------------------------------------------


def test_the_cli_reports_and_terminates_a_damaged_case(town: Any, plan: int) -> None:
    task = lagesbild(town, plan, "farsta")
    damage(town.engine, plan, NOT_A_STATE)
    before = counts(town.engine, plan)

    verify = kedja(town, "audit", "verify")
    assert verify.exit_code == 1, verify.output
    assert f"instance {plan} (plan_cycle, running): SpiffWorkflow cannot restore it" in (
        verify.output
    )
    assert f"kedja terminate {plan}" in verify.output
    shown = kedja(town, "instance", str(plan))
    assert shown.exit_code == 0, shown.output
    assert "DAMAGED: its stored state cannot be loaded" in shown.output
    completed = kedja(town, "complete", str(task.id), "--as", "ansvarig.farsta", "--data", "{}")
    assert completed.exit_code == 1
    assert f"kedja: Instance {plan} is damaged" in completed.output
    assert "Traceback" not in completed.output
    assert counts(town.engine, plan) == before

    ended = kedja(town, "terminate", str(plan), "--reason", "Återställningen misslyckades")
    assert ended.exit_code == 0, ended.output
    assert f"Instance {plan}: terminated (its stored state was damaged" in ended.output
    again = kedja(town, "audit", "verify", "--json")
    assert again.exit_code == 0, again.output
    report = json.loads(again.output)
    assert report["problems"] == []
    assert [(d["instance_id"], d["ended_as_damaged"]) for d in report["damaged"]] == [(plan, True)]
