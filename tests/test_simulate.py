"""`kedja simulate`: a year on a throwaway copy, printed as a dated timeline."""

from __future__ import annotations

import json

from click.testing import CliRunner
from sqlalchemy import func, select

from engine import Engine
from engine.models import ProcessInstance
from tests.diagrams import Diagram
from webui import cli

STATUS_FORM = {
    "type": "object",
    "required": ["status"],
    "properties": {"status": {"type": "string", "enum": ["grön", "gul", "röd"]}},
}


def tertial_report() -> Diagram:
    d = (
        Diagram("tertialrapport", "Tertialrapport")
        .start()
        .timer("period_end", "t1_period_end", kind="timeDate")
        .user(
            "report", "Rapportera T1", lane="ansvarig", form="t1.json", dueDate="t1_report_deadline"
        )
        .boundary_timer("remind", "report", "t1_reminder", kind="timeDate", interrupting=False)
        .user("reminded", "Påminnelse: T1-rapporten", lane="ansvarig")
        .boundary_timer("escalate", "report", "t1_report_deadline", kind="timeDate")
        .user("escalated", "Eskalering: T1-rapporten är sen", lane="förvaltningschef")
        .user("compile", "Sammanställ T1", lane="samordnare")
        .end("done")
        .end("r_end")
        .end("e_end")
    )
    d.chain("start", "period_end", "report", "compile", "done")
    d.chain("remind", "reminded", "r_end").chain("escalate", "escalated", "e_end")
    return d


def _bundle(tmp_path):
    folder = tmp_path / "bundle"
    folder.mkdir()
    (folder / "tertial.bpmn").write_text(tertial_report().xml())
    (folder / "t1.json").write_text(json.dumps(STATUS_FORM))
    return folder


def test_a_year_without_anyone_acting_shows_reminder_and_escalation(tmp_path):
    url = f"sqlite:///{tmp_path / 'real.sqlite'}"
    Engine(url).close()  # the real database exists and stays untouched
    result = CliRunner().invoke(
        cli.main,
        [
            "simulate",
            "--db",
            url,
            "--from",
            "2026-01-01",
            "--to",
            "2026-12-31",
            "--deploy",
            str(_bundle(tmp_path)),
            "--start",
            'tertialrapport={"organisation": "farsta"}',
        ],
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    expected = [
        ("2026-04-30 23:59", "task 'Rapportera T1' for ansvarig in farsta, due 2026-05-15"),
        ("2026-05-07 08:00", "timer 'remind' fired"),  # 5 working days before; 14 May is a holiday
        ("2026-05-15 23:59", "task 'Rapportera T1' cancelled"),
        (
            "2026-05-15 23:59",
            "task 'Eskalering: T1-rapporten är sen' for förvaltningschef in farsta",
        ),
    ]
    for when, text in expected:
        assert any(line.startswith(when) and line.endswith(text) for line in lines), (when, text)
    real = Engine(url)
    with real.db.read() as s:
        assert s.scalar(select(func.count()).select_from(ProcessInstance)) == 0
    assert real.repository.definitions() == []
    real.close()


def test_auto_complete_fills_forms_and_finishes_the_instance(tmp_path):
    url = f"sqlite:///{tmp_path / 'real.sqlite'}"
    result = CliRunner().invoke(
        cli.main,
        [
            "simulate",
            "--db",
            url,
            "--from",
            "2026-01-01",
            "--to",
            "2026-12-31",
            "--json",
            "--deploy",
            str(_bundle(tmp_path)),
            "--start",
            "tertialrapport",
            "--auto-complete",
        ],
    )
    assert result.exit_code == 0, result.output
    events = [e["event"] for e in json.loads(result.stdout)]
    assert "task 'Rapportera T1' completed" in events
    assert events[-1] == "instance completed"
    assert not any("fired" in e and "remind" in e for e in events)


def test_a_year_of_the_citys_four_processes(tmp_path):
    """`kedja simulate --year-processes --auto-complete` over 2026 on an empty database: the
    demo city is built in the copy and all four processes run from start to end, the tertial
    loop inside the cycle, the prize from a public nomination to erasure."""
    url = f"sqlite:///{tmp_path / 'empty.sqlite'}"
    result = CliRunner().invoke(
        cli.main,
        [
            "simulate",
            "--db",
            url,
            "--from",
            "2026-01-01",
            "--to",
            "2027-02-28",
            "--year-processes",
            "--auto-complete",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    entries = json.loads(result.stdout)
    started = {e["instance"] for e in entries if e["event"] == "instance started"}
    completed = {e["instance"] for e in entries if e["event"] == "instance completed"}
    for key in ("plan_cycle", "guideline_revision", "safety_prize"):
        first = min((i for i in started if i.startswith(key + "#")), key=lambda i: int(i[-1]))
        assert first in completed, f"{first} did not run to its end"
    cycle = [e["event"] for e in entries if e["instance"] == "plan_cycle#1"]
    assert any("Rapportera tertialen" in e for e in cycle)  # the tertial loop, called
    assert not [e for e in entries if "INCIDENT" in e["event"] or "left open" in e["event"]]
    assert any(
        e["instance"].startswith("plan_cycle") and e["at"].startswith("2027-01-01") for e in entries
    )  # next year's cycle starts on 1 January
    # The real database was left untouched (empty: no tables with instances).
    engine = Engine(url)
    with engine.db.read() as session:
        assert session.scalar(select(func.count()).select_from(ProcessInstance)) == 0
    engine.close()
