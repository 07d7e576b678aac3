"""What the readiness check, the metrics and `mitrabot doctor` read of the database: is the
schema current, is the intake or the outbox stuck, how deep is the queue, what time the server
has."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
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


SchemaState = Literal["current", "empty", "behind", "unknown"]
"""Where a database's schema stands against the migrations this code ships: at the newest,
never migrated, at an older revision, or at a revision this code does not know (newer code
migrated it)."""


@functools.cache
def _scripts() -> ScriptDirectory:
    """The migrations this code ships (read from disk once: they never change while it runs,
    and /readyz is probed every few seconds)."""
    return ScriptDirectory.from_config(alembic_config())


@functools.cache
def shipped_heads() -> frozenset[str]:
    """The newest migrations this code ships."""
    return frozenset(_scripts().get_heads())


def _known(revision: str) -> bool:
    try:
        return _scripts().get_revision(revision) is not None
    except CommandError:
        return False


def _state(connection: Connection) -> tuple[SchemaState, frozenset[str]]:
    current = frozenset(MigrationContext.configure(connection).get_current_heads())
    if current == shipped_heads():
        return "current", current
    if not current:
        return "empty", current
    return ("behind" if all(map(_known, current)) else "unknown"), current


async def schema_state(db: Database) -> tuple[SchemaState, frozenset[str]]:
    """Where the schema stands, and its current revisions; raises when unreachable."""
    async with db.engine.connect() as connection:
        return await connection.run_sync(_state)


async def migrations_at_head(db: Database) -> bool:
    """True when the schema is at the newest migration."""
    state, _ = await schema_state(db)
    return state == "current"


async def server_now(db: Database) -> datetime | None:
    """The database server's own clock (PostgreSQL); None on SQLite, which is this machine."""
    if db.is_sqlite:
        return None
    async with db.engine.connect() as connection:
        return await connection.scalar(select(func.clock_timestamp()))
