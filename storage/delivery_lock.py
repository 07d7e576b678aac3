"""One sending delivery worker per channel and database: a platform's rate limit belongs to the bot
token (or WhatsApp number), not to a process, so two workers pacing themselves would send at twice
the limit. Extra workers wait as standbys and take over the moment the holder dies.

PostgreSQL: a session-level advisory lock on a connection the holder keeps open (released by the
server when the process or its connection dies). SQLite: an exclusive `flock` on a file beside
the database (released by the kernel when the process dies).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.db import Database
from storage.private_files import create_private

LOCK_BASE = 0x6D697472_61626F00
"""'mitrabo…' as a bigint; a channel's advisory lock key adds the channel's small number."""
CHANNEL_NUMBERS = {"telegram": 1, "whatsapp": 2, "terminal": 3}


class DeliveryLock:
    """Try-lock on one channel, held as long as this worker sends; `held()` is cheap once held."""

    def __init__(self, db: Database, channel: str) -> None:
        self.db = db
        self.channel = channel
        self.key = LOCK_BASE + CHANNEL_NUMBERS.get(channel, 0xFF)
        self._connection: AsyncConnection | None = None
        self._descriptor: int | None = None

    async def held(self) -> bool:
        """True when this worker may send (acquired now, or still held)."""
        if self.db.is_sqlite:
            return self._flock()
        if self._connection is not None:
            try:
                await self._connection.execute(text("SELECT 1"))
                return True
            except Exception:  # the connection died: the server released the lock
                await self._drop_connection()
        connection = await self.db.engine.connect()
        try:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            got = (
                await connection.execute(
                    text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key}
                )
            ).scalar_one()
        except Exception:
            await connection.close()
            raise
        if not got:
            await connection.close()
            return False
        self._connection = connection
        return True

    def _flock(self) -> bool:
        if self._descriptor is not None:
            return True
        database = self.db.url.database or "mitrabot.db"
        path = Path(f"{database}.{self.channel}.delivery.lock")
        create_private(path)
        descriptor = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            return False
        self._descriptor = descriptor
        return True

    async def _drop_connection(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):
                await self._connection.close()
            self._connection = None

    async def release(self) -> None:
        """Give the lock up (a standby takes over)."""
        if self._connection is not None:
            with contextlib.suppress(Exception):
                await self._connection.execute(
                    text("SELECT pg_advisory_unlock(:key)"), {"key": self.key}
                )
            await self._drop_connection()
        if self._descriptor is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._descriptor, fcntl.LOCK_UN)
                os.close(self._descriptor)
            self._descriptor = None
