"""The SQLite adapter: one trip to aiosqlite's thread per statement, same results and errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from storage.db import Database


async def test_each_statement_is_one_hop_with_its_rows_and_counts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'hops.db'}")
    hops: list[str] = []
    real = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        hops.append(getattr(fn, "__name__", "?"))
        return await real(self, fn, *args, **kwargs)

    try:
        async with db.engine.begin() as connection:
            await connection.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT UNIQUE)"))
        monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
        async with db.transaction() as session:
            hops.clear()
            inserted = await session.execute(
                text("INSERT INTO t (v) VALUES (:v) RETURNING id"), {"v": "a"}
            )
            assert inserted.scalar_one() == 1
            # BEGIN IMMEDIATE, then the INSERT: execute, fetch and close in one trip each
            assert hops == ["_run", "_run"]
            await session.execute(text("INSERT INTO t (v) VALUES (:v)"), [{"v": "b"}, {"v": "c"}])
            changed = await session.execute(text("UPDATE t SET v = v || '!' WHERE id > 1"))
            assert changed.rowcount == 2
            rows = (await session.execute(text("SELECT v FROM t ORDER BY id"))).scalars().all()
            assert rows == ["a", "b!", "c!"]
        with pytest.raises(IntegrityError):
            async with db.transaction() as session:
                await session.execute(text("INSERT INTO t (v) VALUES ('a')"))
    finally:
        await db.dispose()
