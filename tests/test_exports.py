"""Every exported table is inert: text a spreadsheet would evaluate (a leading = + - @, a tab or
a carriage return) comes out as text with a leading ', never as a formula."""

from __future__ import annotations

import asyncio
import csv
from datetime import datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import update

from bot.cli import main
from core.clock import JAKARTA
from storage.db import Database
from storage.models import Applicant, OutboxMessage
from tests.seeding import seed_applicants, seeded_number

PLANTED = [
    '=HYPERLINK("http://x","y")',
    "-Siti Aminah",
    "+6281234567890",
    "@SUM(1)",
    "\t=1+1",
    "\r=1+1",
]
NOW = datetime(2023, 12, 15, 9, tzinfo=JAKARTA)


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MITRABOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MITRABOT_CLOCK_AT", "2023-12-15T09:00")
    for name in ("MITRABOT_DATABASE_URL", "MITRABOT_STAFF"):
        monkeypatch.delenv(name, raising=False)
    assert main(["db", "upgrade"]) == 0
    return tmp_path / "data"


async def _write(data_dir: Path, *statements: object) -> None:
    db = Database(f"sqlite+aiosqlite:///{data_dir / 'mitrabot.db'}")
    async with db.transaction() as session:
        for statement in statements:
            await session.execute(statement)  # type: ignore[call-overload]
    await db.dispose()


async def _seed_planted_names(data_dir: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{data_dir / 'mitrabot.db'}")
    await seed_applicants(db, len(PLANTED), NOW)
    await db.dispose()
    await _write(
        data_dir,
        *(
            update(Applicant)
            .where(Applicant.registration_number == seeded_number(n))
            .values(full_name=name)
            for n, name in enumerate(PLANTED, start=1)
        ),
    )


def _xlsx_cells(path: Path) -> list[tuple[object, str]]:
    """(value, data type) of every cell, read as a spreadsheet would (formulas not evaluated)."""
    sheet = load_workbook(path).active
    return [(cell.value, cell.data_type) for row in sheet.iter_rows() for cell in row]


def _csv_cells(path: Path) -> list[str]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return [cell for row in csv.reader(handle) for cell in row]


def test_the_public_list_carries_no_formula(tmp_path: Path, data_dir: Path) -> None:
    asyncio.run(_seed_planted_names(data_dir))
    for n in range(1, len(PLANTED) + 1):
        for stage in ("1", "2", "3", "final"):
            command = ["results", "set", seeded_number(n), "--stage", stage, "--result", "lulus"]
            assert main(command) == 0
    assert main(["results", "public-list", str(tmp_path / "lulus.xlsx")]) == 0
    assert main(["results", "public-list", str(tmp_path / "lulus.csv")]) == 0

    cells = _xlsx_cells(tmp_path / "lulus.xlsx")
    assert [kind for _, kind in cells if kind != "s"] == []  # no "f": not one formula
    names = [value for value, _ in cells]
    inert = ["'" + name.replace("\r", "\n") for name in PLANTED]  # XML reads CR back as LF
    assert inert == [value for value in names if str(value).startswith("'")]
    assert "Nama" in names and seeded_number(1) in names  # ordinary text is left as it is
    csv_cells = _csv_cells(tmp_path / "lulus.csv")
    assert all("'" + name in csv_cells for name in PLANTED)
    assert not [cell for cell in csv_cells if cell.startswith(("=", "+", "-", "@", "\t", "\r"))]


def test_the_broadcast_failures_csv_carries_no_formula(tmp_path: Path, data_dir: Path) -> None:
    asyncio.run(_seed_planted_names(data_dir))
    assert main(["broadcast", "send", "--text", "Halo {nama}", "--audience", "all", "--yes"]) == 0
    asyncio.run(
        _write(
            data_dir,
            update(OutboxMessage).values(
                state="failed", recipient="+6281234567890", last_error='=HYPERLINK("http://x","y")'
            ),
        )
    )
    assert main(["broadcast", "failures", "1", "--out", str(tmp_path / "gagal.csv")]) == 0
    cells = _csv_cells(tmp_path / "gagal.csv")
    assert cells.count("'+6281234567890") == len(PLANTED)
    assert cells.count('\'=HYPERLINK("http://x","y")') == len(PLANTED)
    assert not [cell for cell in cells if cell.startswith(("=", "+", "-", "@", "\t", "\r"))]
