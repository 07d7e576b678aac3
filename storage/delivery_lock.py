"""One sending delivery worker per channel and database: a platform's rate limit belongs to the bot
token (or WhatsApp number), not to a process, so two workers pacing themselves would send at twice
the limit. Extra workers wait as standbys and take over the moment the holder dies.

With `shards` > 1 (limits lifted, one process too slow for them) a channel has that many locks:
each sending worker holds one shard, sends only its shard's chats and paces at the channel's rate
divided by the shards, so the shards together still keep the limit and one chat stays in one
process (its order and its own rate).

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
"""'mitrabo…' as a bigint; a channel's advisory lock key adds the channel's small number, and a
shard's adds its index times 0x100 (shard 0 is the lock of an unsharded worker)."""
CHANNEL_NUMBERS = {"telegram": 1, "whatsapp": 2, "terminal": 3}


class DeliveryLock:
    """Try-lock on one shard of one channel, held as long as this worker sends; `held()` is cheap
    once held; `shard` is the index of the shard held."""

    def __init__(self, db: Database, channel: str, shards: int = 1) -> None:
        self.db = db
        self.channel = channel
        self.shards = shards
        self.key = LOCK_BASE + CHANNEL_NUMBERS.get(channel, 0xFF)
        self.shard = 0
        self._connection: AsyncConnection | None = None
        self._descriptor: int | None = None

    async def held(self) -> bool:
        """True when this worker may send (a shard acquired now, or still held)."""
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
            for shard in range(self.shards):
                got = (
                    await connection.execute(
                        text("SELECT pg_try_advisory_lock(:key)"), {"key": self._key(shard)}
                    )
                ).scalar_one()
                if got:
                    self.shard = shard
                    self._connection = connection
                    return True
        except Exception:
            await connection.close()
            raise
        await connection.close()
        return False

    def _key(self, shard: int) -> int:
        return self.key + (shard << 8)

    def _flock(self) -> bool:
        if self._descriptor is not None:
            return True
        database = self.db.url.database or "mitrabot.db"
        for shard in range(self.shards):
            suffix = f".{shard}" if shard else ""
            path = Path(f"{database}.{self.channel}{suffix}.delivery.lock")
            create_private(path)
            descriptor = os.open(path, os.O_RDWR | os.O_CLOEXEC)
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(descriptor)
                continue
            self.shard = shard
            self._descriptor = descriptor
            return True
        return False

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
                    text("SELECT pg_advisory_unlock(:key)"), {"key": self._key(self.shard)}
                )
            await self._drop_connection()
        if self._descriptor is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._descriptor, fcntl.LOCK_UN)
                os.close(self._descriptor)
            self._descriptor = None
