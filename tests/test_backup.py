"""`mitrabot backup` / `restore`: a backup restored into a fresh database and a fresh documents
folder holds every applicant, document and outbox row; a damaged backup and a database that
already holds data are refused."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from bot.cli_support import text
from core.clock import FrozenClock
from handlers.conversation import Conversation
from handlers.flow import Dependencies
from services.backup import BackupRefused, create_backup, restore_backup
from storage.backup import ToolMissing
from storage.db import Database, alembic_config
from storage.files import FileStore
from storage.models import Applicant, OutboxMessage
from storage.outbox import Outbox
from tests.chat import Chat
from tests.conftest import OPEN_DAY, _drop_postgres_database, _postgres_database
from tests.seeding import queued_message, seed_applicants

Databases = tuple[Database, Database]
"""(the database backed up, a fresh one to restore into)."""


def _pg_tools_present() -> bool:
    return bool(shutil.which("pg_dump") and shutil.which("pg_restore"))


@pytest.fixture(params=["sqlite", "postgresql"])
async def databases(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Databases]:
    """A migrated database and an empty one (not migrated), on each backend."""
    if request.param == "sqlite":
        pair = (
            Database(f"sqlite+aiosqlite:///{tmp_path / 'live' / 'mitrabot.db'}"),
            Database(f"sqlite+aiosqlite:///{tmp_path / 'fresh' / 'mitrabot.db'}"),
        )
        await pair[0].upgrade()
        yield pair
        for database in pair:
            await database.dispose()
        return
    if not _pg_tools_present():
        pytest.skip("pg_dump/pg_restore are not installed: PostgreSQL backups cannot be made")
    created = [await _postgres_database(), await _postgres_database()]
    if None in created:
        pytest.skip("PostgreSQL not reachable")
    pair = (Database(created[0][0]), Database(created[1][0]))  # type: ignore[index]
    await pair[0].upgrade()
    yield pair
    for database, (_, name) in zip(pair, created, strict=True):  # type: ignore[misc]
        await database.dispose()
        await _drop_postgres_database(name)


async def _seed(db: Database, deps: Dependencies, clock: FrozenClock) -> None:
    """An applicant registered through the chat (three documents), three seeded ones, and
    outbox rows."""
    await Chat(Conversation(db, deps), user_id="1001").register()
    await seed_applicants(db, 3, clock.now(), start=10)
    rows = [queued_message(f"b:{n}", "telegram", str(n), f"Halo {n}", clock.now()) for n in (1, 2)]
    async with db.transaction() as session:
        await Outbox(session).enqueue(rows)


async def _contents(db: Database, store: FileStore) -> tuple[list, list, list]:
    """(applicants, (owner, kind, bytes) of every document, outbox rows) as comparable values."""
    async with db.transaction() as session:
        applicants = (
            await session.execute(
                select(Applicant).options(selectinload(Applicant.documents)).order_by(Applicant.id)
            )
        ).scalars()
        people, documents = [], []
        for a in applicants:
            people.append((a.id, a.full_name, a.nik, a.registration_number, a.kecamatan))
            documents += [(a.id, d.kind, d.path, store.read(d.path)) for d in a.documents]
        outbox = (await session.execute(select(OutboxMessage).order_by(OutboxMessage.id))).scalars()
        messages = [(m.dedup_key, m.channel, m.recipient, m.text, m.state) for m in outbox]
    return people, sorted(documents), messages


async def test_a_restored_backup_holds_every_applicant_document_and_outbox_row(
    databases: Databases, deps: Dependencies, clock: FrozenClock, tmp_path: Path
) -> None:
    live, fresh = databases
    await _seed(live, deps, clock)
    before = await _contents(live, deps.files)
    assert len(before[0]) == 4 and len(before[1]) == 3 and len(before[2]) >= 2

    out = tmp_path / "backups" / "mitrabot.tar.gz"
    made = await create_backup(live, deps.files, out, clock.now())
    assert made.counts == {"applicants": 4, "documents": 3, "outbox": len(before[2])}
    assert oct(out.stat().st_mode & 0o777) == "0o600"

    fresh_store = FileStore(tmp_path / "fresh-documents")
    restored = await restore_backup(fresh, fresh_store, out, force=False)

    assert restored.created_at == clock.now().isoformat()
    assert await _contents(fresh, fresh_store) == before


async def test_the_manifest_lists_every_file_with_its_checksum(
    db: Database, deps: Dependencies, clock: FrozenClock, tmp_path: Path
) -> None:
    await _seed(db, deps, clock)
    out = tmp_path / "backup"
    await create_backup(db, deps.files, out, clock.now())

    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["created_at"] == clock.now().isoformat()
    assert manifest["database"] == "sqlite"
    assert manifest["alembic_revision"] == "0021"
    assert manifest["counts"]["applicants"] == 4
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert sorted(manifest["sha256"]) == [f for f in files if f != "manifest.json"]
    assert len([f for f in files if f.startswith("documents/")]) == 3
    assert "database.sqlite" in manifest["sha256"]
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in out.rglob("*") if p.is_file())


@pytest.mark.parametrize("damage", ["changed", "missing", "extra", "manifest"])
async def test_a_damaged_backup_is_refused_and_nothing_is_restored(
    db: Database, deps: Dependencies, clock: FrozenClock, tmp_path: Path, damage: str
) -> None:
    await _seed(db, deps, clock)
    out = tmp_path / "backup"
    await create_backup(db, deps.files, out, clock.now())
    a_document = next(p for p in (out / "documents").rglob("*") if p.is_file())
    if damage == "changed":
        a_document.write_bytes(a_document.read_bytes()[:-1] + b"\x00")
    elif damage == "missing":
        a_document.unlink()
    elif damage == "extra":
        (out / "documents" / "planted.jpg").write_bytes(b"x")
    else:
        (out / "manifest.json").write_text("{")

    fresh = Database(f"sqlite+aiosqlite:///{tmp_path / 'fresh' / 'mitrabot.db'}")
    fresh_store = FileStore(tmp_path / "fresh-documents")
    with pytest.raises(BackupRefused):
        await restore_backup(fresh, fresh_store, out, force=False)
    await fresh.dispose()
    assert not (tmp_path / "fresh" / "mitrabot.db").exists()
    assert not fresh_store.root.exists()


async def test_restoring_over_data_needs_force(
    databases: Databases, deps: Dependencies, clock: FrozenClock, tmp_path: Path
) -> None:
    live, other = databases
    await _seed(live, deps, clock)
    out = tmp_path / "backup.tar.gz"
    await create_backup(live, deps.files, out, clock.now())
    await other.upgrade()
    await seed_applicants(other, 1, clock.now(), start=50)
    other_store = FileStore(tmp_path / "other-documents")

    with pytest.raises(BackupRefused) as refused:
        await restore_backup(other, other_store, out, force=False)
    assert refused.value.key == "backup_target_not_empty"
    async with other.transaction() as session:
        names = (await session.execute(select(Applicant.full_name))).scalars().all()
    assert names == ["Pendaftar 50"]

    await restore_backup(other, other_store, out, force=True)
    assert await _contents(other, other_store) == await _contents(live, deps.files)


async def test_an_older_backup_is_brought_up_to_date(
    deps: Dependencies, clock: FrozenClock, tmp_path: Path
) -> None:
    old = Database(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")

    def to_0020(connection: object) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "0020")

    async with old.engine.begin() as connection:
        await connection.run_sync(to_0020)
    await seed_applicants(old, 2, clock.now())
    out = tmp_path / "old-backup"
    made = await create_backup(old, deps.files, out, clock.now())
    assert made.revision == "0020"

    fresh = Database(f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}")
    await restore_backup(fresh, FileStore(tmp_path / "fresh-documents"), out, force=False)
    async with fresh.transaction() as session:
        names = (await session.execute(select(Applicant.full_name))).scalars().all()
    fresh_copy = await create_backup(fresh, deps.files, tmp_path / "again", clock.now())
    assert names == ["Pendaftar 1", "Pendaftar 2"]
    assert fresh_copy.revision == "0021"
    for database in (old, fresh):
        await database.dispose()


def test_the_commands_back_up_refuse_and_restore(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import main

    monkeypatch.chdir(tmp_path)
    for name in ("MITRABOT_DATABASE_URL", "MITRABOT_CLOCK_AT", "MITRABOT_STAFF"):
        monkeypatch.delenv(name, raising=False)
    live = tmp_path / "live"

    async def seed() -> None:
        database = Database(f"sqlite+aiosqlite:///{live / 'mitrabot.db'}")
        await database.upgrade()
        await seed_applicants(database, 2, FrozenClock(OPEN_DAY).now())
        await database.dispose()

    asyncio.run(seed())
    monkeypatch.setenv("MITRABOT_DATA_DIR", str(live))
    assert main(["backup", str(tmp_path / "b")]) == 0
    assert "2 pendaftar" in capsys.readouterr().out

    monkeypatch.setenv("MITRABOT_DATA_DIR", str(tmp_path / "new"))
    assert main(["restore", str(tmp_path / "b")]) == 0
    assert "dipulihkan: 2 pendaftar" in capsys.readouterr().out

    assert main(["restore", str(tmp_path / "b")]) == 1
    assert "--force" in capsys.readouterr().err
    database = tmp_path / "b" / "database.sqlite"
    database.write_bytes(database.read_bytes() + b"\x00")
    assert main(["restore", "--force", str(tmp_path / "b")]) == 1
    error = capsys.readouterr().err
    assert "checksum tidak cocok" in error and "database.sqlite" in error
    assert "Pendaftar" not in error
    assert os.listdir(tmp_path / "new" / "documents") == []


async def test_without_pg_dump_a_postgresql_backup_says_what_is_missing(
    databases: Databases,
    deps: Dependencies,
    clock: FrozenClock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    live, _ = databases
    if live.is_sqlite:
        pytest.skip("SQLite backups need no outside program")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(ToolMissing) as missing:
        await create_backup(live, deps.files, tmp_path / "backup", clock.now())
    assert missing.value.tool == "pg_dump"
    assert "postgresql-client" in text("backup_tool_missing", tool="pg_dump")
