"""Attached files nothing refers to are deleted; a quota per task and per person (issue 14,
item 7).

The reproduction: a file saved with a task's draft and then replaced was never deleted (five
saves of a 20 MB file kept 100 MB). Here, through Flask's test client with multipart
uploads as a browser sends them, a replaced or removed file goes when the draft is saved, a
file the completion does not keep goes when the task is completed, a terminated case's
draft-only files go at the next sweep (`kedja attachments sweep`, and when the worker
starts), and an upload whose form was never saved (the process died in between) is kept for
a day and then swept. A file the completion kept stays, however often the case is swept. A
file that would pass the task's or the person's quota is refused beside its field, with
everything else that was typed kept and nothing stored. The file is the row (its bytes are
`attachment.content`), so "the files on disk" are counted as the rows and their stored
bytes. Real SQLite and PostgreSQL, no mocks.
"""

from __future__ import annotations

import io
import json
import re
import time
from datetime import timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from engine.errors import ValidationError
from engine.scheduler import TimerScheduler
from processes import attachment_cleanup, attachments
from processes.attachment_quotas import MB, Quotas
from processes.models import Attachment
from tests.city import City
from tests.test_webui_tasks import client_for, lagesbild_form, open_planning
from webui import cli
from webui.app import create_app

FIELD = "/brottsstatistik/bilaga"
OTHER_FIELD = "/incidentrapporter/bilaga"
TYPED = "Skadegörelse och hot kring centrum, kvällstid."


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def any_city(request: pytest.FixtureRequest) -> City:
    return request.getfixturevalue("city" if request.param == "sqlite" else "city_pg")


def make_app(city: City) -> Any:
    return create_app(city.engine, {"SECRET_KEY": "tests", "WTF_CSRF_ENABLED": False})


def stored(city: City) -> list[tuple[int, int, str, int]]:
    """Every attachment kept: (id, task, field, bytes stored), oldest first."""
    with city.engine.db.read() as session:
        rows = session.execute(
            select(
                Attachment.id,
                Attachment.task_id,
                Attachment.field,
                func.length(Attachment.content),
            ).order_by(Attachment.id)
        ).all()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def stored_bytes(city: City) -> int:
    return sum(r[3] for r in stored(city))


def pdf(size: int, mark: int = 0) -> bytes:
    head = b"%PDF-1.4 "
    return head + bytes([mark % 256]) * (size - len(head))


def kept_value(html: str, pointer: str) -> str | None:
    """The hidden input a form keeps an attached file with (what the browser sends back)."""
    match = re.search(rf'<input type="hidden" name="{re.escape(pointer)}" value="([^"]+)">', html)
    return match.group(1).replace("&amp;", "&") if match else None


def send(client: Any, task_id: int, form: dict[str, Any]) -> Any:
    return client.post(f"/uppgifter/{task_id}", data=form, content_type="multipart/form-data")


def draft_with_file(client: Any, task_id: int, content: bytes, name: str, **more: Any) -> Any:
    """Save a draft the way the page does: what it shows kept, plus a new file in FIELD."""
    page = client.get(f"/uppgifter/{task_id}").get_data(as_text=True)
    form: dict[str, Any] = {"_action": "draft", "/brottsstatistik/anvand": "true", **more}
    for pointer in (FIELD, OTHER_FIELD):
        value = kept_value(page, pointer)
        if value:
            form[pointer] = value
    form["#file" + FIELD] = (io.BytesIO(content), name)
    return send(client, task_id, form)


# -- a replaced or removed file goes with the draft --------------------------------------------


def test_five_draft_saves_of_a_replaced_file_keep_one_file(any_city: City) -> None:
    city = any_city
    open_planning(city)
    farsta = city.task("ansvarig.farsta", "lagesbild")
    client = client_for(make_app(city), "ansvarig.farsta")
    size = 2 * MB
    for n in range(5):
        response = draft_with_file(client, farsta.id, pdf(size, n), f"statistik-{n}.pdf")
        assert response.status_code == 303
        [(attachment_id, task_id, field, length)] = stored(city)
        assert (task_id, field, length) == (farsta.id, FIELD, size)
        draft = city.engine.tasks.get(farsta.id).draft
        assert draft["brottsstatistik"]["bilaga"] == f"attachment:{attachment_id}/statistik-{n}.pdf"
    assert stored_bytes(city) == size  # not 5 × size

    # Saving again without a new file keeps the same one.
    page = client.get(f"/uppgifter/{farsta.id}").get_data(as_text=True)
    again = {"_action": "draft", "/brottsstatistik/anvand": "true", FIELD: kept_value(page, FIELD)}
    assert send(client, farsta.id, again).status_code == 303
    assert [r[0] for r in stored(city)] == [attachment_id]
    download = client.get(f"/uppgifter/bilagor/{attachment_id}")
    assert download.status_code == 200 and download.data == pdf(size, 4)


def test_a_file_ticked_for_removal_goes_when_the_draft_is_saved(any_city: City) -> None:
    city = any_city
    open_planning(city)
    farsta = city.task("ansvarig.farsta", "lagesbild")
    client = client_for(make_app(city), "ansvarig.farsta")
    assert draft_with_file(client, farsta.id, pdf(1000), "a.pdf").status_code == 303
    [(attachment_id, *_)] = stored(city)
    page = client.get(f"/uppgifter/{farsta.id}").get_data(as_text=True)
    form = {
        "_action": "draft",
        "/brottsstatistik/anvand": "true",
        FIELD: kept_value(page, FIELD),
        "#remove" + FIELD: "1",
    }
    assert send(client, farsta.id, form).status_code == 303
    assert stored(city) == []
    assert "bilaga" not in city.engine.tasks.get(farsta.id).draft["brottsstatistik"]
    assert client.get(f"/uppgifter/bilagor/{attachment_id}").status_code == 404


# -- completing keeps what the final data holds, and only that -----------------------------------


def test_completing_keeps_the_files_of_the_final_data_and_deletes_the_rest(any_city: City) -> None:
    city = any_city
    open_planning(city)
    farsta = city.task("ansvarig.farsta", "lagesbild")
    client = client_for(make_app(city), "ansvarig.farsta")
    # The draft holds a file in each of two fields.
    first = draft_with_file(client, farsta.id, pdf(1000, 1), "utkast.pdf")
    assert first.status_code == 303
    page = client.get(f"/uppgifter/{farsta.id}").get_data(as_text=True)
    second = {
        "_action": "draft",
        "/brottsstatistik/anvand": "true",
        FIELD: kept_value(page, FIELD),
        "/incidentrapporter/anvand": "true",
        "#file" + OTHER_FIELD: (io.BytesIO(pdf(1000, 2)), "incidenter.pdf"),
    }
    assert send(client, farsta.id, second).status_code == 303
    draft_statistics, draft_incidents = (r[0] for r in stored(city))

    # Completed with a new statistics file, and without the incidents file.
    page = client.get(f"/uppgifter/{farsta.id}").get_data(as_text=True)
    form = lagesbild_form(**{FIELD: kept_value(page, FIELD), OTHER_FIELD: None})
    form["#file" + FIELD] = (io.BytesIO(pdf(3000, 3)), "slutlig.pdf")
    assert send(client, farsta.id, form).status_code == 303

    [(final, task_id, field, length)] = stored(city)
    assert (task_id, field, length) == (farsta.id, FIELD, 3000)
    assert final not in (draft_statistics, draft_incidents)
    completed = [e for e in city.history(farsta.instance_id) if e["kind"] == "task.completed"]
    assert completed[-1]["data"]["data"]["brottsstatistik"]["bilaga"] == (
        f"attachment:{final}/slutlig.pdf"
    )
    # The record's file stays, however often the case is swept, also long after.
    city.clock.advance(timedelta(days=400))
    assert attachment_cleanup.sweep(city.engine).ids == []
    assert [r[0] for r in stored(city)] == [final]
    assert client_for(make_app(city), "samordnare").get(f"/uppgifter/bilagor/{final}").data == (
        pdf(3000, 3)
    )


# -- a case that ends, and an upload whose form was never saved ----------------------------------


def test_a_terminated_cases_draft_only_files_go_at_the_next_sweep(any_city: City) -> None:
    city = any_city
    open_planning(city)
    app = make_app(city)
    farsta = city.task("ansvarig.farsta", "lagesbild")
    bromma = city.task("ansvarig.bromma", "lagesbild")
    farsta_client = client_for(app, "ansvarig.farsta")
    form = lagesbild_form()
    form["#file" + FIELD] = (io.BytesIO(pdf(2000, 1)), "farsta.pdf")
    assert send(farsta_client, farsta.id, form).status_code == 303  # completed with its file
    [(farsta_file, *_)] = stored(city)
    bromma_client = client_for(app, "ansvarig.bromma")
    assert draft_with_file(bromma_client, bromma.id, pdf(3000, 2), "bromma.pdf").status_code == 303
    bromma_file = stored(city)[-1][0]

    city.engine.runtime.terminate(farsta.instance_id, city.actor("admin"), "Fel år")
    assert city.engine.tasks.get(bromma.id).state == "cancelled"
    assert [r[0] for r in stored(city)] == [farsta_file, bromma_file]  # until the sweep

    runner = CliRunner()
    url = city.engine.db.url
    dry = runner.invoke(cli.main, ["attachments", "sweep", "--db", url, "--dry-run", "--json"])
    assert dry.exit_code == 0, dry.output
    assert json.loads(dry.stdout)["ids"] == [bromma_file]
    assert [r[0] for r in stored(city)] == [farsta_file, bromma_file]  # a dry run deletes nothing
    swept = runner.invoke(cli.main, ["attachments", "sweep", "--db", url])
    assert swept.exit_code == 0, swept.output
    assert "deleted 1 unreferenced attachment(s)" in swept.stdout
    assert [r[0] for r in stored(city)] == [farsta_file]  # the record's file stays


def test_an_upload_whose_form_was_never_saved_is_kept_a_day_then_swept(any_city: City) -> None:
    """The upload commits before the form is saved. If the process dies in between, the
    file is a row nothing refers to: kept for `GRACE` (its form may still come), then
    removed by the sweep the worker runs when it starts."""
    city = any_city
    open_planning(city)
    farsta = city.task("ansvarig.farsta", "lagesbild")
    orphan = attachments.store(
        city.engine, farsta, FIELD, "halv.pdf", pdf(1000), city.actor("ansvarig.farsta")
    )
    # ...and here the request died: no draft refers to it.
    city.clock.advance(timedelta(hours=23))
    assert attachment_cleanup.sweep(city.engine).ids == []
    assert [r[0] for r in stored(city)] == [orphan.id]
    city.clock.advance(timedelta(hours=2))
    scheduler = TimerScheduler(city.engine.timers)
    attachment_cleanup.schedule_sweep(city.engine, scheduler)
    [job] = scheduler._scheduler.get_jobs()
    assert str(job.trigger) == "cron[hour='3', minute='45']"
    scheduler.start()  # the first sweep runs at once, on the scheduler's thread
    try:
        deadline = time.monotonic() + 30
        while stored(city) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        scheduler.stop()
    assert stored(city) == []


def test_a_refused_submission_keeps_its_upload_for_the_next_try(any_city: City) -> None:
    """A form refused for an error shows the uploaded file again; sent again (within the
    day), the completion keeps it."""
    city = any_city
    open_planning(city)
    farsta = city.task("ansvarig.farsta", "lagesbild")
    client = client_for(make_app(city), "ansvarig.farsta")
    form = lagesbild_form(**{"/analys": None})  # required, missing
    form["#file" + FIELD] = (io.BytesIO(pdf(1000)), "statistik.pdf")
    refused = send(client, farsta.id, form)
    assert refused.status_code == 400
    reference = kept_value(refused.get_data(as_text=True), FIELD)
    [(attachment_id, *_)] = stored(city)
    assert reference == f"attachment:{attachment_id}/statistik.pdf"
    again = lagesbild_form(**{FIELD: reference})
    assert send(client, farsta.id, again).status_code == 303
    assert [r[0] for r in stored(city)] == [attachment_id]


def test_a_release_never_touches_another_tasks_files(city: City) -> None:
    """A tampered form naming Bromma's file (same case) as "shown" cannot delete it."""
    open_planning(city)
    app = make_app(city)
    bromma = city.task("ansvarig.bromma", "lagesbild")
    farsta = city.task("ansvarig.farsta", "lagesbild")
    theirs = attachments.store(
        city.engine, bromma, FIELD, "b.pdf", pdf(1000), city.actor("ansvarig.bromma")
    )
    form = {
        "_action": "draft",
        "/brottsstatistik/anvand": "true",
        FIELD: theirs.reference,
        "#remove" + FIELD: "1",
    }
    assert send(client_for(app, "ansvarig.farsta"), farsta.id, form).status_code == 303
    assert [r[0] for r in stored(city)] == [theirs.id]


# -- quotas ------------------------------------------------------------------------------------


def test_a_file_past_the_tasks_quota_is_refused_beside_its_field(
    any_city: City, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KEDJA_UPLOAD_QUOTA_TASK_MB", "1")
    city = any_city
    open_planning(city)
    farsta = city.task("ansvarig.farsta", "lagesbild")
    client = client_for(make_app(city), "ansvarig.farsta")
    assert draft_with_file(client, farsta.id, pdf(600_000), "a.pdf").status_code == 303
    before, draft_before = stored(city), city.engine.tasks.get(farsta.id).draft

    page = client.get(f"/uppgifter/{farsta.id}").get_data(as_text=True)
    form = lagesbild_form(**{FIELD: kept_value(page, FIELD)})
    form["_action"] = "draft"
    form["#file" + OTHER_FIELD] = (io.BytesIO(pdf(600_000)), "b.pdf")
    response = send(client, farsta.id, form)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    message = (
        "Filen b.pdf ryms inte: uppgiftens bifogade filer får vara högst 1 MB tillsammans, "
        "och 0,6 MB används redan."
    )
    assert f'<a href="#f-incidentrapporter-bilaga">Incidentrapporter (RiSK): {message}' in html
    assert (
        f'id="f-incidentrapporter-bilaga-fel"><span class="visually-hidden">Fel: </span>{message}'
        in html
    )
    assert TYPED in html and "Skadegörelsen ökar kring Farsta centrum." in html  # kept
    assert kept_value(html, FIELD) == kept_value(page, FIELD)
    assert stored(city) == before and city.engine.tasks.get(farsta.id).draft == draft_before

    # Replacing the file in the same field fits: the old one does not count, and goes.
    assert draft_with_file(client, farsta.id, pdf(900_000), "c.pdf").status_code == 303
    [(_id, _task, field, length)] = stored(city)
    assert (field, length) == (FIELD, 900_000)


def test_a_file_past_the_persons_quota_is_refused_until_other_work_is_done(
    any_city: City, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KEDJA_UPLOAD_QUOTA_USER_MB", "1")
    city = any_city
    open_planning(city)
    city.register.add_user(
        "kim.kollega",
        "Kim Kollega",
        organisation="farsta",
        grants=[("responsible", "farsta"), ("responsible", "bromma")],
    )
    app = make_app(city)
    farsta = city.task("kim.kollega", "lagesbild", "farsta")
    bromma = city.task("kim.kollega", "lagesbild", "bromma")
    client = client_for(app, "kim.kollega")
    assert draft_with_file(client, farsta.id, pdf(700_000), "f.pdf").status_code == 303

    refused = draft_with_file(client, bromma.id, pdf(700_000), "b.pdf", **{"/analys": TYPED})
    assert refused.status_code == 400
    html = refused.get_data(as_text=True)
    assert (
        "Filen b.pdf ryms inte: dina bifogade filer i uppgifter som inte är slutförda får vara "
        "högst 1 MB tillsammans, och 0,7 MB används redan." in html
    )
    assert TYPED in html
    assert [r[1] for r in stored(city)] == [farsta.id]

    # Once the Farsta task is completed its files are the record, not Kim's work in progress.
    page = client.get(f"/uppgifter/{farsta.id}").get_data(as_text=True)
    assert (
        send(client, farsta.id, lagesbild_form(**{FIELD: kept_value(page, FIELD)})).status_code
        == 303
    )
    assert draft_with_file(client, bromma.id, pdf(700_000), "b.pdf").status_code == 303
    assert sorted(r[1] for r in stored(city)) == sorted([farsta.id, bromma.id])


def test_the_quotas_come_from_the_environment_and_a_bad_one_stops_the_app(
    city: City, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert Quotas.from_env({}) == Quotas(100 * MB, 500 * MB)
    assert Quotas.from_env(
        {"KEDJA_UPLOAD_QUOTA_TASK_MB": "40", "KEDJA_UPLOAD_QUOTA_USER_MB": " 200 "}
    ) == Quotas(40 * MB, 200 * MB)
    for bad in ("0", "-5", "10.5", "many"):
        monkeypatch.setenv("KEDJA_UPLOAD_QUOTA_TASK_MB", bad)
        with pytest.raises(ValidationError, match="KEDJA_UPLOAD_QUOTA_TASK_MB must be a whole"):
            make_app(city)
