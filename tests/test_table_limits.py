"""A results table is refused past its limits before any parser holds it: a small XLSX cannot
unpack into a huge shared-strings table, styles, rows or columns; chat and CLI say the same."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest
from openpyxl import Workbook

from bot.cli import main
from core.catalog import Catalog
from core.types import FileKind
from handlers.conversation import Conversation
from services.result_table import TableProblem, read_table
from services.table_limits import LIMITS, TableLimits
from tests.chat import Chat
from tests.seeding import TODAY

STAFF_ID = "900"  # named as staff in the test settings
MAIN = b'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
BOMB_ENTRIES = 4_500_000
"""Empty shared strings: 50 KB compressed; before the limits, reading it took 400+ MB."""
SST_TYPE = b"application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"


def _workbook() -> bytes:
    book = Workbook()
    book.active.append(["No. Registrasi", "Hasil"])
    book.active.append(["PMK24-00001", "lulus"])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def xlsx_with(parts: dict[str, Iterator[bytes] | bytes]) -> bytes:
    """A real workbook with `parts` replaced or added (a part may be streamed in chunks); an
    added xl/sharedStrings.xml is declared as the shared strings, as Excel does."""
    source = zipfile.ZipFile(io.BytesIO(_workbook()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        names = [info.filename for info in source.infolist()]
        for name in names + [name for name in parts if name not in names]:
            content = parts.get(name, source.read(name) if name in names else b"")
            if name == "[Content_Types].xml" and "xl/sharedStrings.xml" in parts:
                override = b'<Override PartName="/xl/sharedStrings.xml" ContentType="%s"/>'
                content = content.replace(b"</Types>", override % SST_TYPE + b"</Types>")
            with archive.open(name, "w", force_zip64=True) as entry:
                for chunk in [content] if isinstance(content, bytes) else content:
                    entry.write(chunk)
    return out.getvalue()


def shared_strings(entries: int, entry: bytes = b"<si/>") -> Iterator[bytes]:
    """A shared-strings part of `entries` entries, in chunks of 10,000."""
    yield b'<sst %s count="%d" uniqueCount="%d">' % (MAIN, entries, entries)
    for start in range(0, entries, 10_000):
        yield entry * min(10_000, entries - start)
    yield b"</sst>"


def sheet(rows: bytes) -> bytes:
    return b"<worksheet %s><sheetData>%s</sheetData></worksheet>" % (MAIN, rows)


def refusal(content: bytes, limits: TableLimits = LIMITS) -> TableProblem:
    with pytest.raises(TableProblem) as caught:
        read_table(content, "hasil.xlsx", today=TODAY, limits=limits)
    return caught.value


@pytest.fixture
def openpyxl_never_opens(monkeypatch: pytest.MonkeyPatch) -> None:
    """The refusal comes before parsing: openpyxl is never asked to open the file."""

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("openpyxl was asked to open a file past the limits")

    monkeypatch.setattr(openpyxl, "load_workbook", refuse)  # imported where it is used


# ------------------------------------------------------------------------- the bombs


@pytest.mark.parametrize(
    ("entries", "code", "params"),
    [
        (BOMB_ENTRIES, "table_too_many_strings", {"limit": 100_000}),  # 22.5 MB unpacked
        (40_000_000, "table_too_big_unpacked", {"max_mb": 25}),  # 200 MB unpacked
    ],
    ids=["millions-of-entries", "hundreds-of-mb"],
)
@pytest.mark.usefixtures("openpyxl_never_opens")
def test_a_shared_strings_bomb_is_refused_before_parsing(
    entries: int, code: str, params: dict[str, int]
) -> None:
    bomb = xlsx_with({"xl/sharedStrings.xml": shared_strings(entries)})
    assert len(bomb) < 3 * 2**20
    caught = refusal(bomb)
    assert (caught.code, caught.params) == (code, params)


def test_a_zip_header_that_understates_a_part_cannot_unpack_more(
    openpyxl_never_opens: None,
) -> None:
    bomb = bytearray(xlsx_with({"xl/sharedStrings.xml": shared_strings(1_000_000)}))
    name = b"xl/sharedStrings.xml"
    header = bomb.rindex(name) - 46  # the central directory's entry, which readers trust
    assert bomb[header : header + 4] == b"PK\x01\x02"
    bomb[header + 24 : header + 28] = (1000).to_bytes(4, "little")  # "1000 bytes unpacked"
    assert zipfile.ZipFile(io.BytesIO(bomb)).getinfo(name.decode()).file_size == 1000
    assert refusal(bytes(bomb)).code == "table_unreadable"


def test_huge_styles_are_refused_before_parsing(openpyxl_never_opens: None) -> None:
    styles = zipfile.ZipFile(io.BytesIO(_workbook())).read("xl/styles.xml")
    bomb = xlsx_with(
        {"xl/styles.xml": styles.replace(b"</cellXfs>", b"<xf/>" * 1_000_000 + b"</cellXfs>")}
    )
    assert refusal(bomb).code == "table_too_complex"


def test_entities_are_refused(openpyxl_never_opens: None) -> None:
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE sst [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        b"<sst %s><si><t>&b;</t></si></sst>" % MAIN
    )
    assert refusal(xlsx_with({"xl/sharedStrings.xml": laughs})).code == "table_unreadable"


def test_a_cell_far_to_the_right_or_far_down_is_refused(openpyxl_never_opens: None) -> None:
    wide = sheet(
        b'<row r="1"><c r="A1" t="inlineStr"><is><t>NIK</t></is></c></row>'
        b'<row r="2"><c r="XFD2"><v>1</v></c></row>'
    )
    caught = refusal(xlsx_with({"xl/worksheets/sheet1.xml": wide}))
    assert (caught.code, caught.params) == ("table_too_many_columns", {"line": 2, "limit": 200})
    far = sheet(b'<row r="1048576"><c r="A1048576"><v>1</v></c></row>')
    caught = refusal(xlsx_with({"xl/worksheets/sheet1.xml": far}))
    assert (caught.code, caught.params) == ("table_too_long", {"limit": 50_000})


def test_cells_and_columns_are_counted_without_references(openpyxl_never_opens: None) -> None:
    rows = b"<row>" + b"<c><v>1</v></c>" * 5 + b"</row>"
    caught = refusal(
        xlsx_with({"xl/worksheets/sheet1.xml": sheet(rows * 5)}), TableLimits(max_cells=20)
    )
    assert (caught.code, caught.params) == ("table_too_many_cells", {"limit": 20})
    caught = refusal(
        xlsx_with({"xl/worksheets/sheet1.xml": sheet(rows)}), TableLimits(max_columns=4)
    )
    assert (caught.code, caught.params) == ("table_too_many_columns", {"line": 1, "limit": 4})


def test_a_csv_row_wider_than_the_limit_is_refused() -> None:
    content = b"NIK;Hasil\n3528011708950001;Lulus" + b";" * 300 + b"\n"
    with pytest.raises(TableProblem) as caught:
        read_table(content, "hasil.csv", today=TODAY)
    assert (caught.value.code, caught.value.params) == (
        "table_too_many_columns",
        {"line": 2, "limit": 200},
    )


def test_a_file_within_the_limits_still_reads() -> None:
    rows = read_table(_workbook(), "hasil.xlsx", today=TODAY)
    assert [(row.number, row.result) for row in rows] == [("PMK24-00001", "lulus")]


def test_the_shared_strings_bomb_stays_within_200_mb(tmp_path: Path) -> None:
    """Measured in a fresh process: the growth of its peak memory while reading the bomb."""
    path = tmp_path / "bomb.xlsx"
    path.write_bytes(xlsx_with({"xl/sharedStrings.xml": shared_strings(BOMB_ENTRIES)}))
    script = """
import json, resource, sys
from services.result_table import TableProblem, read_table
from tests.seeding import TODAY
content = open(sys.argv[1], "rb").read()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    read_table(content, "bomb.xlsx", today=TODAY)
    code = None
except TableProblem as problem:
    code = problem.code
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"code": code, "growth_kb": after - before}))
"""
    result = subprocess.run(
        [sys.executable, "-c", script, str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    measured = json.loads(result.stdout)
    assert measured["code"] == "table_too_many_strings"
    assert measured["growth_kb"] < 200 * 1024, measured


# ------------------------------------------------------------------------- chat and CLI


@pytest.fixture
def bomb() -> bytes:
    return xlsx_with({"xl/sharedStrings.xml": shared_strings(BOMB_ENTRIES)})


async def test_chat_refuses_the_bomb_with_the_catalog_text(
    conversation: Conversation, bomb: bytes
) -> None:
    staff = Chat(conversation, STAFF_ID)
    await staff.send("/start")
    await staff.send("/hasil_impor 1")
    await staff.send_file(bomb, FileKind.DOCUMENT, None, "hasil.xlsx")
    expected = Catalog.load().text("id", "res_table_too_many_strings", limit=100_000)
    assert expected in staff.text
    assert (await staff.session()).step == "res_upload"  # waits for a better file


def test_cli_refuses_the_bomb_and_an_oversized_file_with_the_same_texts(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    bomb: bytes,
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MITRABOT_DATA_DIR", str(tmp_path / "data"))
    for name in ("MITRABOT_DATABASE_URL", "MITRABOT_CLOCK_AT", "MITRABOT_STAFF"):
        monkeypatch.delenv(name, raising=False)
    catalog = Catalog.load()
    (tmp_path / "bom.xlsx").write_bytes(bomb)
    assert main(["results", "import", str(tmp_path / "bom.xlsx"), "--stage", "1"]) == 1
    out = capsys.readouterr().out
    assert catalog.text("id", "res_table_too_many_strings", limit=100_000) in out
    (tmp_path / "besar.csv").write_bytes(b"NIK;Hasil\n" + b"3528011708950001;Lulus\n" * 300_000)
    assert (
        main(["results", "import", str(tmp_path / "besar.csv"), "--stage", "1", "--lang", "en"])
        == 1
    )
    assert "The file is too large (at most 5 MB)." in capsys.readouterr().out
