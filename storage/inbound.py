"""Inbound payloads (webhook bodies, polled Telegram updates): kept from their acknowledgement
until they are handled, then as the record that they were (body emptied)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import insert_for
from storage.models import InboundPayload

_PAYLOADS = InboundPayload.__table__
_SETTLE = (
    update(_PAYLOADS)
    .where(_PAYLOADS.c.id == bindparam("payload_id"), _PAYLOADS.c.handled_at.is_(None))
    .values(body="", handled_at=bindparam("now"))
)
"""Marks one payload handled: a Core statement built once (the turn never loads its payload,
so there is no loaded row for the ORM to bring up to date)."""


class InboundPayloads:
    """The durable intake of one process's webhooks, over one session."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def store(
        self, channel: str, body: str, now: datetime, platform_id: str | None = None
    ) -> int | None:
        """Keep a raw body as received; its id, or None when a payload with the same
        `platform_id` is stored already (received twice: the first copy is the one handled)."""
        statement = (
            insert_for(self.session)(InboundPayload)
            .values(
                channel=channel, platform_id=platform_id, body=body, received_at=now, attempts=0
            )
            .on_conflict_do_nothing(index_elements=["channel", "platform_id"])
            .returning(InboundPayload.id)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def store_all(
        self, channel: str, bodies: list[tuple[str, str | None]], now: datetime
    ) -> list[int | None]:
        """`store` for several (body, platform_id) at once, in their order, in one INSERT: an id
        for each body kept, None for one whose `platform_id` is stored already (also by an
        earlier body of the same list). A list mixing bodies with and without a platform id
        is stored one INSERT each."""
        if not bodies:
            return []
        keys = [key for _, key in bodies]
        if None in keys and any(key is not None for key in keys):
            return [await self.store(channel, body, now, key) for body, key in bodies]
        rows = [
            {
                "channel": channel,
                "platform_id": key,
                "body": body,
                "received_at": now,
                "attempts": 0,
            }
            for body, key in bodies
        ]
        if keys[0] is None:  # nothing can conflict: every row comes back, in order
            statement = insert(_PAYLOADS).returning(_PAYLOADS.c.id, sort_by_parameter_order=True)
            return list((await self.session.scalars(statement, rows)).all())
        statement = (
            insert_for(self.session)(_PAYLOADS)
            .on_conflict_do_nothing(index_elements=["channel", "platform_id"])
            .returning(_PAYLOADS.c.id, _PAYLOADS.c.platform_id)
        )
        kept = {key: stored for stored, key in (await self.session.execute(statement, rows)).all()}
        return [kept.pop(key, None) for key in keys]  # a second copy in the list gets None

    async def body(self, payload_id: int) -> str | None:
        """The stored body, or None when it is handled or gone (given up)."""
        query = select(InboundPayload.body).where(
            InboundPayload.id == payload_id, InboundPayload.handled_at.is_(None)
        )
        return (await self.session.execute(query)).scalar_one_or_none()

    async def count_failure(self, payload_id: int, give_up_after: int) -> bool:
        """One more failed attempt; after `give_up_after` of them the payload is dropped.
        True when it was dropped now."""
        row = await self.session.get(InboundPayload, payload_id)
        if row is None:
            return False
        row.attempts += 1
        if row.attempts < give_up_after:
            return False
        await self.session.delete(row)
        return True

    async def settle(self, payload_id: int, now: datetime) -> bool:
        """Mark the payload handled (its body emptied), inside the caller's transaction: the
        turn that handles it, or the decision to ignore it. False when it was handled already
        (or is gone): whoever did that answered it, and nothing more is to be done."""
        result = await self.session.execute(_SETTLE, {"payload_id": payload_id, "now": now})
        return result.rowcount == 1

    async def received_before(
        self, channel: str, cutoff: datetime, limit: int
    ) -> list[tuple[int, str]]:
        """(id, body) of up to `limit` payloads of `channel` stored at or before `cutoff`,
        oldest first."""
        query = (
            select(InboundPayload.id, InboundPayload.body)
            .where(
                InboundPayload.channel == channel,
                InboundPayload.received_at <= cutoff,
                InboundPayload.handled_at.is_(None),
            )
            .order_by(InboundPayload.id)
            .limit(limit)
        )
        return [(stored, body) for stored, body in (await self.session.execute(query)).all()]
