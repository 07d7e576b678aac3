"""Everything the bot writes to disk is its user's alone (0700 folders, 0600 files), whatever
the umask, and `mitrabot config check` warns about a data folder others can read."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.cli import main
from storage.db import Database
from storage.files import FileStore


@pytest.fixture(params=[0o000, 0o022], ids=["umask000", "umask022"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    previous = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(previous)


@pytest.fixture(autouse=True)
def environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("MITRABOT_DATABASE_URL", "MITRABOT_CLOCK_AT", "MITRABOT_STAFF"):
        monkeypatch.delenv(name, raising=False)


def _modes(root: Path) -> dict[str, str]:
    """Every folder ("d700") and file ("-600") under `root` (itself excluded) with its mode."""
    return {
        str(
            path.relative_to(root)
        ): f"{'d' if path.is_dir() else '-'}{path.stat().st_mode & 0o777:o}"
        for path in sorted(root.rglob("*"))
    }


@pytest.mark.usefixtures("umask")
def test_data_folder_database_documents_and_exports_are_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "made"
    data = root / "srv" / "mitrabot" / "data"  # three levels that do not exist yet
    monkeypatch.setenv("MITRABOT_DATA_DIR", str(data))
    assert main(["db", "upgrade"]) == 0
    FileStore(data / "documents").put(b"%PDF-1.4 ijazah", "pdf")
    out = root / "exports" / "2023"
    assert main(["results", "public-list", str(out / "lulus.xlsx")]) == 0
    assert main(["results", "public-list", str(out / "lulus.csv")]) == 0
    assert main(["broadcast", "failures", "1", "--out", str(out / "gagal" / "1.csv")]) == 0
    assert main(["documents", "export", str(out / "berkas")]) == 0
    assert main(["documents", "export", str(out / "zip" / "berkas.zip")]) == 0

    async def with_database_open() -> dict[str, str]:
        db = Database(f"sqlite+aiosqlite:///{data / 'mitrabot.db'}")
        await db.ping()  # an open connection in WAL mode: the -wal and -shm files exist
        try:
            return _modes(root)
        finally:
            await db.dispose()

    modes = asyncio.run(with_database_open())
    assert {name: mode for name, mode in modes.items() if mode not in ("d700", "-600")} == {}
    stored = {"mitrabot.db", "mitrabot.db-wal", "mitrabot.db-shm", "documents"}
    assert {f"srv/mitrabot/data/{name}" for name in stored} <= set(modes)
    assert {"lulus.xlsx", "lulus.csv", "gagal/1.csv", "berkas", "zip/berkas.zip"} <= set(
        _modes(out)
    )


@pytest.mark.usefixtures("umask")
def test_an_export_over_an_existing_readable_file_becomes_private(tmp_path: Path) -> None:
    out = tmp_path / "lulus.csv"
    out.write_text("old")
    out.chmod(0o644)
    os.environ["MITRABOT_DATA_DIR"] = str(tmp_path / "data")
    try:
        assert main(["db", "upgrade"]) == 0
        assert main(["results", "public-list", str(out)]) == 0
    finally:
        del os.environ["MITRABOT_DATA_DIR"]
    assert f"{out.stat().st_mode & 0o777:o}" == "600"
    assert "Nama" in out.read_text(encoding="utf-8-sig")


def test_config_check_warns_about_a_data_folder_others_can_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    monkeypatch.setenv("MITRABOT_DATA_DIR", str(data))
    assert main(["db", "upgrade"]) == 0
    assert main(["config", "check"]) == 0
    assert "Peringatan" not in capsys.readouterr().out

    data.chmod(0o755)
    (data / "mitrabot.db").chmod(0o644)
    assert main(["config", "check"]) == 0
    out = capsys.readouterr().out
    assert f"Peringatan: {data} bisa dibaca pengguna lain di mesin ini (mode 755)" in out
    assert f"chmod -R go-rwx {data}\n" in out
    assert f"{data / 'mitrabot.db'} bisa dibaca pengguna lain di mesin ini (mode 644)" in out
