"""Writing CSV and xlsx files that no spreadsheet can run: the one guard every export uses.

Why a guard at all: exported cells hold text people wrote (a measure, a comment), and a
spreadsheet runs a cell that begins with `=`, `+`, `-` or `@` as a formula — a link that
sends the sheet's data away, or a DDE call (`=cmd|' /C calc'!A0`) that starts a program
(CSV injection).

Why the guard looks inside a value, not only at its start: a CSV file is split by whatever
list separator the *reader's* locale uses, not by the one the file was written with.
Swedish Excel splits on `;`, English Excel on `,`, an import may choose tab or `|`, and a
reader that does not honour our quotes splits inside a quoted value. So `x,=1+1` written
safely into a `;` file still opens as the two cells `x` and `=1+1` in a comma locale. The
guard therefore treats every separator any reader might use, and every line break, as the
possible start of a cell: each fragment of a value that begins — after blanks and double
quotes, which readers strip — with a formula character (ASCII or its full-width form,
compared after NFKC normalisation), or with a tab or line break, gets an apostrophe put in
front of it. The apostrophe is what spreadsheets themselves use to mean "this is text", and
it keeps the value readable. Every CSV field is also quoted, so the file's own reader sees
the value whole.

In xlsx every text cell is written as a string cell (data type `s`), never a formula,
whatever it holds; it gets the same apostrophes, so the sheet and the CSV say the same thing
and a cell someone edits and confirms in Excel does not turn into a formula then.

Numbers (int, float) are written as numbers: they are ours, not someone's text.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

FORMULA_CHARACTERS = frozenset("=+-@\u2212")
"""What starts a formula (after NFKC, so ＝ ＋ － ＠ and the small forms count too; U+2212 is
the minus sign some programs read as `-`)."""
CONTROL_STARTS = frozenset("\t\r\n")
"""A fragment starting with these is neutralised too: readers strip them and may then see a
formula, or use them to split cells and lines."""
SEPARATORS = frozenset(",;\t|\u060c\u061b")
"""Every list separator a reader might split on: comma, semicolon, tab, pipe, and the Arabic
comma and semicolon that Excel uses in Arabic locales."""
LINE_BREAKS = frozenset("\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
QUOTES = '"'
TEXT_MARK = "'"
CSV_DELIMITERS = (";", ",", "\t")


def _next_index(value: str, skip: Any) -> list[int]:
    """For each position, the first position at or after it whose character `skip` does not
    accept (len(value) if none): one pass from the right, so a value is checked in linear
    time however many separators and blanks it holds."""
    result = [len(value)] * (len(value) + 1)
    for index in range(len(value) - 1, -1, -1):
        result[index] = result[index + 1] if skip(value[index]) else index
    return result


def neutralise(value: str) -> str:
    """`value` with an apostrophe before every fragment that could start a formula: the
    value itself, and whatever follows any separator or line break inside it. A fragment
    could start one when, after the double quotes a reader strips, it begins with a tab or
    line break, or when after those quotes and blanks it begins with a formula character."""
    past_quotes = _next_index(value, lambda ch: ch in QUOTES)
    past_blanks = _next_index(value, lambda ch: ch.isspace() or ch in QUOTES)
    out: list[str] = []
    fragment_start = True
    for index, ch in enumerate(value):
        if fragment_start:
            first = value[past_quotes[index] : past_quotes[index] + 1]
            significant = value[past_blanks[index] : past_blanks[index] + 1]
            normalised = unicodedata.normalize("NFKC", significant)[:1]
            if first in CONTROL_STARTS or normalised in FORMULA_CHARACTERS:
                out.append(TEXT_MARK)
        out.append(ch)
        fragment_start = ch in SEPARATORS or ch in LINE_BREAKS
    return "".join(out)


def safe_cell(value: Any) -> Any:
    """A cell's value as an export writes it: text neutralised, numbers as they are, None
    as an empty cell, anything else as its text (neutralised)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float):
        return value
    return neutralise(str(value))


def safe_rows(rows: Iterable[Sequence[Any]]) -> list[list[Any]]:
    return [[safe_cell(v) for v in row] for row in rows]


def csv_bytes(headers: Sequence[Any], rows: Iterable[Sequence[Any]], delimiter: str = ";") -> bytes:
    """A CSV file: UTF-8 with a byte-order mark (so Excel reads UTF-8 on a double-click),
    CRLF lines, every field quoted and neutralised. Semicolons are what Swedish Excel
    expects; the guard holds whichever separator the reader uses."""
    if delimiter not in CSV_DELIMITERS:
        raise ValueError(f"A CSV export is separated by one of {CSV_DELIMITERS!r}.")
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n", quoting=csv.QUOTE_ALL)
    writer.writerow(safe_rows([headers])[0])
    writer.writerows(safe_rows(rows))
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def xlsx_bytes(
    sheets: Iterable[tuple[str, Sequence[Any], Sequence[Sequence[Any]]]], title: str
) -> bytes:
    """An xlsx workbook, one sheet per (name, headers, rows): bold header row frozen, column
    widths from the content, every text cell a string cell (never a formula)."""
    book = Workbook()
    book.remove(book.active)
    book.properties.title = neutralise(title)
    book.properties.creator = "Kedja"
    for name, headers, rows in sheets:
        sheet = book.create_sheet(name[:31])
        values = safe_rows([headers, *rows])
        for row in values:
            sheet.append(row)
        for row in sheet.iter_rows():
            for cell in row:
                if isinstance(cell.value, str):
                    cell.data_type = "s"  # openpyxl would make "=..." a formula
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        sheet.freeze_panes = "A2"
        for index in range(1, len(headers) + 1):
            longest = max(len(str(r[index - 1])) for r in values)
            sheet.column_dimensions[get_column_letter(index)].width = min(60, max(8, longest + 2))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
