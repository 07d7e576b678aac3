"""The delivery queue (outbox): enqueue once, claim safely across workers, record every outcome."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Integer, and_, case, cast, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from storage.db import insert_for
from storage.models import Broadcast, OutboxMessage
from storage.results import CHUNK

STATUS_RANK = {"sent": 1, "delivered": 2, "read": 3, "failed": 4}
"""Delivery reports arrive out of order; a report only ever moves a message forward."""
FORGET = "forget"
"""A row's `track` when nothing of it may stay once it went out (or failed for good): the
answer to someone who just deleted their data."""
PREFIX = 4
"""A claim ranks at most `PREFIX` × its limit of the oldest due rows to cap each chat's share."""


_INSERT_RETURNING_ID = insert(OutboxMessage.__table__).returning(OutboxMessage.__table__.c.id)
"""One INSERT … RETURNING for all of a turn's rows ("insertmanyvalues"), built once and compiled
once: every row names the same columns, so the statement is the same for every turn (the ids
rise in row order)."""

REPORT_KEY = "broadcast:{}:report"
"""The outbox key of a broadcast's final report to its author."""


def report_key(broadcast_id: int) -> str:
    """The outbox key of broadcast `broadcast_id`'s report."""
    return REPORT_KEY.format(broadcast_id)


def reported_broadcast(key: str) -> int:
    """The broadcast a `report_key` names."""
    return int(key.split(":")[1])


def _held(
    ids: Sequence[int], holder: str, token: int, state: str = "sending"
) -> tuple[ColumnElement[bool], ...]:
    """The fencing check: these rows, in `state`, under the claim of `holder` and `token`."""
    return (
        OutboxMessage.id.in_(list(ids)),
        OutboxMessage.state == state,
        OutboxMessage.claimed_by == holder,
        OutboxMessage.claim_token == token,
    )


@dataclass(frozen=True)
class Claim:
    """One claim of one outbox row (the fencing token): only its holder may record the outcome.

    A claim that outlived its lease may have been taken over by another claim of the same row;
    from then on every outcome the old holder tries to record is refused.
    """

    message_id: int
    holder: str
    token: int

    @classmethod
    def of(cls, row: OutboxMessage) -> Claim:
        """The claim a row returned by `Outbox.claim` carries."""
        return cls(row.id, row.claimed_by or "", row.claim_token)


class Outbox:
    """Queue operations over one session."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @property
    def _dialect(self) -> str:
        return self.session.bind.dialect.name

    async def enqueue(self, rows: Sequence[dict[str, Any]]) -> None:
        """Insert messages; a row whose `dedup_key` exists already is skipped (never sent twice)."""
        if not rows:
            return
        statement = insert_for(self.session)(OutboxMessage).on_conflict_do_nothing(
            index_elements=["dedup_key"]
        )
        for start in range(0, len(rows), 1000):
            await self.session.execute(statement, list(rows[start : start + 1000]))

    async def enqueue_claimed(
        self, rows: Sequence[dict[str, Any]], holder: str, now: datetime
    ) -> list[OutboxMessage]:
        """Insert messages already claimed by `holder`, in order (a turn's replies, written in
        the turn's transaction and sent at once by the process that wrote them), in one
        statement. No worker takes them while the claim's lease runs; if `holder` dies, they
        are due after it."""
        if not rows:
            return []
        claimed = {
            "state": "sending",
            "attempts": 1,
            "claim_token": 1,
            "claimed_by": holder,
            "claimed_at": now,
            "not_before": now,
            "created_at": now,
        }
        optional = dict.fromkeys(("track", "file_path", "file_name", "file_mime_type"))
        values = [
            {**optional, "buttons": None, **row, **claimed, "template_only": False} for row in rows
        ]
        ids = sorted((await self.session.execute(_INSERT_RETURNING_ID, values)).scalars())
        return [OutboxMessage(id=id_, **row) for id_, row in zip(ids, values, strict=True)]

    async def known_keys(self, keys: Sequence[str]) -> set[str]:
        """Which of these dedup keys a message was queued under already."""
        known: set[str] = set()
        for start in range(0, len(keys), CHUNK):
            chunk = keys[start : start + CHUNK]
            query = select(OutboxMessage.dedup_key).where(OutboxMessage.dedup_key.in_(chunk))
            known.update((await self.session.execute(query)).scalars())
        return known

    async def record_status(self, platform_message_id: str, status: str, error: str | None) -> None:
        """A platform's delivery report, kept in order: a late "sent" never undoes "read"."""
        rank = STATUS_RANK.get(status)
        if rank is None:
            return
        current = case(
            *(
                (OutboxMessage.platform_status == name, value)
                for name, value in STATUS_RANK.items()
            ),
            else_=0,
        )
        values: dict[str, Any] = {"platform_status": status}
        if error:
            values["last_error"] = error[:300]
        await self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.platform_message_id == platform_message_id, current < rank)
            .values(**values)
        )

    async def requeue_as_template(self, platform_message_id: str, now: datetime) -> bool:
        """The platform refused a free-form message (24-hour window): send it again as the
        approved template. Only once: a template that fails is not requeued again."""
        result = await self.session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.platform_message_id == platform_message_id,
                OutboxMessage.template_only.is_(False),
            )
            .values(state="queued", template_only=True, not_before=now, attempts=0)
        )
        return bool(result.rowcount)

    async def unreachable(self, platform_message_id: str, error: str) -> None:
        """The platform reported, after accepting it, that the message cannot be delivered."""
        await self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.platform_message_id == platform_message_id)
            .values(state="unreachable", last_error=error[:300])
        )

    async def claim(
        self,
        worker: str,
        now: datetime,
        limit: int,
        lease: timedelta,
        quiet: bool,
        channels: Sequence[str] | None = None,
        recipient: str | None = None,
        *,
        skip_recipients: Collection[str] = (),
        per_recipient: int | None = None,
        shard: tuple[int, int] | None = None,
    ) -> list[OutboxMessage]:
        """Take up to `limit` due messages for this worker (marked `sending`, with a new token).

        Due: queued and not before now, or `sending` for longer than `lease` (a dead worker's).
        During quiet hours only urgent messages are due; with `channels`, only theirs; with
        `recipient`, only the messages to that chat (a terminal session's own). Chats in
        `skip_recipients` (held back by the pacing) are left alone, and with `per_recipient`
        at most that many of one chat's messages are taken, the oldest first. With `shard`
        (index, count), only the chats of that shard (`shard_of`). On PostgreSQL,
        rows another worker is claiming at the same moment are skipped (FOR UPDATE SKIP
        LOCKED). Each claimed row gets a new `claim_token`: `Claim.of(row)` is what settles it.
        """
        due = or_(
            and_(OutboxMessage.state == "queued", OutboxMessage.not_before <= now),
            and_(OutboxMessage.state == "sending", OutboxMessage.claimed_at < now - lease),
        )
        if quiet:
            due = and_(due, OutboxMessage.urgent.is_(True))
        if channels is not None:
            due = and_(due, OutboxMessage.channel.in_(channels))
        if recipient is not None:
            due = and_(due, OutboxMessage.recipient == recipient)
        if skip_recipients:
            due = and_(due, OutboxMessage.recipient.not_in(list(skip_recipients)))
        if shard is not None and shard[1] > 1:
            due = and_(due, self.shard_of(shard[1]) == shard[0])
        candidates = select(OutboxMessage.id).where(due).order_by(OutboxMessage.id).limit(limit)
        if per_recipient is not None:
            oldest = (
                select(OutboxMessage.id, OutboxMessage.channel, OutboxMessage.recipient)
                .where(due)
                .order_by(OutboxMessage.id)
                .limit(limit * PREFIX)
                .subquery()
            )
            ranked = select(
                oldest.c.id,
                func.row_number()
                .over(partition_by=(oldest.c.channel, oldest.c.recipient), order_by=oldest.c.id)
                .label("rank"),
            ).subquery()
            capped = select(ranked.c.id).where(ranked.c.rank <= per_recipient)
            candidates = (
                select(OutboxMessage.id)
                .where(OutboxMessage.id.in_(capped), due)
                .order_by(OutboxMessage.id)
                .limit(limit)
            )
        claim = update(OutboxMessage).values(
            state="sending",
            claimed_at=now,
            claimed_by=worker,
            attempts=OutboxMessage.attempts + 1,
            claim_token=OutboxMessage.claim_token + 1,
        )
        if self._dialect == "postgresql":
            # Lock the rows first (skipping those another worker holds), then update exactly
            # those: PostgreSQL may re-run a LIMIT subquery inside UPDATE … IN (…) per row.
            locked = await self.session.execute(candidates.with_for_update(skip_locked=True))
            claim = claim.where(OutboxMessage.id.in_(list(locked.scalars())))
        else:
            # One statement, its condition checked again under SQLite's single write lock, so
            # two processes never claim the same row.
            claim = claim.where(OutboxMessage.id.in_(candidates.scalar_subquery()), due)
        # The claimed rows come back from the UPDATE itself (one round trip), in id order.
        claimed = await self.session.execute(
            claim.returning(OutboxMessage),
            execution_options={"populate_existing": True, "synchronize_session": False},
        )
        return sorted(claimed.scalars(), key=lambda row: row.id)

    def shard_of(self, count: int) -> ColumnElement[int]:
        """Which of `count` shards a row's chat belongs to, the same for all its rows: a hash of
        the recipient on PostgreSQL; on SQLite its number (chat ids and phone numbers are)."""
        if self._dialect == "postgresql":
            key = func.hashtext(OutboxMessage.recipient)
        else:
            key = cast(OutboxMessage.recipient, Integer)
        return func.abs(key % count)

    async def mark_all_sent(
        self, holder: str, token: int, sent: dict[int, str | None], now: datetime
    ) -> int:
        """`mark_sent` for several rows of one holder and token in one statement (`sent`: row
        id → the platform's message id); how many were still held (the others are not
        touched)."""
        if not sent:
            return 0
        result = await self.session.execute(
            update(OutboxMessage)
            .where(*_held(list(sent), holder, token))
            .values(
                state="sent",
                sent_at=now,
                last_error=None,
                platform_message_id=case(sent, value=OutboxMessage.id),
            )
        )
        return result.rowcount or 0

    async def sent_under(self, ids: Sequence[int], holder: str, token: int) -> set[int]:
        """Which of these rows are sent under this claim (holder and token)."""
        query = select(OutboxMessage.id).where(*_held(ids, holder, token, state="sent"))
        return set((await self.session.execute(query)).scalars())

    async def mark_sent(self, claim: Claim, platform_id: str | None, now: datetime) -> bool:
        """The platform confirmed the message; False when `claim` no longer holds the row."""
        sent = {claim.message_id: platform_id}
        return await self.mark_all_sent(claim.holder, claim.token, sent, now) == 1

    async def retry_later(
        self, claim: Claim, not_before: datetime, error: str | None, count_attempt: bool = True
    ) -> bool:
        """Queue again after `not_before` (a rate limit, or a send never tried, does not count
        as an attempt; `error` None keeps the last one); False when `claim` lost the row."""
        values: dict[str, Any] = {
            "state": "queued",
            "not_before": not_before,
            "claimed_at": None,
            "claimed_by": None,
        }
        if error is not None:
            values["last_error"] = error[:300]
        if not count_attempt:
            values["attempts"] = OutboxMessage.attempts - 1
        return await self._settle(claim, **values)

    async def forget(self, claim: Claim) -> bool:
        """Delete a row whose sending is over (a message to someone whose data was deleted:
        even its recipient must not stay); False when `claim` no longer holds it."""
        result = await self.session.execute(
            delete(OutboxMessage).where(*_held([claim.message_id], claim.holder, claim.token))
        )
        return bool(result.rowcount)

    async def give_up(self, claim: Claim, state: str, error: str) -> bool:
        """Final: `failed` (kept failing) or `unreachable` (blocked, no such user); False when
        `claim` no longer holds the row."""
        return await self._settle(claim, state=state, last_error=error[:300])

    async def _settle(self, claim: Claim, **values: Any) -> bool:
        """Record an outcome only if `claim` still holds the row (the fencing check)."""
        result = await self.session.execute(
            update(OutboxMessage)
            .where(*_held([claim.message_id], claim.holder, claim.token))
            .values(**values)
        )
        return bool(result.rowcount)

    async def cancel_broadcast(self, broadcast_id: int, now: datetime) -> int:
        """Cancel what of a broadcast is not yet sent; returns how many messages were stopped."""
        result = await self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.broadcast_id == broadcast_id, OutboxMessage.state == "queued")
            .values(state="cancelled")
        )
        await self.session.execute(
            update(Broadcast)
            .where(Broadcast.id == broadcast_id, Broadcast.state == "queued")
            .values(state="cancelled", finished_at=now)
        )
        return result.rowcount or 0

    async def progress(self, broadcast_id: int) -> dict[str, int]:
        """How many of a broadcast's messages are in each state."""
        query = (
            select(OutboxMessage.state, func.count())
            .where(OutboxMessage.broadcast_id == broadcast_id)
            .group_by(OutboxMessage.state)
        )
        return {state: count for state, count in (await self.session.execute(query)).all()}

    async def failures(self, broadcast_id: int) -> list[OutboxMessage]:
        """The messages of a broadcast that ended failed or unreachable."""
        query = (
            select(OutboxMessage)
            .where(
                OutboxMessage.broadcast_id == broadcast_id,
                OutboxMessage.state.in_(("failed", "unreachable")),
            )
            .order_by(OutboxMessage.id)
        )
        return list((await self.session.execute(query)).scalars())

    async def failure_reports(self) -> list[OutboxMessage]:
        """The broadcast reports to staff that carry a failures CSV (`broadcast:N:report`)."""
        query = (
            select(OutboxMessage)
            .where(
                OutboxMessage.dedup_key.like(REPORT_KEY.format("%")),
                OutboxMessage.file_path.is_not(None),
            )
            .order_by(OutboxMessage.id)
        )
        return list((await self.session.execute(query)).scalars())
