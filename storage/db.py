"""Engine, sessions and schema upgrades for SQLite (default) and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Connection, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from storage.private_files import create_private
from storage.sqlite_driver import OneHopDbapi

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


class Database:
    """One engine and its session factory; a session is one unit of work."""

    def __init__(self, url: str, pool_size: int = 20) -> None:
        self.url = make_url(url)
        self.engine: AsyncEngine = _create_engine(url, pool_size)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._sqlite_writer = asyncio.Lock()

    @property
    def is_sqlite(self) -> bool:
        """True when the backend is SQLite (one writer at a time)."""
        return self.url.get_backend_name() == "sqlite"

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session inside a transaction, committed on success, rolled back on error.

        SQLite has one writer at a time: this process's transactions queue for it in order
        (first come, first served) instead of polling the file lock; other processes still
        wait through SQLite's busy timeout.
        """
        if not self.is_sqlite:
            async with self.sessions() as session, session.begin():
                yield session
            return
        async with self._sqlite_writer, self.sessions() as session, session.begin():
            yield session

    async def ping(self) -> None:
        """One trivial query in a transaction; raises when the database cannot be reached."""
        async with self.transaction() as session:
            await session.execute(text("SELECT 1"))

    async def upgrade(self) -> None:
        """Bring the schema to the newest migration (creates the SQLite file and its folder)."""
        async with self.engine.begin() as connection:
            await connection.run_sync(_upgrade_sync)

    async def new_revision(self, message: str) -> None:
        """Write a migration for what the models have and this database lacks (developers)."""

        def revision(connection: Connection) -> None:
            config = alembic_config()
            config.attributes["connection"] = connection
            command.revision(config, message=message, autogenerate=True)

        async with self.engine.begin() as connection:
            await connection.run_sync(revision)

    async def forget_history(self) -> None:
        """After an erasure: copy SQLite's write-ahead log into the file and empty it, so the
        pages as they were before are gone too (`secure_delete` zeroes what was freed).
        Best effort while other connections read; nothing to do on PostgreSQL (VACUUM)."""
        if not self.is_sqlite:
            return

        def checkpoint(connection: Connection) -> None:
            cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            try:
                cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                cursor.close()

        async with self._sqlite_writer, self.engine.connect() as connection:
            await connection.run_sync(checkpoint)

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()


def shown_url(url: str) -> str:
    """`url` as it may be printed: its password masked; raises when it is not a URL."""
    return make_url(url).render_as_string(hide_password=True)


def sqlite_files(url: str) -> list[Path]:
    """The SQLite database file of `url` with its -wal and -shm; none for another backend (or
    for what is no URL: connecting to it says why)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return []
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return []
    return [Path(f"{parsed.database}{suffix}") for suffix in ("", "-wal", "-shm")]


def _create_engine(url: str, pool_size: int) -> AsyncEngine:
    """The engine; on PostgreSQL at most `pool_size` connections kept open and as many more in
    a burst."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_async_engine(
            url,
            pool_pre_ping=True,
            pool_size=pool_size,
            max_overflow=pool_size,
            hide_parameters=True,
        )
    engine = create_async_engine(
        url, module=OneHopDbapi(), connect_args={"timeout": 30}, hide_parameters=True
    )
    on_disk = sqlite_files(url)

    @event.listens_for(engine.sync_engine, "do_connect")
    def _private_file(*_args: Any) -> None:
        # SQLite would create the file with the umask's mode; its -wal and -shm files take the
        # database file's mode, so a 0600 database keeps all three private.
        if on_disk:
            create_private(on_disk[0])

    @event.listens_for(engine.sync_engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        # The driver's own transaction handling starts transactions late and lets a RELEASE
        # SAVEPOINT commit on its own; SQLAlchemy's recipe: switch it off, BEGIN ourselves.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if on_disk:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        # Erased data is overwritten, not left in free pages of the file.
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin_immediately(connection: Connection) -> None:
        # Take the write lock at once: no read-then-upgrade deadlock between processes.
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def insert_for(session: AsyncSession) -> Callable[[Any], postgresql.Insert | sqlite.Insert]:
    """The INSERT of the session's backend, which can say what a conflict with a unique
    constraint does (`on_conflict_do_nothing`, `on_conflict_do_update`): a rule of "only one"
    is kept by the constraint, not by a look before the insert."""
    return postgresql.insert if session.bind.dialect.name == "postgresql" else sqlite.insert


def alembic_config() -> AlembicConfig:
    """Alembic's configuration, pointing at the packaged migrations."""
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


MIGRATION_LOCK = 0x6D697472  # "mitr"
"""PostgreSQL advisory lock held while migrating: processes started together (several `serve`
and `worker` after a deployment) upgrade one after the other; the later ones find it done."""


def _upgrade_sync(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
