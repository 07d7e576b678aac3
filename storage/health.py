"""What the readiness check and the metrics read of the database: is the intake or the outbox
stuck, how deep is the queue."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import Database, alembic_config
from storage.models import InboundPayload, OutboxMessage


@dataclass(frozen=True)
class Backlog:
    """The oldest inbound payload not handled yet, and the outbox's queue."""

    oldest_inbound: datetime | None
    """When the oldest unhandled inbound payload was received (None: none waits)."""
    queued: int
    """Outbox rows waiting to be sent (due or not)."""
    oldest_due: datetime | None
    """Since when the longest-due queued outbox row could have gone (None: none is due)."""


async def backlog(session: AsyncSession, now: datetime) -> Backlog:
    """The intake's and the outbox's backlog at `now`."""
    oldest_inbound = await session.scalar(
        select(func.min(InboundPayload.received_at)).where(InboundPayload.handled_at.is_(None))
    )
    queued = select(OutboxMessage).where(OutboxMessage.state == "queued").subquery()
    count, oldest_due = (
        await session.execute(
            select(
                func.count(),
                func.min(queued.c.not_before).filter(queued.c.not_before <= now),
            ).select_from(queued)
        )
    ).one()
    return Backlog(oldest_inbound, count, oldest_due)


@functools.cache
def _heads() -> frozenset[str]:
    """The newest migrations this code ships (read from disk once: they never change while it
    runs, and /readyz is probed every few seconds)."""
    return frozenset(ScriptDirectory.from_config(alembic_config()).get_heads())


def _at_head(connection: Connection) -> bool:
    return set(MigrationContext.configure(connection).get_current_heads()) == _heads()


async def migrations_at_head(db: Database) -> bool:
    """True when the schema is at the newest migration."""
    async with db.engine.connect() as connection:
        return await connection.run_sync(_at_head)
