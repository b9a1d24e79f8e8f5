"""The tertial dashboard (`/oversikt/lagesbild`, `processes.dashboard`): who has reported,
who is late, who is missing, how the measures stand and how they move; its CSV and xlsx
exports; its filters; who may see which organisation.

Each test runs a real T1 in the small demo city: `tertial_loop` started with the approved
plans of the four demo organisations, the clock moved to the period's end, Farsta and
Trafikkontoret reporting on time, Bromma after the deadline, AB Svenska Bostäder not at
all — so the figures come from the process itself, not from rows a test invented (except
where a test says so).
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook

from processes import dashboard
from processes.calendar import STOCKHOLM
from processes.models import TertialReportRow
from tests.test_process_tertial_loop import (
    CALENDAR,
    GREEN,
    LATE,
    ORGANISATIONS,
    RED,
    accept,
    council_notes,
    plan,
    report,
    rows,
)
from tests.test_webui_auth import make_app, sign_in

LATE_AT = "2026-05-18T10:00:00+02:00"
AFTER_T1 = "2026-05-20T09:00:00+02:00"
EVERY_ORGANISATION = ("samordnare", "radet1", "sekreterare", "stadsdirektor", "sakerhetschef")
EVERY_ORGANISATION_READ_ONLY = ("revisor", "admin")
NAMES = ORGANISATIONS


def simulate_t1(city: Any) -> int:
    """T1 2026 after the deadline: Farsta and Trafikkontoret on time, Bromma late (18 May),
    AB Svenska Bostäder not at all. Returns the loop's instance id."""
    instance = city.start("tertial_loop", year=2026, plans=[plan(org) for org in ORGANISATIONS])
    city.advance_to(CALENDAR["t1_period_end"])
    report(city, "farsta", GREEN)
    report(city, "trafikkontoret", RED, GREEN)
    city.advance_to(LATE_AT)
    report(city, "bromma", LATE)
    city.advance_to(AFTER_T1)
    return instance


def complete_t1(city: Any) -> None:
    """Svenska Bostäder reports (late too), every report is accepted: T1 is compiled."""
    report(city, "svenska_bostader", RED, GREEN)
    for org in ORGANISATIONS:
        accept(city, org)


@pytest.fixture
def app(city: Any) -> Flask:
    return make_app(city)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def any_city(request: pytest.FixtureRequest) -> Any:
    """The demo city on SQLite and on PostgreSQL: the read model's queries run on both."""
    return request.getfixturevalue("city" if request.param == "sqlite" else "city_pg")


def client_for(app: Flask, user: str) -> FlaskClient:
    client = app.test_client()
    assert sign_in(client, user).status_code == 302
    return client


def get(client: FlaskClient, url: str, status: int = 200) -> Any:
    response = client.get(url)
    assert response.status_code == status, (url, response.status_code)
    return response


def states(view: dashboard.TertialOverview) -> dict[str, str]:
    return {r.organisation: r.state for r in view.reports}


def read_csv(data: bytes) -> list[list[str]]:
    text = data.decode("utf-8")
    assert text.startswith("\ufeff"), "a byte-order mark, so Excel reads UTF-8"
    return list(csv.reader(io.StringIO(text[1:]), delimiter=";"))


def read_xlsx(data: bytes) -> dict[str, list[list[str]]]:
    book = load_workbook(io.BytesIO(data))
    return {
        sheet.title: [
            ["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)
        ]
        for sheet in book.worksheets
    }


# -- the read model ----------------------------------------------------------------------------


def test_after_t1_the_late_and_the_missing_are_named(any_city: Any) -> None:
    city = any_city
    simulate_t1(city)
    view = dashboard.overview(city.engine, 2026, "T1")
    assert states(view) == {
        "farsta": dashboard.SUBMITTED,
        "trafikkontoret": dashboard.SUBMITTED,
        "bromma": dashboard.LATE,
        "svenska_bostader": dashboard.MISSING,
    }
    assert view.phase == "after" and view.compiled_at is None  # not compiled: one is missing
    bromma = next(r for r in view.reports if r.organisation == "bromma")
    assert bromma.submitted_at == datetime.fromisoformat(LATE_AT)
    assert [(m.nr, m.status, m.farg) for m in bromma.measures] == [
        (1, "försenad", "gul"),
        (2, "försenad", "gul"),
    ]
    trafik = next(r for r in view.reports if r.organisation == "trafikkontoret")
    assert trafik.by_colour == {"grön": 4, "gul": 0, "röd": 1}
    f = view.figures
    assert (f.organisations, f.submitted, f.on_time, f.late, f.missing) == (4, 3, 2, 1, 1)
    assert f.measures == 3 + 5 + 2  # the reports that came in
    assert f.by_colour == {"grön": 7, "gul": 2, "röd": 1}


def test_before_the_deadline_a_report_not_in_is_awaited_not_missing(city: Any) -> None:
    city.start("tertial_loop", year=2026, plans=[plan(org) for org in ORGANISATIONS])
    before = dashboard.overview(city.engine, 2026, "T1")
    assert before.phase == "before"
    assert set(states(before).values()) == {dashboard.NOT_DUE}
    city.advance_to(CALENDAR["t1_period_end"])
    report(city, "farsta", GREEN)
    city.advance_to("2026-05-15T23:00:00+02:00")  # the last hour of the last day
    view = dashboard.overview(city.engine, 2026, "T1")
    assert view.phase == "reporting"
    assert states(view) == {
        "farsta": dashboard.SUBMITTED,
        "bromma": dashboard.AWAITED,
        "trafikkontoret": dashboard.AWAITED,
        "svenska_bostader": dashboard.AWAITED,
    }
    assert view.figures.awaited == 3 and view.figures.missing == 0


def test_a_report_returned_for_completion_keeps_its_first_submission(city: Any) -> None:
    """As the process decides lateness: the first submission counts, so a report that came
    in on time and was returned stays on time however late the completion comes."""
    city.start("tertial_loop", year=2026, plans=[plan("farsta")])
    city.advance_to(CALENDAR["t1_period_end"])
    report(city, "farsta", GREEN)
    review = city.task("samordnare", "review_tertial_report", "farsta")
    city.complete("samordnare", review, {"beslut": "komplettering", "motivering": "Komplettera."})
    city.advance_to(AFTER_T1)
    [farsta] = dashboard.overview(city.engine, 2026, "T1").reports
    assert (farsta.state, farsta.returned) == (dashboard.SUBMITTED, True)
    report(city, "farsta", RED)
    [farsta] = dashboard.overview(city.engine, 2026, "T1").reports
    assert (farsta.state, farsta.returned) == (dashboard.SUBMITTED, False)
    assert farsta.submitted_at == datetime.fromisoformat(CALENDAR["t1_period_end"])
    assert {m.farg for m in farsta.measures} == {"röd"}  # the latest submission's measures


def test_a_compiled_tertial_is_read_from_the_report_rows(any_city: Any) -> None:
    """Once every report is accepted, `compile_tertial_report` keeps the rows; the dashboard
    then shows what the council's compiled report says, traffic lights included."""
    city = any_city
    instance = simulate_t1(city)
    complete_t1(city)
    view = dashboard.overview(city.engine, 2026, "T1")
    assert view.compiled_at is not None
    assert all(r.compiled for r in view.reports)
    assert states(view) == {
        "farsta": dashboard.SUBMITTED,
        "trafikkontoret": dashboard.SUBMITTED,
        "bromma": dashboard.LATE,
        "svenska_bostader": dashboard.LATE,
    }
    compiled = city.instance(instance).data["tertial_reports"][0]
    assert sorted(r.organisation for r in view.reports if r.late) == sorted(compiled["late"])
    assert view.figures.measures == compiled["measures"]
    assert view.figures.by_colour == compiled["by_colour"]
    lights = {r.organisation: r.traffic_light for r in view.reports}
    assert lights == {o["organisation"]: o["traffic_light"] for o in compiled["per_organisation"]}


def test_a_compiled_row_never_submitted_counts_as_missing(city: Any) -> None:
    """The read model's rule for a compiled row without a submission (another caller of
    `compile_tertial_report` may compile with a report missing)."""
    with city.engine.db.write() as session:
        session.add(
            TertialReportRow(
                year=2025,
                tertial="T3",
                organisation_id="farsta",
                submitted_at=None,
                late=False,
                traffic_light=None,
                measures="[]",
                compiled_at=datetime(2026, 2, 20),
            )
        )
    assert dashboard.overview(city.engine, 2025, "T3").reports[0].state == dashboard.AWAITED
    city.clock.set(datetime(2026, 2, 17, 9, 0, tzinfo=STOCKHOLM))  # T3 2025 was due 16 Feb
    view = dashboard.overview(city.engine, 2025, "T3")
    assert states(view) == {"farsta": dashboard.MISSING}
    assert view.figures.missing == 1


def test_trends_compare_with_the_previous_tertial(city: Any) -> None:
    simulate_t1(city)
    complete_t1(city)
    council_notes(city)
    city.advance_to(CALENDAR["t2_period_end"])
    report(city, "farsta", RED)  # all green in T1, now all red
    report(city, "trafikkontoret", GREEN)  # one red in T1, now all green
    report(city, "bromma", LATE)  # the same as in T1
    view = dashboard.overview(city.engine, 2026, "T2")
    assert view.previous == "T1"
    trends = {r.organisation: r.trend for r in view.reports}
    assert trends == {
        "farsta": dashboard.WORSE,
        "trafikkontoret": dashboard.BETTER,
        "bromma": dashboard.SAME,
        "svenska_bostader": None,  # nothing reported in T2 yet: no comparison
    }
    trafik = next(r for r in view.reports if r.organisation == "trafikkontoret")
    assert [(m.nr, m.previous_farg, m.farg, m.trend) for m in trafik.measures][:2] == [
        (1, "röd", "grön", dashboard.BETTER),
        (2, "grön", "grön", dashboard.SAME),
    ]
    first = dashboard.overview(city.engine, 2026, "T1")
    assert first.previous is None and {r.trend for r in first.reports} == {None}


def test_the_default_tertial_is_the_latest_that_has_ended(city: Any) -> None:
    assert dashboard.default_period(city.engine) == (2025, "T3")  # 1 January: T3 is due
    city.advance_to(CALENDAR["t1_period_end"])
    assert dashboard.default_period(city.engine) == (2026, "T1")
    city.clock.set(datetime(2026, 9, 1, 0, 0, tzinfo=STOCKHOLM))
    assert dashboard.default_period(city.engine) == (2026, "T2")


# -- the page ----------------------------------------------------------------------------------


def test_the_page_shows_the_late_and_the_missing(city: Any, app: Flask) -> None:
    simulate_t1(city)
    page = get(client_for(app, "samordnare"), "/oversikt/lagesbild?ar=2026&tertial=T1").get_data(
        as_text=True
    )
    assert "Tertialuppföljning T1 2026" in page
    late = page.split('id="sena"', 1)[1].split("</section>", 1)[0]
    missing = page.split('id="saknas"', 1)[1].split("</section>", 1)[0]
    assert NAMES["bromma"] in late and "2026-05-18 10:00" in late
    assert NAMES["farsta"] not in late
    assert NAMES["svenska_bostader"] in missing and NAMES["bromma"] not in missing
    assert 'id="org-bromma" data-state="late"' in page
    assert 'id="org-svenska_bostader" data-state="missing"' in page
    assert 'id="org-farsta" data-state="submitted"' in page
    # Never colour alone: every light is named in words.
    assert '<span class="light red">Röd</span>' in page
    assert "Siffrorna är preliminära" in page
    # The default is the latest tertial that has ended.
    assert "Tertialuppföljning T1 2026" in get(
        client_for(app, "radet1"), "/oversikt/lagesbild"
    ).get_data(as_text=True)


def test_the_page_in_english(city: Any, app: Flask) -> None:
    simulate_t1(city)
    city.register.set_language("samordnare", "en")
    page = get(client_for(app, "samordnare"), "/oversikt/lagesbild?ar=2026&tertial=T1").get_data(
        as_text=True
    )
    assert '<html lang="en">' in page
    assert "Tertial follow-up T1 2026" in page
    assert "Late reports (1)" in page and "Missing reports (1)" in page
    assert '<span class="report-state late">Late</span>' in page
    assert '<span class="light red">Red</span>' in page
    data = read_csv(
        get(client_for(app, "samordnare"), "/oversikt/lagesbild/export.csv?ar=2026&tertial=T1").data
    )
    assert data[0][:3] == ["Organisation", "Type of organisation", "Report"]
    assert [NAMES["bromma"], "District administration", "Late"] == data[2][:3]


# -- exports -------------------------------------------------------------------------------------


def test_the_exports_hold_the_same_figures_as_the_page(city: Any, app: Flask) -> None:
    simulate_t1(city)
    client = client_for(app, "samordnare")
    query = "ar=2026&tertial=T1"
    organisations = read_csv(get(client, f"/oversikt/lagesbild/export.csv?{query}").data)
    measures = read_csv(get(client, f"/oversikt/lagesbild/export.csv?{query}&tabell=atgarder").data)
    response = get(client, f"/oversikt/lagesbild/export.xlsx?{query}")
    assert response.mimetype.endswith("spreadsheetml.sheet")
    assert "lagesbild-2026-T1.xlsx" in response.headers["Content-Disposition"]
    sheets = read_xlsx(response.data)
    assert list(sheets) == ["Sammanfattning", "Organisationer", "Åtgärder"]
    assert sheets["Organisationer"] == organisations
    assert sheets["Åtgärder"] == measures

    header, *lines = organisations
    assert header == [
        "Organisation",
        "Organisationstyp",
        "Rapport",
        "Inlämnad",
        "Samlad färg",
        "Åtgärder",
        "Gröna",
        "Gula",
        "Röda",
        "Trend",
    ]
    by_name = {line[0]: line for line in lines}
    assert by_name[NAMES["bromma"]][2:4] == ["Sen", "2026-05-18 10:00"]
    assert by_name[NAMES["svenska_bostader"]][2:4] == ["Saknas", ""]
    assert by_name[NAMES["farsta"]][2:4] == ["Inlämnad i tid", "2026-04-30 23:59"]
    assert by_name[NAMES["trafikkontoret"]][5:9] == ["5", "4", "0", "1"]

    # The same figures as the page and the read model.
    view = dashboard.overview(city.engine, 2026, "T1")
    for r in view.reports:
        line = by_name[r.name]
        assert [int(x) for x in line[6:9]] == [r.by_colour[c] for c in ("grön", "gul", "röd")]
    summary = dict((k, v) for k, v in sheets["Sammanfattning"][1:])
    assert summary["Organisationer"] == str(view.figures.organisations) == "4"
    assert summary["Sena"] == "1" and summary["Saknas"] == "1"
    assert summary["Inlämnade i tid"] == "2"
    assert summary["Röd"] == "1" and summary["Grön"] == "7"
    assert summary["Urval"] == "Alla organisationer"
    page = get(client, f"/oversikt/lagesbild?{query}").get_data(as_text=True)
    assert '<li class="figure-late"><strong>1</strong> sena</li>' in page
    assert '<li class="figure-missing"><strong>1</strong> saknas</li>' in page

    assert measures[0][:5] == ["Organisation", "Nr", "Åtgärd", "Status", "Färg"]
    assert len(measures) - 1 == view.figures.measures == 10
    assert [NAMES["bromma"], "1", f"Åtgärd 1 i {NAMES['bromma']}", "Försenad", "Gul"] in [
        m[:5] for m in measures
    ]
    assert get(client, f"/oversikt/lagesbild/export.csv?{query}&tabell=ingen", 404)


def test_text_that_looks_like_a_formula_is_not_run_by_a_spreadsheet(city: Any, app: Flask) -> None:
    city.start("tertial_loop", year=2026, plans=[plan("farsta")])
    city.advance_to(CALENDAR["t1_period_end"])
    answer = rows("farsta", GREEN)
    answer[0]["kommentar"] = '=HYPERLINK("http://example.invalid","klicka")'
    city.complete(
        "ansvarig.farsta",
        city.task("ansvarig.farsta", "tertial_report", "farsta"),
        {"atgarder": answer},
    )
    client = client_for(app, "samordnare")
    measures = read_csv(
        get(client, "/oversikt/lagesbild/export.csv?ar=2026&tertial=T1&tabell=atgarder").data
    )
    assert measures[1][-1].startswith("'=HYPERLINK")
    book = load_workbook(
        io.BytesIO(get(client, "/oversikt/lagesbild/export.xlsx?ar=2026&tertial=T1").data)
    )
    cell = book["Åtgärder"]["H2"]
    assert cell.data_type == "s" and str(cell.value).startswith("'=")


# -- filters -------------------------------------------------------------------------------------


def test_filters_by_organisation_type_and_district(city: Any, app: Flask) -> None:
    simulate_t1(city)
    client = client_for(app, "radet1")

    def shown(query: str) -> list[str]:
        lines = read_csv(
            get(client, f"/oversikt/lagesbild/export.csv?ar=2026&tertial=T1&{query}").data
        )
        return sorted(line[0] for line in lines[1:])

    assert shown("typ=district") == [NAMES["bromma"], NAMES["farsta"]]
    assert shown("typ=company") == [NAMES["svenska_bostader"]]
    assert shown("typ=specialist") == [NAMES["trafikkontoret"]]
    assert shown("stadsdel=bromma") == [NAMES["bromma"]]
    assert shown("typ=company&stadsdel=bromma") == []
    assert shown("typ=unknown") == sorted(NAMES.values())  # an unknown filter is ignored
    page = get(client, "/oversikt/lagesbild?ar=2026&tertial=T1&typ=district").get_data(as_text=True)
    assert 'id="org-bromma"' in page and 'id="org-svenska_bostader"' not in page
    assert "Organisationstyp: Stadsdelsförvaltning" in page
    assert "Saknade rapporter (0)" in page  # the figures count what is shown
    summary = dict(
        read_xlsx(
            get(client, "/oversikt/lagesbild/export.xlsx?ar=2026&tertial=T1&stadsdel=bromma").data
        )["Sammanfattning"][1:]
    )
    assert summary["Urval"] == "Stadsdel: Bromma stadsdelsförvaltning"
    assert summary["Organisationer"] == "1" and summary["Sena"] == "1"


# -- who may see ---------------------------------------------------------------------------------


@pytest.mark.parametrize("user", EVERY_ORGANISATION + EVERY_ORGANISATION_READ_ONLY)
def test_city_wide_roles_see_every_organisation(city: Any, app: Flask, user: str) -> None:
    simulate_t1(city)
    client = client_for(app, user)
    page = get(client, "/oversikt/lagesbild?ar=2026&tertial=T1").get_data(as_text=True)
    for org in ORGANISATIONS:
        assert f'id="org-{org}"' in page
    lines = read_csv(get(client, "/oversikt/lagesbild/export.csv?ar=2026&tertial=T1").data)
    assert len(lines) == 1 + 4


@pytest.mark.parametrize(
    ("user", "org"), [("ansvarig.farsta", "farsta"), ("chef.bromma", "bromma")]
)
def test_a_responsible_person_or_head_sees_their_own_organisation_only(
    city: Any, app: Flask, user: str, org: str
) -> None:
    simulate_t1(city)
    client = client_for(app, user)
    page = get(client, "/oversikt/lagesbild?ar=2026&tertial=T1&typ=company").get_data(as_text=True)
    assert f'id="org-{org}"' in page
    others = [o for o in ORGANISATIONS if o != org]
    for other in others:
        assert f'id="org-{other}"' not in page
        assert NAMES[other] not in page
    assert 'id="typ"' not in page  # nothing to filter
    for table in ("organisationer", "atgarder"):
        lines = read_csv(
            get(client, f"/oversikt/lagesbild/export.csv?ar=2026&tertial=T1&tabell={table}").data
        )
        assert {line[0] for line in lines[1:]} == {NAMES[org]}
    sheets = read_xlsx(get(client, "/oversikt/lagesbild/export.xlsx?ar=2026&tertial=T1").data)
    assert {line[0] for line in sheets["Organisationer"][1:]} == {NAMES[org]}
    assert dict(sheets["Sammanfattning"][1:])["Urval"] == f"Egen organisation: {NAMES[org]}"


@pytest.mark.parametrize("user", ["lokalrad.farsta", "prisadmin", "jury1", "processagare"])
def test_others_may_not_see_the_dashboard(city: Any, app: Flask, user: str) -> None:
    simulate_t1(city)
    client = client_for(app, user)
    for url in (
        "/oversikt/lagesbild",
        "/oversikt/lagesbild/export.csv",
        "/oversikt/lagesbild/export.xlsx",
    ):
        get(client, url, 403)


def test_signed_out_visitors_are_sent_to_sign_in(app: Flask) -> None:
    client = app.test_client()
    for url in ("/oversikt/lagesbild", "/oversikt/lagesbild/export.csv", "/oversikt/arshjul"):
        response = client.get(url)
        assert response.status_code == 302 and "/logga-in" in response.headers["Location"]


def test_the_dashboard_uses_no_inline_script_or_style(city: Any, app: Flask) -> None:
    simulate_t1(city)
    page = get(client_for(app, "samordnare"), "/oversikt/lagesbild").get_data(as_text=True)
    assert " style=" not in page and "<style" not in page
    assert "<script>" not in page
