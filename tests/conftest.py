"""Shared fixtures: a frozen clock, databases (SQLite and PostgreSQL), and a scripted chat."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from core.catalog import Catalog
from core.clock import FrozenClock
from core.recruitment import RecruitmentConfig, load_recruitment
from handlers.conversation import Conversation
from handlers.flow import Dependencies
from storage.db import Database
from storage.files import FileStore
from tests.chat import Chat

POSTGRES_ADMIN_URL = os.environ.get(
    "MITRABOT_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
OPEN_DAY = datetime(2023, 11, 10, 9, 0)


@pytest.fixture
def clock() -> FrozenClock:
    """10 November 2023, 09:00 WIB: registration is open."""
    return FrozenClock(OPEN_DAY)


@pytest.fixture(scope="session")
def config() -> RecruitmentConfig:
    return load_recruitment()


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return Catalog.load()


async def _postgres_database() -> tuple[str, str] | None:
    """Create a fresh PostgreSQL database; (its URL, its name), or None when unreachable."""
    name = f"mitrabot_test_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
    except (OSError, Exception) as error:  # asyncpg raises several unrelated types
        await admin.dispose()
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required under CI and cannot be reached: {error}")
        return None
    await admin.dispose()
    return POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}", name


async def _drop_postgres_database(name: str) -> None:
    admin = create_async_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    await admin.dispose()


async def _empty_database(backend: str, tmp_path: Path) -> AsyncIterator[Database]:
    """An empty database on `backend` (PostgreSQL skipped off CI when unreachable)."""
    if backend == "sqlite":
        database = Database(f"sqlite+aiosqlite:///{tmp_path / 'test.db'}")
        yield database
        await database.dispose()
        return
    created = await _postgres_database()
    if created is None:
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL}")
    url, name = created
    database = Database(url)
    yield database
    await database.dispose()
    await _drop_postgres_database(name)


@pytest.fixture(params=["sqlite", "postgresql"])
async def any_db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """A migrated database on each backend (PostgreSQL skipped off CI when unreachable)."""
    async for database in _empty_database(request.param, tmp_path):
        await database.upgrade()
        yield database


@pytest.fixture(params=["sqlite", "postgresql"])
async def any_empty_db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """A database with no migration run yet on each backend (to test migrations with data)."""
    async for database in _empty_database(request.param, tmp_path):
        yield database


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    """A migrated SQLite database in a temporary folder."""
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'test.db'}")
    await database.upgrade()
    yield database
    await database.dispose()


@pytest.fixture
def file_store(tmp_path: Path) -> FileStore:
    return FileStore(tmp_path / "documents")


@pytest.fixture
def deps(
    config: RecruitmentConfig, catalog: Catalog, clock: FrozenClock, file_store: FileStore
) -> Dependencies:
    return Dependencies(
        config=config,
        catalog=catalog,
        clock=clock,
        files=file_store,
        staff_identities=frozenset({"telegram:900"}),
    )


@pytest.fixture
def conversation(db: Database, deps: Dependencies) -> Conversation:
    return Conversation(db, deps)


@pytest.fixture
def chat(conversation: Conversation) -> Chat:
    """An applicant on Telegram with user id 1001."""
    return Chat(conversation, user_id="1001")
