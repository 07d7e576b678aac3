"""Consistent copies of the database for backups, and putting one back.

SQLite: `VACUUM INTO` writes a consistent copy of the file while the bot runs. PostgreSQL:
`pg_dump` (custom format) inside an exported snapshot, so the counts of the manifest and the
dump see the same rows; `pg_restore` puts it back into an emptied `public` schema.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, func, inspect, select, text
from sqlalchemy.engine import URL

from storage.db import Database, sqlite_files
from storage.models import Applicant, Base, DocumentFile, OutboxMessage
from storage.private_files import create_private, private_dir

DATABASE_FILES = {"sqlite": "database.sqlite", "postgresql": "database.pgdump"}
"""The database's file in a backup, by database kind."""

COUNTED_TABLES = {
    "applicants": Applicant.__tablename__,
    "documents": DocumentFile.__tablename__,
    "outbox": OutboxMessage.__tablename__,
}
"""What a manifest counts (its name: the table)."""


class ToolMissing(Exception):
    """A PostgreSQL client program (pg_dump, pg_restore) is not on PATH."""

    def __init__(self, tool: str) -> None:
        super().__init__(tool)
        self.tool = tool


class ToolFailed(Exception):
    """pg_dump or pg_restore ended with an error (its message without row values)."""


@dataclass(frozen=True)
class DatabaseCopy:
    """What a copy of the database holds: its kind, its schema revision, its row counts."""

    kind: str
    revision: str | None
    counts: dict[str, int]


def database_kind(db: Database) -> str:
    """'sqlite' or 'postgresql'."""
    return "sqlite" if db.is_sqlite else "postgresql"


async def copy_database(db: Database, target: Path) -> DatabaseCopy:
    """Write a consistent copy of `db` to `target` (a new 0600 file)."""
    if db.is_sqlite:
        return await asyncio.to_thread(_copy_sqlite, _sqlite_path(db), target)
    return await _dump_postgres(db, target)


async def replace_database(db: Database, source: Path) -> None:
    """Make `db` hold exactly what the copy `source` holds (its connections are closed first)."""
    await db.dispose()
    if db.is_sqlite:
        await asyncio.to_thread(_replace_sqlite, db, source)
        return
    async with db.engine.begin() as connection:
        await connection.execute(text("DROP SCHEMA public CASCADE"))
        await connection.execute(text("CREATE SCHEMA public"))
    await db.dispose()
    restore = ["--no-owner", "--exit-on-error", str(source)]
    await asyncio.to_thread(_run_tool, "pg_restore", restore, db)


async def holds_data(db: Database) -> bool:
    """True when any table of the schema has a row (a database not migrated yet holds none)."""

    def any_row(connection: Connection) -> bool:
        present = set(inspect(connection).get_table_names())
        tables = [t for t in Base.metadata.sorted_tables if t.name in present]
        return any(
            connection.execute(select(func.count()).select_from(t)).scalar_one() for t in tables
        )

    async with db.engine.connect() as connection:
        return await connection.run_sync(any_row)


def _sqlite_path(db: Database) -> Path:
    files = sqlite_files(db.url.render_as_string(hide_password=False))
    if not files:
        raise ValueError("an in-memory SQLite database cannot be backed up")
    return files[0]


def _copy_sqlite(source: Path, target: Path) -> DatabaseCopy:
    create_private(target)
    target.unlink()  # VACUUM INTO wants a new file; its folder is private, so is the copy
    with _sqlite(source) as connection:
        connection.execute("VACUUM INTO ?", (str(target),))
    os.chmod(target, 0o600)
    with _sqlite(target) as connection:
        revision = _sqlite_revision(connection)
        counts = {
            name: connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for name, table in COUNTED_TABLES.items()
        }
    return DatabaseCopy("sqlite", revision, counts)


def _sqlite(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, timeout=30, isolation_level=None)
    connection.execute("PRAGMA busy_timeout=30000")
    return connection


def _sqlite_revision(connection: sqlite3.Connection) -> str | None:
    try:
        row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.OperationalError:  # not migrated
        return None
    return row[0] if row else None


def _replace_sqlite(db: Database, source: Path) -> None:
    files = sqlite_files(db.url.render_as_string(hide_password=False))
    if not files:
        raise ValueError("an in-memory SQLite database cannot be restored")
    for stale in files:
        stale.unlink(missing_ok=True)
    private_dir(files[0].parent)
    incoming = files[0].with_name(f"{files[0].name}.restoring")
    create_private(incoming)
    with source.open("rb") as reader, incoming.open("wb") as writer:
        shutil.copyfileobj(reader, writer)
        writer.flush()
        os.fsync(writer.fileno())
    os.replace(incoming, files[0])


async def _dump_postgres(db: Database, target: Path) -> DatabaseCopy:
    async with db.engine.connect() as plain:
        connection = await plain.execution_options(isolation_level="REPEATABLE READ")
        await connection.begin()
        snapshot = (await connection.execute(text("SELECT pg_export_snapshot()"))).scalar_one()
        revision = (
            await connection.execute(text("SELECT version_num FROM alembic_version"))
        ).scalar_one_or_none()
        counts = {}
        for name, table in COUNTED_TABLES.items():
            query = select(func.count()).select_from(Base.metadata.tables[table])
            counts[name] = (await connection.execute(query)).scalar_one()
        create_private(target)
        arguments = ["--format=custom", f"--snapshot={snapshot}", f"--file={target}"]
        await asyncio.to_thread(_run_tool, "pg_dump", arguments, db)
        await connection.rollback()  # read only: nothing to keep
    return DatabaseCopy("postgresql", revision, counts)


def _run_tool(tool: str, arguments: list[str], db: Database) -> None:
    """Run a PostgreSQL client against `db`; the password goes in the environment, not argv."""
    program = shutil.which(tool)
    if program is None:
        raise ToolMissing(tool)
    url: URL = db.url
    environment = {**os.environ, "PGPASSWORD": url.password or ""} if url.password else None
    dsn = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    result = subprocess.run(
        [program, f"--dbname={dsn}", *arguments],
        capture_output=True,
        text=True,
        env=environment,
        check=False,
        timeout=3600,
    )
    if result.returncode != 0:
        # PostgreSQL puts row values in DETAIL lines ("Key (nik)=(…)"): those are left out.
        lines = [line for line in result.stderr.splitlines() if "DETAIL" not in line]
        raise ToolFailed(f"{tool} (exit {result.returncode}): " + " ".join(lines)[-2000:])
