"""`mitrabot results`: dry run, apply, single results, publishing and the public list."""

from __future__ import annotations

import asyncio
import csv
from datetime import datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from bot.cli import main
from core.clock import JAKARTA
from storage.db import Database
from storage.models import AuditEntry, OutboxMessage, StageResult
from tests.seeding import seed_applicants, seeded_nik, seeded_number


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MITRABOT_DATA_DIR", str(tmp_path / "data"))
    for name in ("MITRABOT_DATABASE_URL", "MITRABOT_CLOCK_AT", "MITRABOT_STAFF"):
        monkeypatch.delenv(name, raising=False)
    assert main(["db", "upgrade"]) == 0
    return tmp_path / "data"


def _database(data_dir: Path) -> Database:
    return Database(f"sqlite+aiosqlite:///{data_dir / 'mitrabot.db'}")


async def _seed(data_dir: Path, count: int) -> None:
    db = _database(data_dir)
    await seed_applicants(db, count, datetime(2023, 11, 10, 9, tzinfo=JAKARTA))
    await db.dispose()


async def _count(data_dir: Path, model: type) -> int:
    db = _database(data_dir)
    async with db.transaction() as session:
        count = (await session.execute(select(func.count()).select_from(model))).scalar_one()
    await db.dispose()
    return count


def _write(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "hasil.csv"
    path.write_text("No Pendaftaran,NIK,Hasil,Catatan\n" + "\n".join(lines) + "\n")
    return path


def test_import_is_a_dry_run_until_apply(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(_seed(data_dir, 2))
    path = _write(tmp_path, f"{seeded_number(1)},,lulus,", f",{seeded_nik(2)},tidak lulus,KTP")
    assert main(["results", "import", str(path), "--stage", "1"]) == 0
    out = capsys.readouterr().out
    assert "akan berubah: 2" in out and "Uji coba: belum ada yang dicatat" in out
    assert asyncio.run(_count(data_dir, StageResult)) == 0
    assert main(["results", "import", str(path), "--stage", "1", "--apply"]) == 0
    out = capsys.readouterr().out
    assert "2 hasil Tahap 1 Seleksi Administrasi tercatat" in out  # Indonesian, as in chat
    assert "`mitrabot results publish --stage 1 --apply`" in out
    assert asyncio.run(_count(data_dir, StageResult)) == 2


def test_an_invalid_file_is_never_applied(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(_seed(data_dir, 2))
    path = _write(tmp_path, f"{seeded_number(1)},,lulus,", f"{seeded_number(2)},,??,")
    assert main(["results", "import", str(path), "--stage", "1", "--apply"]) == 1
    out = capsys.readouterr().out
    assert "Baris 3: nilai hasil" in out and "Tidak ada yang dicatat" in out
    assert asyncio.run(_count(data_dir, StageResult)) == 0
    unknown = _write(tmp_path, f"{seeded_number(1)},,lulus,", "PMK24-08888,,lulus,")
    assert main(["results", "import", str(unknown), "--stage", "1", "--apply"]) == 1
    assert (
        main(["results", "import", str(unknown), "--stage", "1", "--apply", "--skip-unknown"]) == 0
    )
    assert asyncio.run(_count(data_dir, StageResult)) == 1


def test_set_publish_and_public_list(
    data_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MITRABOT_CLOCK_AT", "2023-12-15T09:00")
    asyncio.run(_seed(data_dir, 2))
    for stage in ("1", "2", "3", "final"):
        assert (
            main(["results", "set", seeded_number(1), "--stage", stage, "--result", "lulus"]) == 0
        )
    assert main(["results", "set", seeded_number(2), "--stage", "2", "--result", "lulus"]) == 1
    assert "belum lulus Tahap 1" in capsys.readouterr().out
    assert main(["results", "publish", "--stage", "final"]) == 0
    assert "Pesan yang akan dikirim (hasil baru atau berubah): 1" in capsys.readouterr().out
    assert asyncio.run(_count(data_dir, OutboxMessage)) == 0
    assert main(["results", "publish", "--stage", "final", "--apply"]) == 0
    assert main(["results", "publish", "--stage", "final", "--apply"]) == 0
    assert "Tidak ada pesan baru yang perlu dikirim" in capsys.readouterr().out
    assert asyncio.run(_count(data_dir, OutboxMessage)) == 1

    assert main(["results", "public-list", str(tmp_path / "lulus.csv")]) == 0
    with (tmp_path / "lulus.csv").open(encoding="utf-8-sig") as handle:
        assert list(csv.reader(handle)) == [
            ["No. Registrasi", "Nama", "Kecamatan"],
            [seeded_number(1), "Pendaftar 1", "Tlanakan"],
        ]
    assert main(["results", "public-list", str(tmp_path / "lulus.xlsx")]) == 0
    sheet = load_workbook(tmp_path / "lulus.xlsx").active
    cells = [str(cell) for row in sheet.iter_rows(values_only=True) for cell in row]
    assert seeded_nik(1) not in cells and "Pendaftar 1" in cells
    assert main(["results", "summary"]) == 0
    summary = capsys.readouterr().out
    assert "Hasil akhir (calon mitra): lulus 1" in summary
    # When it was published, in WIB, not "2023-12-15T02:00:00+00:00".
    assert "diumumkan: sudah, 15 Desember 2023, 09.00 WIB" in summary and "+00:00" not in summary
    assert asyncio.run(_count(data_dir, AuditEntry)) >= 7


def test_a_broadcast_by_result_needs_the_stage_published(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(_seed(data_dir, 2))
    assert main(["results", "set", seeded_number(1), "--stage", "1", "--result", "lulus"]) == 0
    send = ["broadcast", "send", "--text", "Tes 4 Desember", "--audience", "passed:1", "--yes"]
    with pytest.raises(SystemExit, match="Tahap 1 Seleksi Administrasi belum diumumkan"):
        main(send)
    assert asyncio.run(_count(data_dir, OutboxMessage)) == 0
    with pytest.raises(SystemExit, match="tahap 7 tidak dikenal"):
        main([*send[:-2], "passed:7", "--yes"])
    assert main(["results", "publish", "--stage", "1", "--apply"]) == 0
    assert main(send) == 0
    assert "Penerima passed:1: 1 orang" in capsys.readouterr().out
    assert asyncio.run(_count(data_dir, OutboxMessage)) == 2  # the result notice and the message
