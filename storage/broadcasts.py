"""Broadcasts, scheduled broadcasts and the audiences they reach: the queries behind them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Select, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    Applicant,
    Broadcast,
    ChatIdentity,
    ScheduledBroadcast,
    StageResult,
    chat_address,
)

RESULT_KINDS = ("passed", "not_passed")
"""Audience kinds that are the applicants with this outcome at one stage."""


class Recipient(NamedTuple):
    """One chat of one applicant in an audience."""

    applicant_id: int
    channel: str
    chat: str
    name: str | None
    registration_number: str | None


def audience_query(kind: str, value: str | None) -> Select[Any]:
    """Recipient rows of everyone in the audience `kind` (`value`), by applicant id.

    Only applicants who gave consent are in any audience: whoever pressed "Tidak setuju" (or
    never answered) gets no broadcast.
    """
    query = (
        select(
            Applicant.id,
            ChatIdentity.channel,
            chat_address(),
            Applicant.full_name,
            Applicant.registration_number,
        )
        .join(ChatIdentity, ChatIdentity.applicant_id == Applicant.id)
        .where(Applicant.consent_at.is_not(None))
    )
    if kind == "incomplete":
        query = query.where(Applicant.registration_number.is_(None))
    elif kind == "complete":
        query = query.where(Applicant.registration_number.is_not(None))
    elif kind == "kecamatan":
        query = query.where(Applicant.kecamatan == value)
    elif kind == "channel":
        query = query.where(ChatIdentity.channel == value)
    elif kind in RESULT_KINDS:
        query = query.join(StageResult, StageResult.applicant_id == Applicant.id).where(
            StageResult.stage == value, StageResult.outcome == kind
        )
    return query.order_by(Applicant.id)


class Audiences:
    """Who an audience (all, incomplete, complete, kecamatan, channel, passed, not_passed) is."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def members(self, kind: str, value: str | None) -> list[Recipient]:
        """Every chat in the audience, by applicant id."""
        rows = (await self.session.execute(audience_query(kind, value))).all()
        return [Recipient(*row) for row in rows]

    async def first(self, kind: str, value: str | None) -> Recipient | None:
        """The first chat in the audience, or None when it is empty."""
        row = (await self.session.execute(audience_query(kind, value).limit(1))).first()
        return Recipient(*row) if row else None

    async def count(self, kind: str, value: str | None) -> int:
        """How many chats the audience has."""
        subquery = audience_query(kind, value).subquery()
        query = select(func.count()).select_from(subquery)
        return (await self.session.execute(query)).scalar_one()


class Broadcasts:
    """Broadcasts staff sent (their messages are rows of the outbox)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, broadcast: Broadcast) -> Broadcast:
        """Store a new broadcast (its id is set on return)."""
        self.session.add(broadcast)
        await self.session.flush()
        return broadcast

    async def get(self, broadcast_id: int) -> Broadcast | None:
        """The broadcast with this id, if any."""
        return await self.session.get(Broadcast, broadcast_id)

    async def show_progress_in(
        self, broadcast_id: int, channel: str, chat: str, message_id: str
    ) -> None:
        """The message staff see a broadcast's live progress in (edited as it goes)."""
        broadcast = await self.get(broadcast_id)
        if broadcast is not None:
            broadcast.progress_channel, broadcast.progress_chat = channel, chat
            broadcast.progress_message_id = message_id

    async def newest(self, limit: int) -> list[Broadcast]:
        """The `limit` most recent broadcasts, newest first."""
        query = select(Broadcast).order_by(Broadcast.id.desc()).limit(limit)
        return list((await self.session.execute(query)).scalars())


class ScheduledBroadcasts:
    """Broadcasts kept for a later moment."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, scheduled: ScheduledBroadcast) -> ScheduledBroadcast:
        """Store a new scheduled broadcast (its id is set on return)."""
        self.session.add(scheduled)
        await self.session.flush()
        return scheduled

    async def waiting(self) -> list[ScheduledBroadcast]:
        """Every scheduled broadcast not yet sent or cancelled, soonest first."""
        query = (
            select(ScheduledBroadcast)
            .where(ScheduledBroadcast.state == "waiting")
            .order_by(ScheduledBroadcast.send_at)
        )
        return list((await self.session.execute(query)).scalars())

    async def due_ids(self, now: datetime) -> list[int]:
        """The ids of waiting scheduled broadcasts whose moment has come."""
        query = select(ScheduledBroadcast.id).where(
            ScheduledBroadcast.state == "waiting", ScheduledBroadcast.send_at <= now
        )
        return list((await self.session.execute(query)).scalars())

    async def take(self, scheduled_id: int) -> ScheduledBroadcast | None:
        """Mark one waiting scheduled broadcast sent and return it; None when another process
        took it first (one UPDATE … WHERE state = 'waiting')."""
        taken = await self.session.execute(
            update(ScheduledBroadcast)
            .where(ScheduledBroadcast.id == scheduled_id, ScheduledBroadcast.state == "waiting")
            .values(state="sent")
            .returning(ScheduledBroadcast)
        )
        return taken.scalar_one_or_none()

    async def cancel(self, scheduled_id: int) -> bool:
        """Mark one waiting scheduled broadcast cancelled; False when it is not waiting (one
        UPDATE … WHERE state = 'waiting', so it is never both sent and cancelled)."""
        result = await self.session.execute(
            update(ScheduledBroadcast)
            .where(ScheduledBroadcast.id == scheduled_id, ScheduledBroadcast.state == "waiting")
            .values(state="cancelled")
        )
        return bool(result.rowcount)
