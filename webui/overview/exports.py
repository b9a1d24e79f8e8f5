"""The dashboard as tables for the council's papers: CSV and a spreadsheet (xlsx).

Both exports are made from the same tables (`tables`), which hold the same figures and
words as the page, so a paper made from the spreadsheet says what the page says. CSV uses
semicolons and a byte-order mark, as Swedish Excel expects when the file is opened with a
double-click. Text the organisations wrote (a measure, a comment) that begins like a
formula (=, +, -, @) is prefixed with an apostrophe, so a spreadsheet shows it rather than
running it (CSV injection).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from processes.calendar import STOCKHOLM
from processes.dashboard import TertialOverview

from . import labels

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Table:
    name: str  # the sheet's name and the CSV file's suffix
    title: str
    headers: list[str]
    rows: list[list[Any]]


def when(value: datetime | None) -> str:
    """An instant as Swedish offices write it, in Stockholm time, whatever the language."""
    return value.astimezone(STOCKHOLM).strftime("%Y-%m-%d %H:%M") if value else ""


def safe(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


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
                safe(m.atgard),
                labels.status(m.status),
                labels.colour(m.farg),
                labels.colour(m.previous_farg) if view.previous else "",
                labels.trend(m.trend),
                safe(m.kommentar or ""),
            ]
            for r in view.reports
            if r.submitted
            for m in r.measures
        ],
    )
    return [summary, organisations, measures]


def to_csv(table: Table) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(table.headers)
    writer.writerows([[safe(v) for v in row] for row in table.rows])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_xlsx(all_tables: list[Table], title: str) -> bytes:
    book = Workbook()
    book.remove(book.active)
    book.properties.title = title
    book.properties.creator = "Kedja"
    for table in all_tables:
        sheet = book.create_sheet(table.title[:31])
        sheet.append(table.headers)
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in table.rows:
            sheet.append([safe(v) for v in row])
        sheet.freeze_panes = "A2"
        for index, header in enumerate(table.headers, start=1):
            longest = max([len(str(header)), *(len(str(r[index - 1])) for r in table.rows)])
            sheet.column_dimensions[get_column_letter(index)].width = min(60, max(8, longest + 2))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
