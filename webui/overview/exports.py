"""The dashboard as tables for the council's papers: CSV and a spreadsheet (xlsx).

Both exports are made from the same tables (`tables`), which hold the same figures and
words as the page, so a paper made from the spreadsheet says what the page says. CSV uses
semicolons and a byte-order mark, as Swedish Excel expects when the file is opened with a
double-click. Every cell goes through `webui.spreadsheets`, the guard all exports share:
no cell can start a formula, whatever separator the reader's spreadsheet splits on (CSV
injection).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import gettext as _

from processes.calendar import STOCKHOLM
from processes.dashboard import TertialOverview
from webui import spreadsheets

from . import labels


@dataclass(frozen=True)
class Table:
    name: str  # the sheet's name and the CSV file's suffix
    title: str
    headers: list[str]
    rows: list[list[Any]]


def when(value: datetime | None) -> str:
    """An instant as Swedish offices write it, in Stockholm time, whatever the language."""
    return value.astimezone(STOCKHOLM).strftime("%Y-%m-%d %H:%M") if value else ""


def tables(view: TertialOverview, filters: str) -> list[Table]:
    """The summary, one row per organisation, and one row per measure."""
    f = view.figures
    trend_header = (
        _("Trend jämfört med %(tertial)s", tertial=view.previous) if view.previous else _("Trend")
    )
    colour_header = (
        _("Färg i %(tertial)s", tertial=view.previous)
        if view.previous
        else _("Färg föregående tertial")
    )
    summary = Table(
        "sammanfattning",
        _("Sammanfattning"),
        [_("Uppgift"), _("Värde")],
        [
            [_("År"), view.year],
            [_("Tertial"), view.tertial],
            [_("Sista dag för rapporten"), when(view.deadline)],
            [_("Sammanställd"), when(view.compiled_at) or _("Nej, preliminära siffror")],
            [_("Urval"), filters],
            [_("Organisationer"), f.organisations],
            [_("Inlämnade i tid"), f.on_time],
            [_("Sena"), f.late],
            [_("Saknas"), f.missing],
            [_("Väntas in"), f.awaited],
            [_("Rapporterade åtgärder"), f.measures],
            *[[labels.colour(c), n] for c, n in f.by_colour.items()],
            *[[labels.status(s), n] for s, n in f.by_status.items()],
            [_("Uttaget"), when(view.now)],
        ],
    )
    organisations = Table(
        "organisationer",
        _("Organisationer"),
        [
            _("Organisation"),
            _("Organisationstyp"),
            _("Rapport"),
            _("Inlämnad"),
            _("Samlad färg"),
            _("Åtgärder"),
            _("Gröna"),
            _("Gula"),
            _("Röda"),
            trend_header,
        ],
        [
            [
                r.name,
                labels.kind(r.kind),
                labels.state(r.state),
                when(r.submitted_at),
                labels.colour(r.traffic_light),
                len(r.measures) if r.submitted else 0,
                r.by_colour["grön"],
                r.by_colour["gul"],
                r.by_colour["röd"],
                labels.trend(r.trend),
            ]
            for r in view.reports
        ],
    )
    measures = Table(
        "atgarder",
        _("Åtgärder"),
        [
            _("Organisation"),
            _("Nr"),
            _("Åtgärd"),
            _("Status"),
            _("Färg"),
            colour_header,
            trend_header,
            _("Kommentar"),
        ],
        [
            [
                r.name,
                m.nr if m.nr is not None else "",
                m.atgard,
                labels.status(m.status),
                labels.colour(m.farg),
                labels.colour(m.previous_farg) if view.previous else "",
                labels.trend(m.trend),
                m.kommentar or "",
            ]
            for r in view.reports
            if r.submitted
            for m in r.measures
        ],
    )
    return [summary, organisations, measures]


def to_csv(table: Table) -> bytes:
    return spreadsheets.csv_bytes(table.headers, table.rows, delimiter=";")


def to_xlsx(all_tables: list[Table], title: str) -> bytes:
    return spreadsheets.xlsx_bytes([(t.title, t.headers, t.rows) for t in all_tables], title)
