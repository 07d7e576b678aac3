"""Every table the project exports (CSV or XLSX), with no cell a spreadsheet would evaluate.

A text starting with `=`, `+`, `-`, `@`, a tab or a carriage return is a formula (or becomes one)
in Excel, LibreOffice and Google Sheets: a name like `=HYPERLINK("http://…","klik")` typed by an
applicant would be a live link in staff's spreadsheet. Such a text is written with a leading `'`
(OWASP's advice), so it is shown as text and never run; in XLSX it is also stored as a string.
A phone number `+62…` or a negative number written as text gets the `'` too.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

__all__ = ["csv_bytes", "inert", "xlsx_bytes"]

_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")

Cell = str | int | None


def inert(value: Cell) -> Cell:
    """`value` as a cell no spreadsheet evaluates: a risky text gets a leading `'`."""
    if isinstance(value, str) and value.startswith(_TRIGGERS):
        return "'" + value
    return value


def _rows(header: Sequence[str], rows: Iterable[Sequence[Cell]]) -> Iterable[list[Cell]]:
    yield [inert(cell) for cell in header]
    for row in rows:
        yield [inert(cell) for cell in row]


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[Cell]]) -> bytes:
    """A CSV file (UTF-8 with a BOM, as Excel reads it) of `header` and `rows`, made inert."""
    buffer = io.StringIO()
    csv.writer(buffer).writerows(_rows(header, rows))
    return buffer.getvalue().encode("utf-8-sig")


def xlsx_bytes(header: Sequence[str], rows: Iterable[Sequence[Cell]]) -> bytes:
    """An XLSX workbook of `header` and `rows`, made inert; every text cell is a string cell."""
    from openpyxl import Workbook  # the spreadsheet library, only when one is written

    book = Workbook()
    sheet = book.active
    for values in _rows(header, rows):
        sheet.append(values)
    for line in sheet.iter_rows():
        for cell in line:
            if isinstance(cell.value, str):
                cell.data_type = "s"  # never "f" (formula), whatever the text
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
