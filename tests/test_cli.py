"""The `kedja` command: every command, --json, and the exit codes scripts rely on."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from engine import NotPermitted
from tests.diagrams import Diagram, linear
from webui import cli

FORM = json.dumps(
    {
        "type": "object",
        "required": ["summary"],
        "properties": {"summary": {"type": "string", "minLength": 5}},
    }
)


@pytest.fixture
def kedja(db_url):
    runner = CliRunner()

    def invoke(*args):
        return runner.invoke(cli.main, [*args, "--db", db_url], catch_exceptions=False)

    # A shared database is migrated on purpose (SQLite migrates itself); see test_db_upgrade.
    assert invoke("db", "upgrade").exit_code == 0
    return invoke


@pytest.fixture
def bundle(tmp_path):
    folder = tmp_path / "bundle"
    folder.mkdir()
    (folder / "review.bpmn").write_text(linear("review", 2, form="summary.json").xml())
    (folder / "summary.json").write_text(FORM)
    return folder


def _json(result):
    return json.loads(result.stdout)


def test_a_whole_round_through_the_cli(kedja, bundle):
    deployed = kedja("deploy", str(bundle), "--json")
    assert deployed.exit_code == 0, deployed.output
    assert _json(deployed)[0]["key"] == "review" and _json(deployed)[0]["version"] == 1
    again = kedja("deploy", str(bundle))
    assert "unchanged, already" in again.stdout

    listed = _json(kedja("definitions", "--json"))
    assert [(d["key"], d["version"]) for d in listed] == [("review", 1)]

    # The process has no start form, so a start takes no data (engine/form_contract.py).
    refused = kedja("start", "review", "--data", '{"year": 2026}', "--as", "anna")
    assert refused.exit_code == 3 and "'year' cannot be set" in refused.stderr
    assert _json(kedja("instances", "--json")) == []
    started = kedja("start", "review", "--as", "anna", "--json")
    assert started.exit_code == 0, started.output
    iid = _json(started)["instance"]["id"]

    tasks = _json(kedja("tasks", "--json"))
    assert tasks["total"] == 1
    task_id = tasks["items"][0]["id"]

    assert kedja("claim", str(task_id), "--as", "bo").exit_code == 0
    bad = kedja("complete", str(task_id), "--as", "bo", "--data", '{"summary": "x"}')
    assert bad.exit_code == 3
    assert "summary" in bad.stderr and "nothing was saved" in bad.stderr
    ok = kedja("complete", str(task_id), "--as", "bo", "--data", '{"summary": "Allt väl"}')
    assert ok.exit_code == 0, ok.output
    twice = kedja("complete", str(task_id), "--as", "bo", "--data", '{"summary": "Igen!"}')
    assert twice.exit_code == 4
    assert "already completed by bo" in twice.stderr
    assert len(twice.stderr.strip().splitlines()) == 1

    shown = _json(kedja("instance", str(iid), "--history", "--json"))
    assert shown["instance"]["data"]["summary"] == "Allt väl"
    kinds = [e["kind"] for e in shown["history"]]
    assert kinds[0] == "instance.started" and "task.claimed" in kinds
    done = _json(kedja("tasks", "--completed", "--json"))
    assert [t["completed_by"] for t in done["items"]] == ["bo"]
    mine = _json(kedja("tasks", "--user", "bo", "--json"))
    assert mine["total"] == 1  # the second task: unclaimed, and bo may act on it

    assert kedja("audit", "verify").exit_code == 0
    assert kedja("suspend", str(iid), "--reason", "paus").exit_code == 0
    assert _json(kedja("instances", "--json"))[0]["state"] == "suspended"
    assert kedja("resume", str(iid)).exit_code == 0
    assert kedja("terminate", str(iid), "--reason", "test").exit_code == 0
    assert _json(kedja("instance", str(iid), "--json"))["instance"]["state"] == "terminated"


def test_usage_and_validation_exit_codes(kedja, tmp_path):
    assert kedja("start").exit_code == 2  # missing KEY
    assert kedja("start", "x", "--data", "[1]").exit_code == 2
    assert kedja("start", "x", "--data", "{not json").exit_code == 2
    broken = tmp_path / "broken.bpmn"
    broken.write_text("<bpmn:definitions><unclosed>")
    result = kedja("deploy", str(broken))
    assert result.exit_code == 3
    assert "broken.bpmn" in result.stderr
    missing = kedja("start", "nothing-deployed")
    assert missing.exit_code == 1 and "Deploy it with" in missing.stderr


def test_incident_is_reported_and_retry_exits_non_zero(kedja, tmp_path):
    d = Diagram("fragile").start().script("boom", "x = 1 / 0").user("t").end()
    (tmp_path / "fragile.bpmn").write_text(d.chain("start", "boom", "t", "end").xml())
    kedja("deploy", str(tmp_path / "fragile.bpmn"))
    started = kedja("start", "fragile", "--json")
    assert started.exit_code == 0
    assert "ZeroDivisionError" in _json(started)["incident"]
    iid = _json(started)["instance"]["id"]
    assert "INCIDENT" in kedja("instances").stdout
    retried = kedja("retry", str(iid))
    assert retried.exit_code == 1 and "failed again" in retried.stderr


def test_not_permitted_maps_to_exit_code_5(capsys):
    with pytest.raises(SystemExit) as exited:
        cli._fail(NotPermitted("bo may not complete task 3"), cli.Output(False))
    assert exited.value.code == 5
    assert capsys.readouterr().err.strip() == "kedja: bo may not complete task 3"


def test_db_upgrade(db_url):
    runner = CliRunner()
    if db_url.startswith("postgresql"):
        refused = runner.invoke(cli.main, ["tasks", "--db", db_url])
        assert refused.exit_code == 1 and "kedja db upgrade" in refused.stderr
    result = runner.invoke(cli.main, ["db", "upgrade", "--db", db_url, "--json"])
    assert result.exit_code == 0
    assert _json(result)["revision"]
    assert runner.invoke(cli.main, ["tasks", "--db", db_url]).exit_code == 0


def test_timers_are_listed_for_operators(kedja, tmp_path):
    d = Diagram("waiting").start().timer("pause", '"P2D"').user("t").end()
    (tmp_path / "waiting.bpmn").write_text(d.chain("start", "pause", "t", "end").xml())
    kedja("deploy", str(tmp_path / "waiting.bpmn"))
    iid = _json(kedja("start", "waiting", "--json"))["instance"]["id"]
    listed = _json(kedja("timers", "--json"))
    assert [(t["instance_id"], t["element_id"], t["kind"]) for t in listed] == [
        (iid, "pause", "timeDuration")
    ]
    assert "pause (timeDuration)" in kedja("timers").stdout
    shown = _json(kedja("instance", str(iid), "--json"))
    assert [t["element_id"] for t in shown["timers"]] == ["pause"]
