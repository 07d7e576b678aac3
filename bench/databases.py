"""Throwaway databases for the benchmarks: a new SQLite file, or a new PostgreSQL database that is
dropped at the end (`MITRABOT_BENCH_POSTGRES_URL`, default the local server as postgres)."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from storage.db import Database

POSTGRES_ADMIN_URL = os.environ.get(
    "MITRABOT_BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)


@contextlib.asynccontextmanager
async def fresh_database(backend: str, folder: Path, prefix: str) -> AsyncIterator[Database]:
    """A migrated, empty database: a new SQLite file, or a new PostgreSQL database."""
    if backend == "sqlite":
        database = Database(f"sqlite+aiosqlite:///{folder / f'{prefix}-{uuid.uuid4().hex[:8]}.db'}")
        await database.upgrade()
        try:
            yield database
        finally:
            await database.dispose()
        return
    name = f"mitrabot_bench_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
        database = Database(POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}")
        await database.upgrade()
        try:
            yield database
        finally:
            await database.dispose()
    finally:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


async def postgres_reachable() -> bool:
    """True when the PostgreSQL server of POSTGRES_ADMIN_URL answers (else says why)."""
    admin = create_async_engine(POSTGRES_ADMIN_URL)
    try:
        async with admin.connect() as connection:
            await connection.execute(text("SELECT 1"))
        return True
    except Exception as error:  # asyncpg raises several unrelated types
        print(f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL} ({error})")
        return False
    finally:
        await admin.dispose()


async def usable_backends(choice: str) -> list[str]:
    """The backends `--backend` names (sqlite, postgresql or both), without an unreachable
    PostgreSQL; empty when nothing is left to run on."""
    backends = ["sqlite", "postgresql"] if choice == "both" else [choice]
    if "postgresql" in backends and not await postgres_reachable():
        backends.remove("postgresql")
        if backends:
            print("going on with SQLite only")
    return backends
