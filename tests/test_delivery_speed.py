"""Sending near the limit (issue 20): grouped confirmations keep their fence, a blocked chat
gives its slot back, a 429 without a scope holds one chat, the progress recount is throttled.

Time is a FrozenClock's: pacing waits move it, and the assertions read it.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime, timedelta
from itertools import pairwise

from sqlalchemy import select

from core.clock import FrozenClock
from core.recruitment import QuietHours
from scheduler.delivery import (
    ChannelLimits,
    DeliveryWorker,
    Dispatch,
    Outcome,
    Outgoing,
    Unreachable,
)
from scheduler.ratelimit import SPREAD, RateLimiter
from storage.db import Database
from storage.files import FileStore
from storage.models import Broadcast, OutboxMessage
from storage.outbox import Outbox
from tests.seeding import queued_message

QUIET = QuietHours(
    start=datetime.strptime("21:00", "%H:%M").time(), end=datetime.strptime("06:00", "%H:%M").time()
)
DAYTIME = datetime(2023, 11, 10, 9, 0)
LEASE = timedelta(seconds=60)


class StubSender:
    """Answers at once; a chat in `blocked` is refused (403); notes when each send started."""

    def __init__(self, clock: FrozenClock, blocked: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        self.clock = clock
        self.blocked = blocked
        self.starts: list[tuple[float, str]] = []

    async def send(self, message: Outgoing) -> str | None:
        self.starts.append((self.clock.monotonic(), message.recipient))
        if message.recipient in self.blocked:
            raise Unreachable("Forbidden: bot was blocked by the user")
        return f"m{len(self.starts)}"

    async def edit(self, recipient: str, message_id: str, text: str) -> None:
        return None


class CountingProgress:
    """A progress reporter that recounts like the real one and keeps every count it saw."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.counts: list[dict[str, int]] = []

    async def update(self, broadcast_ids: set[int]) -> None:
        for broadcast_id in broadcast_ids:
            async with self.db.transaction() as session:
                self.counts.append(await Outbox(session).progress(broadcast_id))


async def enqueue(db: Database, recipients: list[str], clock: FrozenClock, **extra: object) -> None:
    now = clock.now()
    rows = [queued_message(f"t:{r}", "telegram", r, f"Halo {r}", now, **extra) for r in recipients]
    async with db.transaction() as session:
        await Outbox(session).enqueue(rows)


def worker(
    db: Database, sender: StubSender, files: FileStore, rate: float, **options: object
) -> DeliveryWorker:
    return DeliveryWorker(
        db,
        {"telegram": sender},
        {"telegram": ChannelLimits(rate=rate, per_chat=1)},
        sender.clock,
        QUIET,
        files,
        name="w1",
        idle_wait=0.05,
        **options,  # type: ignore[arg-type]
    )


async def run_until_settled(delivery: DeliveryWorker, db: Database) -> None:
    """Run the worker's loop until no row is queued or sending (bounded), then stop it."""
    stop = asyncio.Event()
    running = asyncio.create_task(delivery.run(stop))
    try:
        for _ in range(600):
            async with db.transaction() as session:
                pending = await session.execute(
                    select(OutboxMessage.id).where(OutboxMessage.state.in_(("queued", "sending")))
                )
                if pending.first() is None:
                    return
            await asyncio.sleep(0.05)
        raise AssertionError("the outbox did not settle")
    finally:
        stop.set()
        await asyncio.wait_for(running, 30)


async def test_grouped_confirmation_skips_a_row_whose_claim_was_taken_over(
    any_db: Database, file_store: FileStore
) -> None:
    """Three sends confirmed in one commit: the row another worker took over after the lease
    keeps that worker's claim; the other two are sent."""
    clock = FrozenClock(DAYTIME)
    await enqueue(any_db, ["1", "2", "3"], clock)
    now = clock.now()
    async with any_db.transaction() as session:
        claimed = await Outbox(session).claim("w1", now, 10, LEASE, False)
    async with any_db.transaction() as session:  # w1 stalled; w2 takes row 2 over
        await session.execute(
            OutboxMessage.__table__.update()
            .where(OutboxMessage.id == claimed[1].id)
            .values(claimed_at=now - 2 * LEASE)
        )
    async with any_db.transaction() as session:
        (taken,) = await Outbox(session).claim("w2", now, 10, LEASE, False)
    assert taken.id == claimed[1].id
    dispatch = Dispatch(any_db, {}, clock, file_store, max_attempts=5, retry_base=2.0)
    sent = [(row, Outcome("sent", platform_id=f"p{row.id}")) for row in claimed]
    assert await dispatch.record_each(sent) is False  # one claim was lost
    async with any_db.transaction() as session:
        rows = (await session.execute(select(OutboxMessage).order_by(OutboxMessage.id))).scalars()
        seen = [(row.state, row.claimed_by, row.platform_message_id) for row in rows]
    assert seen == [
        ("sent", "w1", f"p{claimed[0].id}"),
        ("sending", "w2", None),
        ("sent", "w1", f"p{claimed[2].id}"),
    ]


async def test_a_blocked_chat_gives_its_slot_back(db: Database, file_store: FileStore) -> None:
    """20 messages at 10/s, 5 to blocked chats: the 15 deliveries take 14 intervals, as if the
    blocked chats were not in the list (each used to cost an interval too: 19)."""
    clock = FrozenClock(DAYTIME)
    recipients = [str(n) for n in range(1, 21)]
    blocked = {"2", "6", "10", "14", "18"}
    await enqueue(db, recipients, clock, urgent=True)
    sender = StubSender(clock, blocked)
    await run_until_settled(worker(db, sender, file_store, rate=10, concurrency=4), db)
    assert Counter(chat for _, chat in sender.starts) == Counter(recipients)  # once each
    delivered = [at for at, chat in sender.starts if chat not in blocked]
    assert delivered[-1] - delivered[0] <= 14 * 0.1 + 0.02 + 1e-3  # + the window's margin
    gaps = [b - a for a, b in pairwise(delivered)]
    assert min(gaps) >= 0.1 - 1e-3  # the deliveries themselves stay spaced at the rate


def test_a_429_without_a_scope_holds_the_chat_until_it_repeats_across_chats() -> None:
    """Telegram's 429 does not say whose limit it hit: one chat's holds that chat only; the
    same from `SPREAD` chats close together pauses the channel."""
    clock = FrozenClock(DAYTIME)
    limiter = RateLimiter(30, 1, clock)
    limiter.slow_down(1.0, "a")
    assert limiter.held_chats(0.1) == {"a"}
    assert limiter.capacity(0.1) > 0  # the others go on
    assert limiter.delay("b") == 0
    for chat in [str(n) for n in range(1, SPREAD)]:
        limiter.slow_down(1.0, chat)
    assert limiter.capacity(0.1) == 0
    assert limiter.delay("b") == 1.0


async def test_the_progress_recount_is_throttled_and_the_last_one_exact(
    db: Database, file_store: FileStore
) -> None:
    """60 broadcast messages at 30/s (2 s): recounted at most every second while they go out
    (not after every send), and once more after the last, which counts them all."""
    clock = FrozenClock(DAYTIME)
    async with db.transaction() as session:
        broadcast = Broadcast(
            created_at=clock.now(), created_by="cli", text="Halo", audience={}, total=60
        )
        session.add(broadcast)
        await session.flush()
        broadcast_id = broadcast.id
    recipients = [str(n) for n in range(1, 61)]
    await enqueue(db, recipients, clock, urgent=True, broadcast_id=broadcast_id)
    sender = StubSender(clock, blocked={"7"})
    progress = CountingProgress(db)
    delivery = worker(db, sender, file_store, rate=30, concurrency=16, report=progress)
    await run_until_settled(delivery, db)
    assert progress.counts[-1] == {"sent": 59, "unreachable": 1}
    assert len(progress.counts) <= 8  # 2 s of sends: not one per send (60)
