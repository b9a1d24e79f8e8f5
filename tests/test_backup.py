"""`kedja backup` then `kedja restore` into an empty database gives the same instances and
tasks and an audit chain that verifies; a restore never lands on a database in use."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from engine.models import HumanTask, ProcessInstance
from processes.governance import open_engine
from tests.conftest import pg_database
from webui import cli


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def source_and_empty(request, tmp_path) -> Iterator[tuple[object, str]]:
    """A demo city with work in progress, and the URL of an empty database of the same kind."""
    if request.param == "sqlite":
        city = request.getfixturevalue("city")
        yield city, f"sqlite:///{tmp_path / 'restored.sqlite'}"
        return
    city = request.getfixturevalue("city_pg")
    with pg_database("kedja_restore") as url:
        yield city, url


def _snapshot(engine) -> tuple[list, list]:
    with engine.db.read() as session:
        instances = [
            (r.id, r.key, r.state, r.version, r.workflow_state, r.history_hash)
            for r in session.scalars(select(ProcessInstance).order_by(ProcessInstance.id))
        ]
        tasks = [
            (r.id, r.instance_id, r.element_id, r.state, r.organisation, r.completed_by)
            for r in session.scalars(select(HumanTask).order_by(HumanTask.id))
        ]
    return instances, tasks


def test_backup_and_restore_give_identical_instances_tasks_and_history(source_and_empty, tmp_path):
    city, empty_url = source_and_empty
    city.start("plan_cycle")
    city.start("safety_prize")
    city.complete(
        "samordnare",
        city.task("samordnare", "confirm_participants"),
        {
            "deltagare": city.engine.tasks.data(city.task("samordnare", "confirm_participants").id)[
                "deltagare"
            ]
        },
    )
    before = _snapshot(city.engine)
    url = city.engine.db.url
    runner = CliRunner()
    target = tmp_path / "kedja.backup"
    made = runner.invoke(cli.main, ["backup", str(target), "--db", url])
    assert made.exit_code == 0, made.output
    done = runner.invoke(cli.main, ["restore", str(target), "--db", empty_url])
    assert done.exit_code == 0, done.output

    restored = open_engine(empty_url, city.clock)
    try:
        assert _snapshot(restored) == before
        assert restored.verify_history() == []
        # The restored database runs: the coordinator's next work is there.
        assert restored.tasks.list(limit=1000).total == city.engine.tasks.list(limit=1000).total
    finally:
        restored.close()
    again = runner.invoke(cli.main, ["restore", str(target), "--db", empty_url])
    assert again.exit_code != 0 and "not empty" in again.output
