"""Tests for services.result_table: reading result files staff export as CSV or XLSX."""

from __future__ import annotations

import io
import random
from datetime import date, datetime

import pytest
from openpyxl import Workbook

from services.result_table import TableProblem, TableRow, parse_outcome, read_table
from services.table_limits import TableLimits
from tests.seeding import TODAY

NIK = "3528011708950001"


def xlsx(*rows: list[object], active_second: bool = False) -> bytes:
    """An .xlsx file whose first (or, with active_second, second and active) sheet holds rows."""
    workbook = Workbook()
    sheet = workbook.active
    if active_second:
        sheet.append(["NIK", "Hasil"])
        sheet.append(["1111111111111111", "Lulus"])
        sheet = workbook.create_sheet("Hasil")
        workbook.active = sheet
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def problem(content: bytes, max_rows: int = 5000) -> TableProblem:
    with pytest.raises(TableProblem) as caught:
        read_table(content, "hasil.csv", today=TODAY, limits=TableLimits(max_rows=max_rows))
    return caught.value


def only_row(text: str) -> TableRow:
    (row,) = read_table(text.encode(), "hasil.csv", today=TODAY)
    return row


# --------------------------------------------------------------------------- XLSX


def test_xlsx_reads_typed_cells_under_a_title_and_keeps_spreadsheet_line_numbers() -> None:
    content = xlsx(
        ["HASIL SELEKSI MITRA STATISTIK 2024"],
        [],
        ["No", "No. Registrasi", "NIK", "Nama Lengkap", "Tanggal Lahir", "Hasil", "Catatan"],
        [1, "reg-2024 001", 3528011708950001, "  siti   aminah ", date(1995, 8, 17), "Lulus", None],
        [],
        [2, 20240002, NIK, "Budi", datetime(1990, 1, 2, 0, 0), 0, " nilai kurang "],
        [3, "REG3", 3528011708950001.0, None, 34928, 1, None],
    )
    rows = read_table(content, "hasil.xlsx", today=TODAY)
    assert [row.line for row in rows] == [4, 6, 7]
    first, second, third = rows
    assert first == TableRow(
        line=4,
        number="REG-2024001",
        nik=NIK,
        nik_was_number=True,
        name="siti aminah",
        result="Lulus",
        note=None,
        birth_date=date(1995, 8, 17),
        birth_date_text=None,
    )
    assert (second.number, second.nik, second.nik_was_number) == ("20240002", NIK, False)
    assert (second.birth_date, second.result, second.note) == (
        date(1990, 1, 2),
        "0",
        "nilai kurang",
    )
    assert (third.nik, third.nik_was_number, third.name) == (NIK, True, None)
    assert (third.birth_date, third.result) == (date(1995, 8, 17), "1")


def test_xlsx_reads_the_active_sheet() -> None:
    content = xlsx(["NIK", "Hasil"], [NIK, "TMS"], active_second=True)
    (row,) = read_table(content, "hasil.xlsx", today=TODAY)
    assert (row.nik, row.result) == (NIK, "TMS")


def test_xlsx_content_is_detected_whatever_the_file_name() -> None:
    (row,) = read_table(xlsx(["NIK", "Hasil"], [NIK, "Lulus"]), "hasil.csv", today=TODAY)
    assert row.result == "Lulus"


def test_xlsx_header_only_is_empty() -> None:
    assert problem(xlsx(["NIK", "Hasil"], [], [None, " "])).code == "table_empty"


def test_xlsx_missing_result_column_lists_columns() -> None:
    caught = problem(xlsx(["No", "NIK", "Nama", "Nilai"], [1, NIK, "Siti", 80]))
    assert (caught.code, caught.params) == (
        "table_no_result_column",
        {"columns": "No, NIK, Nama, Nilai"},
    )


# --------------------------------------------------------------------------- CSV


def test_csv_from_indonesian_excel_with_bom_semicolons_title_and_blank_rows() -> None:
    text = (
        "Pengumuman Hasil Seleksi;;;;\r\n"
        "Kabupaten Pamekasan;;;;\r\n"
        ";;;;\r\n"
        "No;Nomor Pendaftaran;NIK KTP;Nama Mitra;Keputusan;Keterangan\r\n"
        '1;reg001;\'3528011708950001;"Aminah, S.Pd";Lulus;\r\n'
        "\r\n"
        '2;REG002;3528 0117 0895 0002;"Budi ""Bob"" Santoso";TIDAK LULUS;"umur; kurang"\r\n'
    )
    rows = read_table(b"\xef\xbb\xbf" + text.encode(), "hasil.csv", today=TODAY)
    assert [(row.line, row.number, row.nik, row.nik_was_number) for row in rows] == [
        (5, "REG001", NIK, False),
        (7, "REG002", "3528011708950002", False),
    ]
    assert [(row.name, row.result, row.note) for row in rows] == [
        ("Aminah, S.Pd", "Lulus", None),
        ('Budi "Bob" Santoso', "TIDAK LULUS", "umur; kurang"),
    ]
    assert rows[0].birth_date is None and rows[0].birth_date_text is None


def test_csv_english_headers_comma_delimiter_and_quoted_commas() -> None:
    text = (
        "Registration Number, Full Name, Date of Birth, Result, Notes\n"
        'R-1, "Doe, Jane", 1995-08-17, Passed, "late, but ok"\n'
    )
    row = only_row(text)
    assert (row.number, row.nik, row.name) == ("R-1", None, "Doe, Jane")
    assert (row.birth_date, row.result, row.note) == (date(1995, 8, 17), "Passed", "late, but ok")


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_csv_delimiters(delimiter: str) -> None:
    text = delimiter.join(["NIK", "Nama", "Hasil"]) + "\n"
    text += delimiter.join([NIK, "Siti Aminah", "Lolos"]) + "\n"
    row = only_row(text)
    assert (row.nik, row.name, row.result) == (NIK, "Siti Aminah", "Lolos")


def test_csv_delimiter_is_taken_from_the_header_not_a_title_full_of_commas() -> None:
    text = "Hasil seleksi, tahap 1, 2024, final\nNIK;Hasil\n" + NIK + ";Lulus\n"
    (row,) = read_table(text.encode(), "hasil.csv", today=TODAY)
    assert (row.line, row.nik, row.result) == (3, NIK, "Lulus")


def test_csv_line_numbers_follow_spreadsheet_rows_across_a_quoted_line_break() -> None:
    text = f'NIK,Hasil,Catatan\n{NIK},Lulus,"baris satu\nbaris dua"\n3528011708950002,TL,\n'
    rows = read_table(text.encode(), "hasil.csv", today=TODAY)
    assert [(row.line, row.note) for row in rows] == [(2, "baris satu\nbaris dua"), (3, None)]


def test_csv_cp1252_fallback() -> None:
    content = f"NIK;Nama;Hasil\n{NIK};José Ñoño;Lulus\n".encode("cp1252")
    (row,) = read_table(content, "hasil.csv", today=TODAY)
    assert row.name == "José Ñoño"


def test_csv_utf16_unicode_text_export() -> None:
    content = f"NIK\tNama\tHasil\r\n{NIK}\tSiti\tLulus\r\n".encode("utf-16")
    (row,) = read_table(content, "hasil.txt", today=TODAY)
    assert (row.nik, row.name) == (NIK, "Siti")


def test_cells_and_headers_lose_nbsp_zero_width_and_stray_spaces() -> None:
    text = (
        "\u00a0No.\u00a0Registrasi\u200b ; NIK ;  Nama ; Hasil Seleksi \n"
        "\u200b reg 7\u00a0; 3528.0117.0895-0001\u00a0;  Siti \u00a0  Aminah ;"
        "\u00a0 tidak   lulus \u200b\n"
    )
    row = only_row(text)
    assert (row.number, row.nik, row.name, row.result) == (
        "REG7",
        NIK,
        "Siti Aminah",
        "tidak lulus",
    )


def test_duplicate_columns_use_the_first() -> None:
    row = only_row(f"NIK,Hasil,Status,NIK\n{NIK},Lulus,Gagal,1111\n")
    assert (row.nik, row.result) == (NIK, "Lulus")


def test_missing_optional_cells_in_a_short_row() -> None:
    row = only_row(f"NIK,Hasil,Nama,Catatan,Tgl Lahir\n{NIK}\n")
    assert (row.result, row.name, row.note, row.birth_date, row.birth_date_text) == (
        "",
        None,
        None,
        None,
        None,
    )


# --------------------------------------------------------------------------- NIK and dates


@pytest.mark.parametrize(
    ("cell", "nik", "was_number"),
    [
        (NIK, NIK, False),
        ("'3528011708950001", NIK, False),
        ("3528-0117-0895-0001", NIK, False),
        ("3.52801E+15", "3528010000000000", True),
        ("3,52801E+15", "3528010000000000", True),
        ("3.528011708950001e15", NIK, True),
        ("35280117089", "35280117089", False),
        ("", None, False),
    ],
)
def test_csv_nik(cell: str, nik: str | None, was_number: bool) -> None:
    row = only_row(f"NIK;No Reg;Hasil\n{cell};R1;Lulus\n")
    assert (row.nik, row.nik_was_number) == (nik, was_number)


@pytest.mark.parametrize(
    ("cell", "born", "text"),
    [
        ("34928", date(1995, 8, 17), None),
        ("17-08-1995", date(1995, 8, 17), None),
        ("17/8/1995", date(1995, 8, 17), None),
        ("17 Agustus 1995", date(1995, 8, 17), None),
        ("1995-08-17", date(1995, 8, 17), None),
        ("1995-08-17 00:00:00", date(1995, 8, 17), None),
        ("17/08/1995 0:00", date(1995, 8, 17), None),
        ("17-08-95", None, "17-08-95"),
        ("31-02-1995", None, "31-02-1995"),
        ("belum diisi", None, "belum diisi"),
        ("99999", None, "99999"),
        ("", None, None),
    ],
)
def test_csv_birth_date(cell: str, born: date | None, text: str | None) -> None:
    row = only_row(f"NIK;Tanggal Lahir;Hasil\n{NIK};{cell};Lulus\n")
    assert (row.birth_date, row.birth_date_text) == (born, text)


def test_birth_date_is_none_without_a_birth_date_column() -> None:
    row = only_row(f"NIK;Hasil\n{NIK};Lulus\n")
    assert (row.birth_date, row.birth_date_text) == (None, None)


# --------------------------------------------------------------------------- problems


def corrupt_xlsx() -> bytes:
    whole = xlsx(["NIK", "Hasil"], [NIK, "Lulus"])
    return whole[: len(whole) // 2]


@pytest.mark.parametrize(
    "content",
    [
        random.Random(7).randbytes(2000),
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(100),
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(500),
        b"PK\x03\x04" + b"not really a zip" * 20,
        corrupt_xlsx(),
        b"<html><body><table><tr><td>NIK</td><td>Hasil</td></tr></table></body></html>",
        b"\xff\xfeN\x00I\x00K",
    ],
    ids=["random", "png", "ole2-xls", "bad-zip", "truncated-xlsx", "html", "odd-utf16"],
)
def test_unreadable(content: bytes) -> None:
    caught = problem(content)
    assert (caught.code, caught.params) == ("table_unreadable", {})


@pytest.mark.parametrize(
    "content",
    [b"", b"\xef\xbb\xbf", b" \r\n\r\n;;;\r\n", b"NIK;Hasil\r\n", b"Judul\nNIK;Hasil\n;\n"],
    ids=["empty", "bom-only", "blank-lines", "header-only", "header-and-blank-row"],
)
def test_empty(content: bytes) -> None:
    assert problem(content).code == "table_empty"


def test_no_id_column_lists_the_header_cells() -> None:
    caught = problem(b"Daftar Mitra\nNo;Nama;Kecamatan;Hasil\n1;Siti;Larangan;Lulus\n")
    assert caught.code == "table_no_id_column"
    assert caught.params == {"columns": "No, Nama, Kecamatan, Hasil"}


def test_no_id_column_when_the_header_is_below_the_first_ten_rows() -> None:
    titles = "".join(f"Judul {n}\n" for n in range(10))
    assert problem(f"{titles}NIK;Hasil\n{NIK};Lulus\n".encode()).code == "table_no_id_column"


def test_no_result_column_lists_the_header_cells() -> None:
    caught = problem(f"No;No Reg;Nama;Nilai\n1;R1;Siti;80\n{NIK};x;y;z\n".encode())
    assert (caught.code, caught.params) == (
        "table_no_result_column",
        {"columns": "No, No Reg, Nama, Nilai"},
    )


def test_columns_listed_are_truncated() -> None:
    header = ";".join(f"Kolom tambahan nomor {n}" for n in range(40))
    columns = problem(f"{header}\n1\n".encode()).params["columns"]
    assert isinstance(columns, str)
    assert columns.startswith("Kolom tambahan nomor 0, Kolom tambahan nomor 1")
    assert len(columns) <= 200 and columns.endswith("…")


def test_too_many_rows() -> None:
    body = "".join(f"{n};Lulus\n" for n in range(4))
    caught = problem(f"NIK;Hasil\n{body}".encode(), max_rows=3)
    assert (caught.code, caught.params) == ("table_too_many_rows", {"limit": 3})


def test_max_rows_counts_data_rows_only_not_title_header_or_blank_rows() -> None:
    content = b"Judul\nNIK;Hasil\n1;Lulus\n\n;;\n2;Lulus\n3;TL\n\n"
    rows = read_table(content, "hasil.csv", today=TODAY, limits=TableLimits(max_rows=3))
    assert [row.line for row in rows] == [3, 6, 7]


def test_too_many_rows_in_xlsx() -> None:
    content = xlsx(["NIK", "Hasil"], *([NIK, "Lulus"] for _ in range(6)))
    assert problem(content, max_rows=5).params == {"limit": 5}


# --------------------------------------------------------------------------- outcomes

PASSED = [
    "lulus", "lolos", "l", "ms", "memenuhi syarat", "diterima", "terpilih", "passed", "pass",
    "p", "ya", "y", "1", "true", "lulus seleksi", "lolos seleksi", "calon mitra",
    "LULUS", " Lulus. ", "Memenuhi-Syarat", "TRUE",
]  # fmt: skip
NOT_PASSED = [
    "tidak lulus", "tidak lolos", "tdk lulus", "tdk lolos", "tl", "tms", "tidak memenuhi syarat",
    "gagal", "ditolak", "tidak diterima", "not passed", "fail", "failed", "tidak", "t", "n",
    "no", "0", "false", "TIDAK  LULUS", "Tdk. Lulus", "Not-Passed",
]  # fmt: skip
PENDING = [
    "belum", "belum ada", "pending", "menunggu", "proses", "dalam proses", "Dalam Proses...",
]  # fmt: skip
UNKNOWN = ["", "  ", "-", "?", "lulus bersyarat", "cadangan", "85", "1.0", "yes", "lulus?!x"]


@pytest.mark.parametrize("text", PASSED)
def test_outcome_passed(text: str) -> None:
    assert parse_outcome(text) == "passed"


@pytest.mark.parametrize("text", NOT_PASSED)
def test_outcome_not_passed(text: str) -> None:
    assert parse_outcome(text) == "not_passed"


@pytest.mark.parametrize("text", PENDING)
def test_outcome_pending(text: str) -> None:
    assert parse_outcome(text) == "pending"


@pytest.mark.parametrize("text", UNKNOWN)
def test_outcome_unknown(text: str) -> None:
    assert parse_outcome(text) is None


def test_outcome_of_cells_as_read() -> None:
    content = xlsx(["NIK", "Hasil"], [NIK, 1], [NIK, 0], [NIK, True], [NIK, "Belum Ada"])
    outcomes = [parse_outcome(row.result) for row in read_table(content, "hasil.xlsx", today=TODAY)]
    assert outcomes == ["passed", "not_passed", "passed", "pending"]
