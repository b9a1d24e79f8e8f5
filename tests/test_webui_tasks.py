"""The tasks area through Flask's test client, on the demo city: who sees which task, the
task list's tabs, filters and paging, claiming and handing over, the form (server-side
validation with messages by the field, drafts, tables that gain and lose rows without
JavaScript, read-only values the browser cannot change), attachments and their permissions,
and a completion that loses the race to someone else. Real engine, real SQLite, no mocks.
"""

from __future__ import annotations

import io
import re
from typing import Any
from uuid import UUID

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import select

from engine.models import HumanTask
from engine.tasks import TaskInfo
from processes import attachments, migrations
from processes.models import Base as GovernanceBase
from processes.models import Notification
from tests.city import City
from webui.app import create_app
from webui.tasks import views

SOURCES = (
    "brottsstatistik",
    "trygghetsmatning",
    "incidentrapporter",
    "risk_och_sarbarhetsanalys",
    "raddningstjanstens_statistik",
)


# -- helpers ---------------------------------------------------------------------------------


def task_data(city: City, task: TaskInfo) -> dict[str, Any]:
    with city.engine.db.read() as session:
        spiff_id = session.get(HumanTask, task.id).spiff_task_id
    return city.engine.runtime.workflow(task.instance_id).get_task_from_id(UUID(spiff_id)).data


def open_planning(city: City) -> None:
    """Start the 2026 cycle, let the coordinator confirm everyone, open planning."""
    city.start("plan_cycle", 2026)
    confirm = city.task("samordnare", "confirm_participants")
    city.complete("samordnare", confirm, {"deltagare": task_data(city, confirm)["deltagare"]})
    city.advance_to("2026-03-02T08:00")


@pytest.fixture
def app(city: City):  # type: ignore[no-untyped-def]
    return create_app(city.engine, {"SECRET_KEY": "tests", "WTF_CSRF_ENABLED": False})


def client_for(app: Any, user: str) -> Any:
    """A test client signed in as `user` (the session Flask-Login keeps after sign-in; the
    sign-in form itself is tested in the auth area)."""
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = user
        session["_fresh"] = True
    return client


def page_text(response: Any) -> str:
    return response.get_data(as_text=True)


def lagesbild_form(**changes: str) -> dict[str, Any]:
    """A complete lägesbild as the browser sends it: two sources used, the rest not."""
    form: dict[str, Any] = {
        "_action": "complete",
        "/brottsstatistik/anvand": "true",
        "/brottsstatistik/sammanfattning": "Skadegörelsen ökar kring Farsta centrum.",
        "/incidentrapporter/anvand": "true",
        "/incidentrapporter/sammanfattning": "Tre hot mot personal under hösten.",
        "/analys": "Skadegörelse och hot kring centrum, kvällstid.",
    }
    form.update(changes)
    return {k: v for k, v in form.items() if v is not None}


def field_tag(html: str, field_id: str) -> str:
    """The opening tag of the input, textarea or select with this id."""
    match = re.search(rf'<(?:input|textarea|select)[^>]* id="{re.escape(field_id)}"[^>]*>', html)
    assert match, f"no input with id {field_id}"
    return match.group(0)


# -- who sees what ---------------------------------------------------------------------------


def test_the_list_shows_the_users_own_organisations_tasks_only(city: City, app: Any) -> None:
    open_planning(city)
    farsta = city.task("ansvarig.farsta", "lagesbild")
    bromma = city.task("ansvarig.bromma", "lagesbild")

    html = page_text(client_for(app, "ansvarig.farsta").get("/uppgifter"))
    assert f'href="/uppgifter/{farsta.id}"' in html
    assert f'href="/uppgifter/{bromma.id}"' not in html
    assert "Farsta stadsdelsförvaltning" in html and "Bromma stadsdelsförvaltning" not in html
    assert "2026-03-20 16:00" in html  # due, in Stockholm time
    assert "<caption>Uppgifter 1–1 av 1, sorterade efter sista dag</caption>" in html

    # "Mina" is empty until the task is claimed; "Min grupp/organisation" offers it.
    client = client_for(app, "ansvarig.farsta")
    assert f"/uppgifter/{farsta.id}" not in page_text(client.get("/uppgifter?visa=mina"))
    assert f"/uppgifter/{farsta.id}" in page_text(client.get("/uppgifter?visa=grupp"))
    assert 'aria-current="page">Min grupp/organisation' in page_text(
        client.get("/uppgifter?visa=grupp")
    )


def test_another_organisations_task_is_not_found_even_by_its_url(city: City, app: Any) -> None:
    open_planning(city)
    farsta = city.task("ansvarig.farsta", "lagesbild")
    bromma = client_for(app, "ansvarig.bromma")
    assert bromma.get(f"/uppgifter/{farsta.id}").status_code == 404
    assert bromma.post(f"/uppgifter/{farsta.id}", data=lagesbild_form()).status_code == 404
    assert bromma.post(f"/uppgifter/{farsta.id}/ta").status_code == 404
    assert bromma.post(f"/uppgifter/{farsta.id}/lamna-over", data={"till": "x"}).status_code == 404
    assert bromma.get("/uppgifter/999999").status_code == 404
    assert city.engine.tasks.get(farsta.id).state == "open"
    assert city.engine.tasks.get(farsta.id).assignee is None
    # Signed out: to the sign-in page.
    anonymous = app.test_client().get(f"/uppgifter/{farsta.id}")
    assert anonymous.status_code == 302 and "/logga-in" in anonymous.headers["Location"]


def test_an_auditor_reads_a_task_but_cannot_change_it(city: City, app: Any) -> None:
    open_planning(city)
    farsta = city.task("ansvarig.farsta", "lagesbild")
    auditor = client_for(app, "revisor")
    html = page_text(auditor.get(f"/uppgifter/{farsta.id}"))
    assert "Du kan läsa uppgiften men inte fylla i den." in html
    assert 'name="/analys"' not in html and "Ta uppgiften" not in html
    assert auditor.post(f"/uppgifter/{farsta.id}", data=lagesbild_form()).status_code == 403
    assert auditor.post(f"/uppgifter/{farsta.id}/ta").status_code == 303
    task = city.engine.tasks.get(farsta.id)
    assert task.state == "open" and task.assignee is None
    assert "Det finns inga uppgifter här just nu." in page_text(auditor.get("/uppgifter"))


def test_posts_need_a_csrf_token(city: City) -> None:
    open_planning(city)
    farsta = city.task("ansvarig.farsta", "lagesbild")
    strict = create_app(city.engine, {"SECRET_KEY": "tests"})
    response = client_for(strict, "ansvarig.farsta").post(
        f"/uppgifter/{farsta.id}", data=lagesbild_form()
    )
    assert response.status_code == 400
    assert city.engine.tasks.get(farsta.id).state == "open"


# -- the form --------------------------------------------------------------------------------


def test_the_form_shows_the_tasks_data_instructions_and_labelled_fields(
    city: City, app: Any
) -> None:
    open_planning(city)
    farsta = city.task("ansvarig.farsta", "lagesbild")
    html = page_text(client_for(app, "ansvarig.farsta").get(f"/uppgifter/{farsta.id}"))
    assert "<h1>Ta fram lägesbild</h1>" in html
    assert "Planering och uppföljning" in html and "Farsta stadsdelsförvaltning" in html
    assert "Skriv sedan en kort analys" in html  # the task's documentation
    # Last year's conclusions come from the task's data and are read-only text.
    assert "Ingen årlig utvärdering för 2025" in html
    assert 'name="/forra_arets_slutsatser"' not in html
    assert (
        '<label for="f-analys">Analys <span class="required">(obligatoriskt)</span></label>' in html
    )
    analys = field_tag(html, "f-analys")
    assert 'aria-describedby="f-analys-hjalp"' in analys and "<textarea" in analys
    assert 'id="f-analys-hjalp">Vilka problem ser ni' in html
    assert 'type="checkbox" id="f-brottsstatistik-anvand"' in html
    assert 'type="file" id="f-brottsstatistik-bilaga" name="#file/brottsstatistik/bilaga"' in html
    assert 'enctype="multipart/form-data"' in html


def test_the_coordinators_participant_list_is_filled_in_from_the_case(city: City, app: Any) -> None:
    city.start("plan_cycle", 2026)
    confirm = city.task("samordnare", "confirm_participants")
    html = page_text(client_for(app, "samordnare").get(f"/uppgifter/{confirm.id}"))
    assert '<th scope="row">Farsta stadsdelsförvaltning</th>' in html
    assert 'id="f-deltagare-2-delta" name="/deltagare/2/delta" value="true" checked' in html
    assert "Deltar i år, Farsta stadsdelsförvaltning</label>" in html


def test_a_missing_required_field_is_shown_by_the_field_and_nothing_typed_is_lost(
    city: City, app: Any
) -> None:
    open_planning(city)
    farsta = city.task("ansvarig.farsta", "lagesbild")
    client = client_for(app, "ansvarig.farsta")
    response = client.post(f"/uppgifter/{farsta.id}", data=lagesbild_form(**{"/analys": ""}))
    assert response.status_code == 400
    html = page_text(response)
    assert "<title>Fel: Ta fram lägesbild – Kedja</title>" in html
    assert '<li><a href="#f-analys">Fyll i ”Analys”.</a></li>' in html
    analys = field_tag(html, "f-analys")
    assert 'aria-invalid="true"' in analys
    assert 'aria-describedby="f-analys-hjalp f-analys-fel"' in analys
    assert 'id="f-analys-fel"><span class="visually-hidden">Fel: </span>Fyll i ”Analys”.' in html
    assert ">Skadegörelsen ökar kring Farsta centrum.</textarea>" in html
    assert (
        'id="f-incidentrapporter-anvand" name="/incidentrapporter/anvand" value="true" checked'
        in html
    )
    assert city.engine.tasks.get(farsta.id).state == "open"


def test_a_used_source_without_summary_is_reported_at_the_summary_field(
    city: City, app: Any
) -> None:
    open_planning(city)
    farsta = city.task("ansvarig.farsta", "lagesbild")
    form = lagesbild_form(**{"/trygghetsmatning/anvand": "true"})
    html = page_text(client_for(app, "ansvarig.farsta").post(f"/uppgifter/{farsta.id}", data=form))
    assert (
        '<a href="#f-trygghetsmatning-sammanfattning">Trygghetsmätning: '
        "Fyll i ”Vad visar källan?”.</a>"
    ) in html


def test_completing_returns_to_the_list_with_a_confirmation(city: City, app: Any) -> None:
    open_planning(city)
    farsta = city.task("ansvarig.farsta", "lagesbild")
    client = client_for(app, "ansvarig.farsta")
    response = client.post(f"/uppgifter/{farsta.id}", data=lagesbild_form())
    assert response.status_code == 303 and response.headers["Location"] == "/uppgifter"
    html = page_text(client.get("/uppgifter"))
    assert "Klart! Uppgiften ”Ta fram lägesbild” är slutförd." in html
    done = city.engine.tasks.get(farsta.id)
    assert done.state == "completed" and done.completed_by == "ansvarig.farsta"
    completed = [e for e in city.history(farsta.instance_id) if e["kind"] == "task.completed"]
    data = completed[-1]["data"]["data"]
    assert data["brottsstatistik"] == {
        "anvand": True,
        "sammanfattning": "Skadegörelsen ökar kring Farsta centrum.",
    }
    assert data["trygghetsmatning"] == {"anvand": False}  # an unticked box is false
    assert data["analys"] == "Skadegörelse och hot kring centrum, kvällstid."
    # The next task (the action plan) is the user's now.
    assert city.task("ansvarig.farsta", "atgardsplan")


def test_a_draft_is_kept_and_shown_when_the_task_is_opened_again(city: City, app: Any) -> None:
    open_planning(city)
    farsta = city.task("ansvarig.farsta", "lagesbild")
    client = client_for(app, "ansvarig.farsta")
    form = {"_action": "draft", "/analys": "Halvfärdig analys", "/brottsstatistik/anvand": "true"}
    response = client.post(f"/uppgifter/{farsta.id}", data=form)
    assert response.status_code == 303
    saved = city.engine.tasks.get(farsta.id)
    assert saved.state == "open" and saved.assignee == "ansvarig.farsta"
    assert saved.draft["analys"] == "Halvfärdig analys"
    html = page_text(client.get(f"/uppgifter/{farsta.id}"))
    assert "Utkastet är sparat" in html
    assert ">Halvfärdig analys</textarea>" in html
    assert (
        'id="f-brottsstatistik-anvand" name="/brottsstatistik/anvand" value="true" checked' in html
    )


def test_read_only_values_come_from_the_case_not_from_the_browser(city: City, app: Any) -> None:
    city.start("plan_cycle", 2026)
    confirm = city.task("samordnare", "confirm_participants")
    rows = task_data(city, confirm)["deltagare"]
    form: dict[str, Any] = {"_action": "complete", "#count/deltagare": "1"}
    for i, _row in enumerate(rows):
        form[f"/deltagare/{i}/delta"] = "true"
        form[f"/deltagare/{i}/id"] = "hackad"
        form[f"/deltagare/{i}/namn"] = "Hackad"
    response = client_for(app, "samordnare").post(f"/uppgifter/{confirm.id}", data=form)
    assert response.status_code == 303
    data = city.instance(confirm.instance_id).data
    assert [r["id"] for r in data["deltagare"]] == [r["id"] for r in rows]
    assert {r["namn"] for r in data["deltagare"]} == {r["namn"] for r in rows}


def test_action_plan_rows_are_added_and_removed_without_javascript(city: City, app: Any) -> None:
    open_planning(city)
    farsta = city.task("ansvarig.farsta", "lagesbild")
    client = client_for(app, "ansvarig.farsta")
    client.post(f"/uppgifter/{farsta.id}", data=lagesbild_form())
    plan = city.task("ansvarig.farsta", "atgardsplan")
    html = page_text(client.get(f"/uppgifter/{plan.id}"))
    assert 'value="add:/atgarder"' in html and "Lägg till rad" in html

    first = {
        "#count/atgarder": "1",
        "/atgarder/0/orsak": "Skadegörelse i centrum",
        "/atgarder/0/atgard": "Trygghetsvandringar",
    }
    added = client.post(f"/uppgifter/{plan.id}", data={**first, "_action": "add:/atgarder"})
    assert added.status_code == 200
    html = page_text(added)
    assert ">Skadegörelse i centrum</textarea>" in html
    assert 'id="f-atgarder-1-orsak"' in html
    assert 'name="#count/atgarder" value="2"' in html
    assert f'formaction="/uppgifter/{plan.id}#f-atgarder-2-orsak"' in html

    both = {
        **first,
        "#count/atgarder": "2",
        "/atgarder/1/orsak": "Bränder vid skolan",
        "_action": "remove:/atgarder/0",
    }
    html = page_text(client.post(f"/uppgifter/{plan.id}", data=both))
    assert ">Bränder vid skolan</textarea>" in html
    assert "Skadegörelse i centrum" not in html
    assert 'name="#count/atgarder" value="1"' in html
    assert city.engine.tasks.get(plan.id).state == "open"  # nothing was submitted

    # Completing with a half-filled row: every missing cell is named with its row.
    response = client.post(f"/uppgifter/{plan.id}", data={**first, "_action": "complete"})
    html = page_text(response)
    assert response.status_code == 400
    assert (
        '<a href="#f-atgarder-0-operativt_mal">Åtgärder, rad 1: Fyll i ”Operativt mål”.</a>' in html
    )
    assert "Operativt mål, rad 1</label>" in html


def test_a_completion_that_loses_the_race_says_so_and_keeps_nothing(city: City, app: Any) -> None:
    open_planning(city)
    city.register.add_user(
        "kollega.farsta", "Kim Kollega", organisation="farsta", grants=[("responsible", "farsta")]
    )
    farsta = city.task("ansvarig.farsta", "lagesbild")
    slow = client_for(app, "ansvarig.farsta")
    assert slow.get(f"/uppgifter/{farsta.id}").status_code == 200
    fast = client_for(app, "kollega.farsta")
    assert fast.post(f"/uppgifter/{farsta.id}", data=lagesbild_form()).status_code == 303

    late = lagesbild_form(**{"/analys": "Min egen analys"})
    late["#file/brottsstatistik/bilaga"] = (io.BytesIO(b"%PDF-1.4 sent"), "sen.pdf")
    response = slow.post(f"/uppgifter/{farsta.id}", data=late, content_type="multipart/form-data")
    assert response.status_code == 409
    html = page_text(response)
    assert "Uppgiften slutfördes redan av Kim Kollega" in html
    assert "Min egen analys" in html  # shown, to copy
    assert 'name="/analys"' not in html  # as text: nothing can be sent again
    completed = [e for e in city.history(farsta.instance_id) if e["kind"] == "task.completed"]
    assert [e["actor"] for e in completed if e["task_id"] == farsta.id] == ["kollega.farsta"]
    assert attachments.list_for_instance(city.engine, farsta.instance_id) == []


# -- claim, release, hand over ---------------------------------------------------------------


def test_claim_release_and_hand_over_to_a_colleague(city: City, app: Any) -> None:
    open_planning(city)
    city.register.add_user(
        "kollega.farsta", "Kim Kollega", organisation="farsta", grants=[("responsible", "farsta")]
    )
    farsta = city.task("ansvarig.farsta", "lagesbild")
    client = client_for(app, "ansvarig.farsta")

    response = client.post(f"/uppgifter/{farsta.id}/ta", data={"next": "/uppgifter?visa=mina"})
    assert response.status_code == 303 and response.headers["Location"] == "/uppgifter?visa=mina"
    assert city.engine.tasks.get(farsta.id).assignee == "ansvarig.farsta"
    mine = page_text(client.get("/uppgifter?visa=mina"))
    assert f"/uppgifter/{farsta.id}" in mine and "Släpp" in mine

    client.post(f"/uppgifter/{farsta.id}/slapp")
    assert city.engine.tasks.get(farsta.id).assignee is None
    client.post(f"/uppgifter/{farsta.id}/ta", data={"next": "https://example.org/"})
    assert city.engine.tasks.get(farsta.id).assignee == "ansvarig.farsta"

    # Only colleagues who could do the task themselves are offered.
    html = page_text(client.get(f"/uppgifter/{farsta.id}"))
    offered = re.findall(
        r'<option value="([^"]+)">', html.split('id="till"')[1].split("</select>")[0]
    )
    assert offered == ["kollega.farsta"]
    refused = client.post(f"/uppgifter/{farsta.id}/lamna-over", data={"till": "ansvarig.bromma"})
    assert refused.status_code == 303
    assert city.engine.tasks.get(farsta.id).assignee == "ansvarig.farsta"

    response = client.post(f"/uppgifter/{farsta.id}/lamna-over", data={"till": "kollega.farsta"})
    assert response.status_code == 303 and response.headers["Location"] == "/uppgifter"
    assert city.engine.tasks.get(farsta.id).assignee == "kollega.farsta"
    assert "är överlämnad till Kim Kollega" in page_text(client.get("/uppgifter"))
    events = [e for e in city.history(farsta.instance_id) if e["kind"] == "task.delegated"]
    assert [(e["actor"], e["data"]) for e in events] == [
        ("ansvarig.farsta", {"from": "ansvarig.farsta", "to": "kollega.farsta"})
    ]
    assert city.engine.verify_history() == []
    with city.engine.db.read() as session:
        note = session.scalars(
            select(Notification).where(Notification.kind == "task_handed_over")
        ).one()
    assert note.recipient == "kollega.farsta" and note.link == f"/uppgifter/{farsta.id}"

    # The previous holder still sees the task (same organisation) but cannot send it.
    html = page_text(client.get(f"/uppgifter/{farsta.id}"))
    assert "Kim Kollega har uppgiften" in html and 'name="/analys"' not in html
    assert client.post(f"/uppgifter/{farsta.id}", data=lagesbild_form()).status_code == 403
    assert city.engine.tasks.get(farsta.id).state == "open"


# -- attachments -----------------------------------------------------------------------------


def test_an_attached_file_is_stored_listed_and_downloadable_only_by_those_allowed(
    city: City, app: Any
) -> None:
    open_planning(city)
    farsta = city.task("ansvarig.farsta", "lagesbild")
    client = client_for(app, "ansvarig.farsta")
    form = {
        "_action": "draft",
        "/brottsstatistik/anvand": "true",
        "#file/brottsstatistik/bilaga": (io.BytesIO(b"%PDF-1.4 statistik"), "../../Brott 2025.pdf"),
    }
    assert (
        client.post(
            f"/uppgifter/{farsta.id}", data=form, content_type="multipart/form-data"
        ).status_code
        == 303
    )
    (stored,) = attachments.list_for_instance(city.engine, farsta.instance_id)
    assert (stored.filename, stored.organisation, stored.field) == (
        "Brott 2025.pdf",
        "farsta",
        "/brottsstatistik/bilaga",
    )
    assert city.engine.tasks.get(farsta.id).draft["brottsstatistik"]["bilaga"] == stored.reference

    html = page_text(client.get(f"/uppgifter/{farsta.id}"))
    assert f'href="/uppgifter/bilagor/{stored.id}" download>Brott 2025.pdf</a>' in html
    assert "Filer som bifogats i ärendet för Farsta stadsdelsförvaltning" in html

    download = client.get(f"/uppgifter/bilagor/{stored.id}")
    assert download.status_code == 200 and download.data == b"%PDF-1.4 statistik"
    assert download.headers["Content-Type"] == "application/pdf"
    assert download.headers["Content-Disposition"].startswith("attachment;")
    # The coordinator's tasks of the same case gather every organisation's work.
    assert client_for(app, "samordnare").get(f"/uppgifter/bilagor/{stored.id}").status_code == 200
    assert (
        client_for(app, "lokalrad.farsta").get(f"/uppgifter/bilagor/{stored.id}").status_code == 404
    )
    assert (
        client_for(app, "ansvarig.bromma").get(f"/uppgifter/bilagor/{stored.id}").status_code == 404
    )
    assert client_for(app, "revisor").get(f"/uppgifter/bilagor/{stored.id}").status_code == 200

    # Completing keeps the file (the hidden reference); removing it is a tick.
    response = client.post(
        f"/uppgifter/{farsta.id}",
        data=lagesbild_form(**{"/brottsstatistik/bilaga": stored.reference}),
    )
    assert response.status_code == 303
    completed = [e for e in city.history(farsta.instance_id) if e["kind"] == "task.completed"]
    assert completed[-1]["data"]["data"]["brottsstatistik"]["bilaga"] == stored.reference


def test_a_refused_file_is_reported_by_its_field(city: City, app: Any) -> None:
    open_planning(city)
    farsta = city.task("ansvarig.farsta", "lagesbild")
    form = lagesbild_form()
    form["#file/brottsstatistik/bilaga"] = (io.BytesIO(b"MZ..."), "virus.exe")
    response = client_for(app, "ansvarig.farsta").post(
        f"/uppgifter/{farsta.id}", data=form, content_type="multipart/form-data"
    )
    assert response.status_code == 400
    html = page_text(response)
    assert (
        '<a href="#f-brottsstatistik-bilaga">Brottsstatistik: Filen virus.exe kan inte bifogas.'
        in html
    )
    assert city.engine.tasks.get(farsta.id).state == "open"
    assert attachments.list_for_instance(city.engine, farsta.instance_id) == []


def test_a_kept_file_value_must_be_this_tasks_own(city: City, app: Any) -> None:
    """A tampered hidden input cannot point the form at someone else's file: Bromma's file
    in the same plan-cycle case, a file that does not exist and an invented text are all
    dropped; the task's own upload stays."""
    open_planning(city)
    bromma = city.task("ansvarig.bromma", "lagesbild")
    farsta = city.task("ansvarig.farsta", "lagesbild")
    theirs = attachments.store(
        city.engine,
        bromma,
        "/brottsstatistik/bilaga",
        "b.pdf",
        b"%PDF",
        city.actor("ansvarig.bromma"),
    )
    ours = attachments.store(
        city.engine,
        farsta,
        "/incidentrapporter/bilaga",
        "f.pdf",
        b"%PDF",
        city.actor("ansvarig.farsta"),
    )
    assert theirs.instance_id == farsta.instance_id
    form = lagesbild_form(
        **{
            "/brottsstatistik/bilaga": theirs.reference,
            "/incidentrapporter/bilaga": ours.reference,
            "/trygghetsmatning/bilaga": "attachment:999/x.pdf",
            "/risk_och_sarbarhetsanalys/bilaga": "/filer/hittepa.pdf",
        }
    )
    assert (
        client_for(app, "ansvarig.farsta").post(f"/uppgifter/{farsta.id}", data=form).status_code
        == 303
    )
    completed = [e for e in city.history(farsta.instance_id) if e["kind"] == "task.completed"]
    data = completed[-1]["data"]["data"]
    assert "bilaga" not in data["brottsstatistik"]
    assert data["incidentrapporter"]["bilaga"] == ours.reference
    assert "bilaga" not in data["trygghetsmatning"]
    assert "bilaga" not in data["risk_och_sarbarhetsanalys"]


# -- the list: filters, overdue, paging, language ---------------------------------------------


def test_filters_overdue_marking_and_paging(city: City, app: Any, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    open_planning(city)
    admin = client_for(app, "admin")
    html = page_text(admin.get("/uppgifter"))
    assert html.count('<th scope="row"><a href="/uppgifter/') == 6  # six lägesbilder

    html = page_text(admin.get("/uppgifter?organisation=farsta"))
    assert html.count('<th scope="row"><a href="/uppgifter/') == 1
    assert "Farsta stadsdelsförvaltning</td>" in html
    assert page_text(admin.get("/uppgifter?process=tertial_loop")).count('scope="row"><a') == 0

    assert 'class="overdue"' not in page_text(admin.get("/uppgifter"))
    city.advance_to("2026-03-21T08:00")
    html = page_text(admin.get("/uppgifter?frist=forsenade"))
    assert html.count('<strong class="overdue">Försenad</strong>') == 6

    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    first = page_text(admin.get("/uppgifter"))
    assert "Sida 1 av 3" in first and 'rel="next"' in first and 'rel="prev"' not in first
    last = page_text(admin.get("/uppgifter?sida=3"))
    assert "Sida 3 av 3" in last and last.count('scope="row"><a') == 2
    ids_newest = re.findall(
        r'scope="row"><a href="/uppgifter/(\d+)"',
        page_text(admin.get("/uppgifter?sortera=senast&sida=1")),
    )
    assert len(ids_newest) == 2


def test_the_list_in_english(city: City, app: Any) -> None:
    open_planning(city)
    city.register.set_language("ansvarig.farsta", "en")
    html = page_text(client_for(app, "ansvarig.farsta").get("/uppgifter"))
    assert 'lang="en"' in html
    assert "<h1>Your tasks</h1>" in html
    assert "My group/organisation" in html
    farsta = city.task("ansvarig.farsta", "lagesbild")
    html = page_text(
        client_for(app, "ansvarig.farsta").post(
            f"/uppgifter/{farsta.id}", data=lagesbild_form(**{"/analys": ""})
        )
    )
    assert "Fill in “Analys”." in html
    assert '<h1 lang="sv">Ta fram lägesbild</h1>' in html
    assert '<span lang="sv">Analys</span>' in html


# -- the attachment table's migration ---------------------------------------------------------


def test_the_attachment_migration_matches_the_model_and_downgrades(city: City) -> None:
    engine = city.engine.db.write_engine
    assert migrations.current_revision(engine) == migrations.head_revision()
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "version_table": migrations.VERSION_TABLE,
                "include_name": lambda name, type_, parent: (
                    type_ != "table" or name in GovernanceBase.metadata.tables
                ),
            },
        )
        assert compare_metadata(context, GovernanceBase.metadata) == []
    command.downgrade(migrations._config(engine), "g001")
    assert migrations.current_revision(engine) == "g001"
    migrations.upgrade(engine)
    assert migrations.current_revision(engine) == migrations.head_revision()


def test_a_called_process_is_named_by_its_diagram_not_its_key(city: City, app: Any) -> None:
    """The process filter offers every deployed process, also those the four call (one
    organisation's plan, its tertial report …): each by its diagram's name, never its key."""
    open_planning(city)
    client = client_for(app, "ansvarig.farsta")
    html = client.get("/uppgifter").get_data(as_text=True)
    options = dict(re.findall(r'<option value="([a-z_]+)"[^>]*>([^<]*)</option>', html))
    assert options["organisation_plan"] == "Lägesbild och åtgärdsplan för en organisation"
    assert options["organisation_tertial_report"] == "Tertialrapport för en organisation"
    assert options["plan_cycle"] == "Planering och uppföljning"
    assert not [key for key, label in options.items() if label == key]
