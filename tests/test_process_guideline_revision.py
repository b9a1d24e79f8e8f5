"""Scenario tests of the annual guideline revision (`guideline_revision`) over a simulated year.

The guideline says the security chief reviews the guideline every year and, when something
significant has changed, has it revised through a consultation, the risk management council
and the city director. These tests run that year the way the city does: the catalogue starts
the instance on 1 January, the clock moves to the revision date, and named people of the demo
city complete their tasks through the engine's task API, so who may see which task (lanes as
roles, organisations as scope) is tested together with the flow. Real databases (SQLite; the
longest scenario on PostgreSQL too), no mocks.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from processes.models import GuidelineReview, GuidelineVersion
from tests.city import City

KEY = "guideline_revision"
REVISION_DATE = "2026-10-01T08:00:00+02:00"  # Thursday 1 October 2026, the calendar's default
CONSULTATION_TASK = "consultation_answer"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def any_city(request: pytest.FixtureRequest) -> City:
    """The demo city on SQLite and on PostgreSQL: the longest scenario runs on both."""
    return request.getfixturevalue("city" if request.param == "sqlite" else "city_pg")


def _open_elements(city: City, user: str) -> list[str]:
    return sorted(t.element_id for t in city.tasks(user) if t.definition_key == KEY)


def _reviews(city: City) -> list[GuidelineReview]:
    with city.engine.db.read() as session:
        return list(session.scalars(select(GuidelineReview).order_by(GuidelineReview.id)))


def _versions(city: City) -> list[GuidelineVersion]:
    with city.engine.db.read() as session:
        return list(session.scalars(select(GuidelineVersion).order_by(GuidelineVersion.version)))


def _responsible_users(city: City) -> set[str]:
    """Every user holding the role `responsible` in the demo register."""
    return {
        u.id for u in city.register.users() if any(role == "responsible" for role, _org in u.grants)
    }


def _consultation_tasks(city: City, user: str) -> list[Any]:
    return [t for t in city.tasks(user) if t.element_id == CONSULTATION_TASK]


def test_a_year_without_significant_changes_is_recorded_as_still_relevant(city: City) -> None:
    """No change: nothing happens before the revision date; then one review task for the
    security chief, and afterwards a review row and a decision record, no consultation."""
    instance = city.start(KEY, year=2026)

    city.advance_to("2026-09-30T23:00:00+02:00")
    assert city.engine.tasks.list(instance_id=instance).total == 0
    assert _open_elements(city, "sakerhetschef") == []
    assert city.instance(instance).state == "running"

    city.advance_to(REVISION_DATE)
    review = city.task("sakerhetschef", "review_changes")
    assert review.role == "security_chief"
    assert review.form_schema.endswith("forms/review_changes.schema.json")
    # Due ten working days after the revision date, at 16:00 Stockholm time.
    assert review.due_at is not None
    assert review.due_at.isoformat() == "2026-10-15T14:00:00+00:00"
    # Only the security chief sees it.
    assert _open_elements(city, "samordnare") == []
    assert _open_elements(city, "ansvarig.farsta") == []

    city.complete(
        "sakerhetschef",
        review,
        {
            "lagstiftning": {"forandrat": False},
            "stadens_organisation": {"forandrat": False},
            "stadens_program": {"forandrat": False},
            "polisavtal": {"forandrat": False},
            "allvarliga_handelser": {"forandrat": False},
            "beslut": "oforandrad",
            "motivering": "Inga nya lagar, program eller avtal; riktlinjen stämmer med arbetet.",
        },
    )

    assert city.instance(instance).state == "completed"
    reviews = _reviews(city)
    assert len(reviews) == 1
    assert reviews[0].changed is False
    assert reviews[0].reviewed_on.isoformat() == "2026-10-01"
    assert reviews[0].next_review.isoformat() == "2027-10-01"
    decisions = [d for d in city.decisions() if d["instance_id"] == instance]
    assert len(decisions) == 1
    assert decisions[0]["kind"] == "security_chief"
    assert decisions[0]["decision"] == "Riktlinjen är granskad och fortfarande aktuell"
    assert decisions[0]["decided_by"] == "sakerhetschef"
    assert decisions[0]["element_id"] == "review_changes"
    assert _versions(city) == []
    # No consultation ever opened, for anyone.
    for user in ("ansvarig.farsta", "ansvarig.bromma", "ansvarig.socialforvaltningen"):
        assert _consultation_tasks(city, user) == []
    assert not any(
        t.element_id == CONSULTATION_TASK
        for t in city.engine.tasks.list(instance_id=instance, state="any", limit=1000).items
    )


def test_a_revision_with_consultation_a_returned_draft_and_adoption(any_city: City) -> None:
    """Changes: the draft goes on consultation to the two central administrations and Farsta
    (not Bromma); Farsta never answers and is recorded as 'inget svar' at the deadline; the
    council returns the draft once, then approves; the city director adopts; a new version is
    published and every responsible person is notified."""
    city = any_city
    instance = city.start(KEY, year=2026)
    city.advance_to(REVISION_DATE)

    city.complete(
        "sakerhetschef",
        city.task("sakerhetschef", "review_changes"),
        {
            "lagstiftning": {
                "forandrat": True,
                "kommentar": "Lag (2023:196) kräver lägesbild och åtgärdsplan.",
            },
            "stadens_organisation": {"forandrat": False},
            "stadens_program": {"forandrat": False},
            "polisavtal": {"forandrat": True, "kommentar": "Ny samverkansöverenskommelse 2026."},
            "allvarliga_handelser": {"forandrat": False},
            "beslut": "revidera",
            "motivering": "Den nya lagen och samverkansöverenskommelsen kräver ändringar.",
        },
    )

    draft = city.task("sakerhetschef", "draft_revision")
    # The proposed deadline: 15 working days after the revision date.
    assert city.instance(instance).data["svarsdatum"] == "2026-10-22"
    city.complete(
        "sakerhetschef",
        draft,
        {
            "titel": "Riktlinje för brottsförebyggande arbete",
            "andringar": "Lägesbild och åtgärdsplan enligt lag (2023:196).",
            "skal": "Ny lag och ny samverkansöverenskommelse med polisen.",
            "utkast": "1. Inledning ...",
            "remiss_stadsdelar": ["farsta"],
            "svarsdatum": "2026-10-22",
        },
    )

    # The consultation: one task per consulted organisation, for its responsible person only.
    for org in ("socialforvaltningen", "stadsledningskontoret", "farsta"):
        task = city.task(f"ansvarig.{org}", CONSULTATION_TASK)
        assert task.organisation == org
        assert task.role == "responsible"
        assert task.due_at is not None
        assert task.due_at.isoformat() == "2026-10-22T14:00:00+00:00"  # 16:00 Stockholm
    assert _consultation_tasks(city, "ansvarig.bromma") == []
    assert _consultation_tasks(city, "ansvarig.trafikkontoret") == []
    assert [t.organisation for t in _consultation_tasks(city, "ansvarig.farsta")] == ["farsta"]

    city.complete(
        "ansvarig.socialforvaltningen",
        city.task("ansvarig.socialforvaltningen", CONSULTATION_TASK),
        {"yttrande": "instämmer"},
    )
    city.complete(
        "ansvarig.stadsledningskontoret",
        city.task("ansvarig.stadsledningskontoret", CONSULTATION_TASK),
        {
            "yttrande": "instämmer med synpunkter",
            "synpunkter": "Förtydliga samordningsfunktionens uppgifter.",
        },
    )
    assert _open_elements(city, "sakerhetschef") == []  # still waiting for Farsta

    # Farsta is reminded three working days before the deadline, then recorded as no answer.
    city.advance_to("2026-10-19T08:00:00+02:00")
    reminders = [
        n
        for n in city.notifications()
        if n["recipient"] == "ansvarig.farsta" and n["kind"] == "reminder"
    ]
    assert len(reminders) == 1
    assert city.task("ansvarig.farsta", CONSULTATION_TASK)  # the reminder does not cancel
    assert not any(
        n["kind"] == "reminder" and n["recipient"] != "ansvarig.farsta"
        for n in city.notifications()
    )
    city.advance_to("2026-10-22T16:00:01+02:00")
    assert _consultation_tasks(city, "ansvarig.farsta") == []

    consolidate = city.task("sakerhetschef", "consolidate")
    answers = {a["organisation"]: a for a in city.instance(instance).data["remissvar"]}
    assert set(answers) == {"socialforvaltningen", "stadsledningskontoret", "farsta"}
    assert answers["farsta"]["yttrande"] == "inget svar"
    assert answers["farsta"]["besvarat"] is False
    assert answers["socialforvaltningen"]["yttrande"] == "instämmer"
    assert answers["stadsledningskontoret"]["synpunkter"].startswith("Förtydliga")
    city.complete(
        "sakerhetschef",
        consolidate,
        {
            "sammanstallning": "Två instämmer, Farsta svarade inte. Samordningen förtydligad.",
            "reviderat_utkast": "1. Inledning (reviderad) ...",
        },
    )

    # The council returns the draft once; the security chief sees why and revises it
    # without a new consultation.
    city.complete(
        "radet1",
        city.task("radet1", "council_deliberation"),
        {"beslut": "aterremiss", "motivering": "Beskriv lägesbildens källor tydligare."},
    )
    redraft = city.task("sakerhetschef", "draft_revision")
    data = city.instance(instance).data
    assert "Beskriv lägesbildens källor tydligare." in data["aterremiss"]
    assert data["omgang"] == 2
    # The form is prefilled with the first draft: the security chief changes what is needed.
    city.complete(
        "sakerhetschef",
        redraft,
        {
            "titel": data["titel"],
            "skal": data["skal"],
            "remiss_stadsdelar": data["remiss_stadsdelar"],
            "andringar": "Lägesbild med fem källor och åtgärdsplan enligt lag (2023:196).",
            "utkast": "1. Inledning (reviderad igen) ...",
            "svarsdatum": data["svarsdatum"],
            "ny_remiss": False,
        },
    )
    assert _consultation_tasks(city, "ansvarig.socialforvaltningen") == []

    city.complete(
        "radet2",
        city.task("radet2", "council_deliberation"),
        {"beslut": "tillstyrk", "motivering": "Utkastet uppfyller lagens krav."},
    )
    city.complete(
        "stadsdirektor",
        city.task("stadsdirektor", "city_director_decision"),
        {
            "beslut": "anta",
            "ikrafttradande": "2027-01-01",
            "motivering": "Rådet tillstyrker; riktlinjen följer lagen.",
        },
    )

    assert city.instance(instance).state == "completed"
    decisions = [d for d in city.decisions() if d["instance_id"] == instance]
    assert [(d["kind"], d["decided_by"]) for d in decisions] == [
        ("council", "radet1"),
        ("council", "radet2"),
        ("city_director", "stadsdirektor"),
    ]
    assert decisions[0]["decision"] == "Återremitterad till säkerhetschefen"
    assert decisions[1]["decision"] == "Tillstyrkt: stadsdirektören bör anta riktlinjen"
    assert decisions[2]["decision"] == "Riktlinjen antagen, gäller från 2027-01-01"
    assert decisions[0]["document"] == {"type": "riktlinje_utkast", "version": 1}
    assert decisions[1]["document"] == {"type": "riktlinje_utkast", "version": 2}

    versions = _versions(city)
    assert len(versions) == 1
    assert versions[0].effective_date.isoformat() == "2027-01-01"
    assert versions[0].decision_number == decisions[2]["number"]
    assert versions[0].summary.startswith("Lägesbild med fem källor")
    reviews = _reviews(city)
    assert [r.changed for r in reviews] == [True]

    published = [n for n in city.notifications() if n["kind"] == "guideline_published"]
    assert {n["recipient"] for n in published} == _responsible_users(city)
    assert "ansvarig.bromma" in {n["recipient"] for n in published}


def test_the_city_director_returns_the_draft_for_a_new_consultation(city: City) -> None:
    """A return by the city director goes back to drafting too; a new consultation is the
    security chief's choice and runs again for every consulted organisation. A chosen district
    that is not in the register is left out and shown, not given an orphan task."""
    instance = city.start(KEY, year=2026)
    city.advance_to(REVISION_DATE)
    city.complete(
        "sakerhetschef",
        city.task("sakerhetschef", "review_changes"),
        {"beslut": "revidera", "motivering": "Stadens organisation har ändrats."},
    )
    first_draft = {
        "titel": "Riktlinje för brottsförebyggande arbete",
        "andringar": "Ny ansvarsfördelning.",
        "skal": "Omorganisation.",
        "utkast_bilaga": "data:text/plain;name=utkast.txt;base64,VXRrYXN0",
        "remiss_stadsdelar": ["bromma", "norrmalm"],  # Norrmalm is not in the small register
        "svarsdatum": "2026-10-22",
    }
    city.complete("sakerhetschef", city.task("sakerhetschef", "draft_revision"), first_draft)
    assert city.instance(instance).data["remiss_utelamnade"] == ["norrmalm"]
    assert _consultation_tasks(city, "ansvarig.farsta") == []

    def answer_all() -> None:
        for org in ("socialforvaltningen", "stadsledningskontoret", "bromma"):
            city.complete(
                f"ansvarig.{org}",
                city.task(f"ansvarig.{org}", CONSULTATION_TASK),
                {"yttrande": "instämmer"},
            )

    answer_all()
    city.complete(
        "sakerhetschef",
        city.task("sakerhetschef", "consolidate"),
        {"sammanstallning": "Alla instämmer."},
    )
    city.complete(
        "radet1",
        city.task("radet1", "council_deliberation"),
        {"beslut": "tillstyrk", "motivering": "Bra."},
    )
    # Returning needs no effective date; adopting would.
    city.complete(
        "stadsdirektor",
        city.task("stadsdirektor", "city_director_decision"),
        {"beslut": "aterremiss", "motivering": "Förvaltningscheferna ska höras."},
    )
    data = city.instance(instance).data
    assert data["aterremiss"].startswith("Stadsdirektören återremitterade")
    assert data["svarsdatum"] == "2026-11-12"  # 15 working days after the first deadline

    city.complete(
        "sakerhetschef",
        city.task("sakerhetschef", "draft_revision"),
        {**first_draft, "svarsdatum": data["svarsdatum"], "ny_remiss": True},
    )
    answer_all()  # a second task for each consulted organisation
    assert len(city.instance(instance).data["remissvar"]) == 3
    city.complete(
        "sakerhetschef",
        city.task("sakerhetschef", "consolidate"),
        {"sammanstallning": "Alla instämmer igen."},
    )
    city.complete(
        "radet2",
        city.task("radet2", "council_deliberation"),
        {"beslut": "tillstyrk", "motivering": "Bra."},
    )
    city.complete(
        "stadsdirektor",
        city.task("stadsdirektor", "city_director_decision"),
        {"beslut": "anta", "ikrafttradande": "2026-12-01", "motivering": "Klart."},
    )
    assert city.instance(instance).state == "completed"
    kinds = [d["kind"] for d in city.decisions() if d["instance_id"] == instance]
    assert kinds == ["council", "city_director", "council", "city_director"]
    assert [v.effective_date.isoformat() for v in _versions(city)] == ["2026-12-01"]
