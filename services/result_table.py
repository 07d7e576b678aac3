"""Reads the selection-result tables staff export from SOBAT or a test system (CSV or XLSX).

:func:`read_table` turns the file into one :class:`TableRow` per non-empty data row, or raises
:class:`TableProblem` when the file as a whole cannot be used. :func:`parse_outcome` reads a
result cell. Nothing here touches the database; checking each row is the caller's job.

==========================  ===================================================================
TableProblem code           params and meaning
==========================  ===================================================================
table_unreadable            (none) not a CSV or XLSX: binary, corrupt, legacy .xls, HTML
table_empty                 (none) no header row, or no data row under it
table_no_id_column          columns=<header cells> neither a registration-number nor a NIK column
table_no_result_column      columns=<header cells> no result column
table_too_large             max_mb=<max_bytes in MB> the file as sent
table_too_big_unpacked      max_mb=<…> an XLSX whose parts unpacked are larger than that
table_too_complex           (none) an XLSX with too many parts or XML elements in one part
table_too_many_strings      limit=<max_shared_strings> XLSX shared-strings entries
table_too_many_cells        limit=<max_cells>
table_too_long              limit=<max_row_number> a row at or past that spreadsheet row
table_too_many_columns      line=<row>, limit=<max_columns> a cell past that column
table_too_many_rows         limit=<max_rows> data rows
==========================  ===================================================================

Every limit is a field of :class:`~services.table_limits.TableLimits`; an XLSX is checked
against them before openpyxl opens it (see that module).
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Literal

from core.validation import Invalid, parse_date
from services.table_limits import LIMITS, TableLimits, TableProblem, check_columns, check_xlsx

__all__ = ["Outcome", "TableProblem", "TableRow", "parse_outcome", "read_table"]

Outcome = Literal["passed", "not_passed", "pending"]
Field = Literal["number", "nik", "email", "name", "result", "note", "birth_date"]
Row = tuple[int, Sequence[object]]  # (spreadsheet row number, cells)

_XLSX_MAGIC = b"PK\x03\x04"
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0"
_DELIMITERS = ",;\t|"
_HEADER_SEARCH = 10  # the header row is among this many first non-empty rows
_COLUMNS_SHOWN = 200
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"))
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SCIENTIFIC = re.compile(r"[0-9]+(?:[.,][0-9]+)?[eE][+-]?[0-9]+")  # Excel's 3.52801E+15
_SERIAL = re.compile(r"[0-9]{1,5}")
_WITH_TIME = re.compile(r"(.+?)[ T][0-9]{1,2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?")
_NIK_SEPARATORS = str.maketrans("", "", ".-")
_EXCEL_EPOCH = date(1899, 12, 30)
_SERIAL_MAX = 80000

_SYNONYMS: dict[Field, tuple[str, ...]] = {
    "number": (
        "no registrasi", "nomor registrasi", "no pendaftaran", "nomor pendaftaran", "no daftar",
        "nomor daftar", "no reg", "noreg", "registration number", "registration no",
        "id pendaftaran", "kode pendaftaran",
    ),
    "nik": ("nik", "nik ktp", "no ktp", "nomor ktp", "nomor induk kependudukan"),
    "name": ("nama", "nama lengkap", "nama mitra", "nama peserta", "name", "full name"),
    "result": (
        "hasil", "status", "keputusan", "hasil seleksi", "kelulusan", "status kelulusan",
        "lulus", "result", "outcome",
    ),
    "note": ("catatan", "keterangan", "alasan", "note", "notes"),
    "email": ("email", "e mail", "alamat email", "alamat e mail", "surel", "email sobat"),
    "birth_date": ("tanggal lahir", "tgl lahir", "tgl lhr", "birth date", "date of birth"),
}  # fmt: skip
_FIELD_BY_HEADER = {name: field for field, names in _SYNONYMS.items() for name in names}

_OUTCOME_WORDS: dict[Outcome, tuple[str, ...]] = {
    "passed": (
        "lulus", "lolos", "l", "ms",
        "m s", "memenuhi syarat", "diterima", "terpilih", "passed", "pass",
        "p", "ya", "y", "1", "true", "lulus seleksi", "lolos seleksi", "calon mitra",
    ),
    "not_passed": (
        "tidak lulus", "tidak lolos", "tdk lulus", "tdk lolos", "tl", "tms",
        "t m s",
        "tidak memenuhi syarat", "gagal", "ditolak", "tidak diterima", "not passed", "fail",
        "failed", "tidak", "t", "n", "no", "0", "false",
    ),
    "pending": ("belum", "belum ada", "pending", "menunggu", "proses", "dalam proses"),
}  # fmt: skip
_OUTCOME_BY_WORD = {word: outcome for outcome, words in _OUTCOME_WORDS.items() for word in words}


@dataclass(frozen=True)
class TableRow:
    """One data row, its cells cleaned; `line` is the row number staff see in the spreadsheet."""

    line: int
    number: str | None
    nik: str | None
    nik_was_number: bool
    name: str | None
    result: str
    note: str | None
    birth_date: date | None
    birth_date_text: str | None
    email: str | None = None
    """The SOBAT account's e-mail (lower-cased), when the file has that column."""


def read_table(
    content: bytes, file_name: str, *, today: date, limits: TableLimits = LIMITS
) -> list[TableRow]:
    """The data rows of an uploaded CSV or XLSX file; raises :class:`TableProblem`.

    The format is detected from the content, so `file_name` is informational only (a CSV that
    staff renamed to .xlsx still reads). A birth date after `today` (the bot's clock) or a
    century before it is kept as text, not read as a date. A file past `limits` is refused
    before it is parsed.
    """
    if len(content) > limits.max_bytes:
        raise TableProblem("table_too_large", max_mb=limits.max_mb)
    if content.startswith(_XLSX_MAGIC):
        check_xlsx(content, limits)
        rows = _xlsx_rows(content, limits)
    elif content.startswith(_OLE2_MAGIC):
        raise TableProblem("table_unreadable")
    else:
        text = _decode(content)
        rows = _csv_rows(text, _delimiter(text, limits), limits)
    return _parse(rows, limits.max_rows, today)


def parse_outcome(text: str) -> Outcome | None:
    """What a result cell says: passed, not_passed, pending, or None when unknown or blank."""
    return _OUTCOME_BY_WORD.get(_normalise(text))


# --------------------------------------------------------------------------- reading


def _xlsx_rows(content: bytes, limits: TableLimits) -> list[Row]:
    from openpyxl import load_workbook  # the spreadsheet library, only for a spreadsheet

    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl and zipfile raise many kinds
        raise TableProblem("table_unreadable") from exc
    try:
        sheet = workbook.active
        if sheet not in workbook.worksheets:  # a chart sheet, or none
            sheet = workbook.worksheets[0]
        sheet.reset_dimensions()  # some writers store a wrong size; read what is there
        return _non_empty(enumerate(sheet.iter_rows(values_only=True), start=1), limits)
    except TableProblem:
        raise
    except Exception as exc:
        raise TableProblem("table_unreadable") from exc
    finally:
        workbook.close()


def _decode(content: bytes) -> str:
    utf16 = content.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))  # "Unicode Text"
    for encoding in ("utf-16",) if utf16 else ("utf-8-sig", "cp1252"):
        try:
            text = content.decode(encoding)
        except UnicodeDecodeError:
            continue
        if _CONTROL.search(text) or text.lstrip().startswith("<"):  # binary, or HTML "Excel"
            break
        return text
    raise TableProblem("table_unreadable")


def _delimiter(text: str, limits: TableLimits) -> str:
    """The delimiter under which a header row with the most known columns is found; failing
    that, the one most frequent in a line among the first non-empty ones."""
    lines = [line for line in text.splitlines() if line.strip()][:_HEADER_SEARCH]

    def score(delimiter: str) -> tuple[int, int]:
        rows = _csv_rows(text, delimiter, limits, _HEADER_SEARCH)
        known = max((len(c) for _, cells in rows if _has_id(c := _map_columns(cells))), default=0)
        return known, max((line.count(delimiter) for line in lines), default=0)

    return max(_DELIMITERS, key=score)


def _csv_rows(text: str, delimiter: str, limits: TableLimits, keep: int | None = None) -> list[Row]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, skipinitialspace=True)
    try:  # numbered by record, as Excel does
        return _non_empty(enumerate(reader, start=1), limits, keep)
    except csv.Error as exc:
        raise TableProblem("table_unreadable") from exc


def _non_empty(rows: Iterable[Row], limits: TableLimits, keep: int | None = None) -> list[Row]:
    """The rows with a visible cell: `keep` of them, or by default enough to see that there
    are more than `limits.max_rows` data rows; a row wider than the limit is refused."""
    keep = keep or _HEADER_SEARCH + limits.max_rows + 1
    kept: list[Row] = []
    for line, cells in rows:
        check_columns(line, len(cells), limits)
        if any(_text(cell) for cell in cells):
            kept.append((line, cells))
            if len(kept) == keep:
                break
    return kept


# --------------------------------------------------------------------------- table


def _parse(rows: list[Row], max_rows: int, today: date) -> list[TableRow]:
    if not rows:
        raise TableProblem("table_empty")
    top = rows[:_HEADER_SEARCH]
    header_at = next((i for i, (_, cells) in enumerate(top) if _has_id(_map_columns(cells))), None)
    if header_at is None:
        widest = max(top, key=lambda row: sum(1 for cell in row[1] if _text(cell)))
        raise TableProblem("table_no_id_column", columns=_column_list(widest[1]))
    header = rows[header_at][1]
    columns = _map_columns(header)
    if "result" not in columns:
        raise TableProblem("table_no_result_column", columns=_column_list(header))
    data = rows[header_at + 1 :]
    if not data:
        raise TableProblem("table_empty")
    if len(data) > max_rows:
        raise TableProblem("table_too_many_rows", limit=max_rows)
    return [_table_row(line, cells, columns, today) for line, cells in data]


def _map_columns(cells: Sequence[object]) -> dict[Field, int]:
    """Field -> column index, for the cells that are known headers (the first one wins)."""
    columns: dict[Field, int] = {}
    for index, cell in enumerate(cells):
        field = _FIELD_BY_HEADER.get(_normalise(_text(cell)))
        if field is not None:
            columns.setdefault(field, index)
    return columns


def _has_id(columns: dict[Field, int]) -> bool:
    return "number" in columns or "nik" in columns or "email" in columns


def _column_list(cells: Sequence[object]) -> str:
    shown = ", ".join(text for cell in cells if (text := _collapse(_text(cell))))
    return shown if len(shown) <= _COLUMNS_SHOWN else shown[: _COLUMNS_SHOWN - 1] + "…"


def _table_row(
    line: int, cells: Sequence[object], columns: dict[Field, int], today: date
) -> TableRow:
    def cell(field: Field) -> object:
        index = columns.get(field)
        return cells[index] if index is not None and index < len(cells) else None

    nik, nik_was_number = _nik(cell("nik"))
    birth_date, birth_date_text = _birth_date(cell("birth_date"), today)
    return TableRow(
        line=line,
        number="".join(_text(cell("number")).removeprefix("'").split()).upper() or None,
        nik=nik,
        nik_was_number=nik_was_number,
        name=_collapse(_text(cell("name"))) or None,
        result=_collapse(_text(cell("result"))),
        note=_text(cell("note")) or None,
        birth_date=birth_date,
        birth_date_text=birth_date_text,
        email=_text(cell("email")).strip().lower() or None,
    )


# --------------------------------------------------------------------------- cells


def _text(value: object) -> str:
    """A cell as the text staff see: 12.0 -> "12", invisible characters and edge spaces gone."""
    if value is None:
        return ""
    if isinstance(value, bool):
        text = "TRUE" if value else "FALSE"
    elif isinstance(value, float) and value.is_integer():
        text = str(int(value))
    else:
        text = str(value)
    return text.translate(_INVISIBLE).strip()


def _collapse(text: str) -> str:
    return " ".join(text.split())


def _normalise(text: str) -> str:
    """Casefolded, every non-alphanumeric character a space, spaces collapsed."""
    return _collapse("".join(ch if ch.isalnum() else " " for ch in text.casefold()))


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _nik(value: object) -> tuple[str | None, bool]:
    """The NIK as digits, and whether it came as a number (Excel keeps only 15 digits)."""
    if _is_number(value):
        return _text(value), True
    text = "".join(_text(value).removeprefix("'").split())
    if _SCIENTIFIC.fullmatch(text):
        number = Decimal(text.replace(",", "."))  # Indonesian Excel writes 3,52801E+15
        if number.adjusted() < 20:
            return str(int(number)), True
    return text.translate(_NIK_SEPARATORS) or None, False


def _birth_date(value: object, today: date) -> tuple[date | None, str | None]:
    """(date, None) when the cell reads as a date, (None, text) when not, (None, None) blank."""
    if isinstance(value, datetime):
        return value.date(), None
    if isinstance(value, date):
        return value, None
    text = _text(value)
    if not text:
        return None, None
    if _is_number(value) or _SERIAL.fullmatch(text):  # an Excel serial date
        serial = float(text) if _is_number(value) else int(text)
        if 1 <= serial <= _SERIAL_MAX:
            return _EXCEL_EPOCH + timedelta(days=int(serial)), None
        return None, text
    match = _WITH_TIME.fullmatch(text)
    try:  # today as the limit: a future or 100-year-old date stays text
        return parse_date(match.group(1) if match else text, today), None
    except Invalid:
        return None, text
