"""Task lists as people see them: the flat visibility query gives exactly what the rule says,
filters narrow it, and a handover is one step that only goes to someone who may do the work."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from engine.errors import NotPermitted
from engine.models import HumanTask


@pytest.fixture
def busy_city(city):
    """The cycle under way: every organisation's lägesbild open."""
    city.start("plan_cycle")
    task = city.task("samordnare", "confirm_participants")
    data = city.engine.tasks.data(task.id)
    city.complete("samordnare", task, {"deltagare": data["deltagare"]})
    city.advance_to("2026-03-02T09:00:00")
    return city


def test_the_flat_query_shows_exactly_what_the_rule_allows(busy_city):
    engine = busy_city.engine
    with engine.db.read() as session:
        rows = session.scalars(select(HumanTask).where(HumanTask.state == "open")).all()
    users = [u.id for u in busy_city.register.users()]
    assert len(rows) > 5
    for user in users:
        actor = busy_city.register.actor(user)
        for scope in ("all", "mine", "claimable"):
            listed = {t.id for t in engine.tasks.list(actor=actor, scope=scope, limit=1000).items}
            expected = {
                r.id
                for r in rows
                if (scope != "claimable" and r.assignee == user)
                or (scope != "mine" and r.assignee is None and engine.tasks.may_work_on(actor, r))
            }
            assert listed == expected, (user, scope)


def test_filters_by_process_organisation_and_due(busy_city):
    engine = busy_city.engine
    coordinator = busy_city.register.actor("admin")  # sees every unassigned task
    farsta = engine.tasks.list(actor=coordinator, organisation="farsta").items
    assert farsta and {t.organisation for t in farsta} == {"farsta"}
    assert engine.tasks.list(actor=coordinator, definition_key="safety_prize").total == 0
    now = busy_city.clock.now()
    assert engine.tasks.list(actor=coordinator, due_before=now).total == 0
    soon = engine.tasks.list(actor=coordinator, due_before=now + timedelta(days=60))
    assert soon.total > 0
    latest_first = engine.tasks.list(actor=coordinator, newest_due_first=True, limit=1000).items
    dues = [t.due_at for t in latest_first if t.due_at]
    assert dues == sorted(dues, reverse=True)


def test_a_handover_goes_only_to_someone_who_may_do_the_work(busy_city):
    engine, register = busy_city.engine, busy_city.register
    task = busy_city.task("ansvarig.farsta", "lagesbild", "farsta")
    register.add_user("kollega.farsta", "Kim Kollega", grants=[("responsible", "farsta")])
    with pytest.raises(NotPermitted):
        engine.tasks.delegate(
            task.id, register.actor("ansvarig.bromma"), register.actor("ansvarig.farsta")
        )
    with pytest.raises(NotPermitted):
        engine.tasks.delegate(
            task.id, register.actor("kollega.farsta"), register.actor("ansvarig.bromma")
        )
    handed = engine.tasks.delegate(
        task.id, register.actor("kollega.farsta"), register.actor("ansvarig.farsta")
    )
    assert handed.assignee == "kollega.farsta"
    events = [e for e in busy_city.history(task.instance_id) if e["kind"] == "task.delegated"]
    assert events[-1]["actor"] == "ansvarig.farsta"
    assert events[-1]["data"] == {"from": None, "to": "kollega.farsta"}
    assert engine.verify_history() == []
