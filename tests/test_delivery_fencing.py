"""Exactly once within what the platforms allow: fenced claims, pacing before the claim, long 429s.

The worker runs on a FrozenClock: its pacing, pauses and lease are judged on that clock (a wait
moves it), so a 65-second retry_after or six seconds per WhatsApp chat take no real time. The
worker's own loop (`run`) is used where the old duplicates came from: a row whose lease ran out
while it waited for its turn was claimed again by the next round.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from itertools import pairwise

import pytest
from sqlalchemy import select
from telegram import Bot

from bot.telegram import TelegramSender
from bot.whatsapp import WhatsAppSender, whatsapp_client
from core.catalog import Catalog
from core.clock import FrozenClock
from core.recruitment import RecruitmentConfig
from scheduler.delivery import ChannelLimits, DeliveryWorker, Outgoing
from storage.db import Database
from storage.files import FileStore
from storage.models import OutboxMessage
from storage.outbox import Claim, Outbox
from tests.fakes.graph_api import FakeGraphApi
from tests.fakes.telegram_api import FakeBotApi
from tests.seeding import queued_message
from tests.test_delivery import (
    DAYTIME,
    QUIET,
    RecordingSender,
    enqueue,
    received,
    sent_count,
    states,
    wait_until,
)

LEASE = timedelta(seconds=60)
WA_ID = "6281234567890"


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi() as server:
        yield server


@pytest.fixture
async def sender(fake: FakeBotApi) -> AsyncIterator[TelegramSender]:
    bot = Bot(fake.token, base_url=fake.base_url, base_file_url=fake.base_file_url)
    async with bot:
        yield TelegramSender(bot)


async def run_until_sent(delivery: DeliveryWorker, db: Database, expected: int) -> None:
    """Run the worker's own loop until `expected` rows are sent, then stop it."""
    stop = asyncio.Event()
    running = asyncio.create_task(delivery.run(stop))
    try:
        await wait_until(sent_count(db, expected), f"{expected} messages are sent")
    finally:
        stop.set()
        await asyncio.wait_for(running, 30)


async def test_a_stale_holder_cannot_record_an_outcome(any_db: Database) -> None:
    """w1's lease ran out and w2 claimed the row: w1's sent, retry and give-up are refused."""
    clock = FrozenClock(DAYTIME)
    now = clock.now()
    row = queued_message("fence:1", "telegram", "1", "Halo", now)
    async with any_db.transaction() as session:
        await Outbox(session).enqueue([row])
    async with any_db.transaction() as session:
        (first,) = await Outbox(session).claim("w1", now, 10, LEASE, False)
        stale = Claim.of(first)
    later = now + LEASE + timedelta(seconds=1)
    async with any_db.transaction() as session:
        (second,) = await Outbox(session).claim("w2", later, 10, LEASE, False)
        fresh = Claim.of(second)
    assert fresh.holder == "w2" and fresh.token > stale.token
    async with any_db.transaction() as session:
        outbox = Outbox(session)
        assert not await outbox.mark_sent(stale, "stale-id", later)
        assert not await outbox.retry_later(stale, later, "stale")
        assert not await outbox.give_up(stale, "failed", "stale")
    async with any_db.transaction() as session:
        current = (await session.execute(select(OutboxMessage))).scalar_one()
        assert (current.state, current.claimed_by, current.platform_message_id) == (
            "sending",
            "w2",
            None,
        )
    async with any_db.transaction() as session:
        assert await Outbox(session).mark_sent(fresh, "fresh-id", later)
        assert not await Outbox(session).mark_sent(fresh, "again", later)  # recorded once
    async with any_db.transaction() as session:
        current = (await session.execute(select(OutboxMessage))).scalar_one()
        assert (current.state, current.platform_message_id) == ("sent", "fresh-id")


class LosingSender(RecordingSender):
    """While the first send is out, the lease runs out and another worker claims the row."""

    def __init__(self, inner: TelegramSender, clock: FrozenClock, db: Database) -> None:
        super().__init__(inner, clock)
        self.db = db

    async def send(self, message: Outgoing) -> str | None:
        sent = await super().send(message)
        if len(self.starts) == 1:
            self.clock.advance(LEASE + timedelta(seconds=1))
            async with self.db.transaction() as session:
                await Outbox(session).claim("w2", self.clock.now(), 10, LEASE, False)
        return sent


async def test_a_worker_that_lost_its_row_notices_and_records_nothing(
    fake: FakeBotApi,
    sender: TelegramSender,
    db: Database,
    file_store: FileStore,
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FrozenClock(DAYTIME)
    await enqueue(db, fake, range(1, 2), clock)
    losing = LosingSender(sender, clock, db)
    delivery = DeliveryWorker(
        db, {"telegram": losing}, {"telegram": ChannelLimits(30)}, clock, QUIET, file_store,
        name="w1", lease=LEASE,
    )  # fmt: skip
    with caplog.at_level(logging.WARNING, logger="scheduler.delivery"):
        assert await delivery.drain_once() == 1
    async with db.transaction() as session:
        row = (await session.execute(select(OutboxMessage))).scalar_one()
    assert (row.state, row.claimed_by, row.platform_message_id) == ("sending", "w2", None)
    assert any("lost its claim" in record.getMessage() for record in caplog.records)


@pytest.fixture
async def graph() -> AsyncIterator[FakeGraphApi]:
    async with FakeGraphApi() as server:
        yield server


async def test_fourteen_messages_to_one_whatsapp_user_go_once_each_and_in_order(
    graph: FakeGraphApi,
    db: Database,
    file_store: FileStore,
    config: RecruitmentConfig,
    catalog: Catalog,
) -> None:
    """One per 6 s per chat and a 60 s lease: the 11th message used to wait past its lease
    (claimed with the others) and be claimed and sent again."""
    clock = FrozenClock(DAYTIME)
    now = clock.now()
    async with db.transaction() as session:
        await Outbox(session).enqueue(
            [
                queued_message(f"wa:{n}", "whatsapp", WA_ID, f"Pesan {n}", now, template_only=True)
                for n in range(1, 15)
            ]
        )
    client = whatsapp_client(graph.phone_id, graph.token, graph.root_url, graph.api_version)
    whatsapp = WhatsAppSender(client, db, catalog, config.whatsapp_template, clock.now)
    recording = RecordingSender(whatsapp, clock)  # type: ignore[arg-type]
    delivery = DeliveryWorker(
        db,
        {"whatsapp": recording},
        {"whatsapp": ChannelLimits(rate=80, per_chat=1 / 6)},
        clock,
        QUIET,
        file_store,
        name="w1",
        lease=LEASE,
        concurrency=16,
        idle_wait=10.0,  # on the FrozenClock a pacing wait is instant; this bounds real waits
    )
    await run_until_sent(delivery, db, 14)
    sent = graph.messages_to(WA_ID)
    texts = [m.template.parameters[0] for m in sent if m.template is not None]
    assert texts == [f"Pesan {n}" for n in range(1, 15)]  # 14, once each, in order
    starts = [started for started, _ in recording.starts]
    assert all(later - earlier >= 6.0 - 1e-6 for earlier, later in pairwise(starts))
    assert await states(db) == Counter({"sent": 14})


async def test_a_429_with_a_65_second_retry_after_sends_nothing_twice(
    fake: FakeBotApi,
    sender: TelegramSender,
    db: Database,
    file_store: FileStore,
) -> None:
    """Telegram says "retry after 65" (longer than the 60 s lease) to the first send: the rows
    already claimed used to wait it out in the worker, lose their lease and go twice. The
    answer does not say whose limit it is: that chat waits 65 s, the others keep flowing."""
    clock = FrozenClock(DAYTIME)
    fake.response_delay = 0.1  # sends are still out when the worker's next round comes
    await enqueue(db, fake, range(1, 21), clock)
    fake.inject_error(
        "sendMessage", 429, "Too Many Requests: retry after 65", retry_after=65, times=1
    )
    recording = RecordingSender(sender, clock)
    delivery = DeliveryWorker(
        db,
        {"telegram": recording},
        {"telegram": ChannelLimits(rate=30, per_chat=1)},
        clock,
        QUIET,
        file_store,
        name="w1",
        lease=LEASE,
        concurrency=16,
        idle_wait=0.05,
    )
    await run_until_sent(delivery, db, 20)
    assert received(fake) == Counter({user: 1 for user in range(1, 21)})
    assert len(recording.starts) == 21  # 20 sends and the one answered 429
    ((answered_at, retry_after),) = recording.slow_downs
    assert retry_after == 65
    (held,) = [chat for chat, n in Counter(c for _, c in recording.starts).items() if n == 2]
    again = max(started for started, chat in recording.starts if chat == held)
    assert again >= answered_at + retry_after
    others = [started for started, chat in recording.starts if chat != held]
    assert max(others) < answered_at + retry_after  # the rest did not wait for that chat
    async with db.transaction() as session:
        attempts = (await session.execute(select(OutboxMessage.attempts))).scalars().all()
    assert set(attempts) == {1}  # neither the 429 nor waiting counted as a failed attempt


async def test_a_pair_rate_limit_holds_that_chat_not_the_channel(
    graph: FakeGraphApi,
    db: Database,
    file_store: FileStore,
    config: RecruitmentConfig,
    catalog: Catalog,
) -> None:
    """WhatsApp's 131056 (too many messages to this one number) holds that chat for 6 s: the
    other chat's messages go meanwhile, and the held chat's messages then go in their order."""
    clock = FrozenClock(DAYTIME)
    now = clock.now()
    held, other = "6281111111111", "6282222222222"
    async with db.transaction() as session:
        await Outbox(session).enqueue(
            [
                queued_message(
                    f"pair:{to}:{n}", "whatsapp", to, f"{to[-1]}{n}", now, template_only=True
                )
                for n in (1, 2)
                for to in (held, other)
            ]
        )
    graph.inject_error(131056, to=held, times=1)
    client = whatsapp_client(graph.phone_id, graph.token, graph.root_url, graph.api_version)
    whatsapp = WhatsAppSender(client, db, catalog, config.whatsapp_template, clock.now)
    recording = RecordingSender(whatsapp, clock)  # type: ignore[arg-type]
    delivery = DeliveryWorker(
        db,
        {"whatsapp": recording},
        {"whatsapp": ChannelLimits(rate=80, per_chat=50)},
        clock,
        QUIET,
        file_store,
        name="w1",
        lease=LEASE,
        idle_wait=10.0,
    )
    await run_until_sent(delivery, db, 4)

    def texts(to: str) -> list[str]:
        return [m.template.parameters[0] for m in graph.messages_to(to) if m.template]

    assert texts(held) == ["11", "12"] and texts(other) == ["21", "22"]
    refused_at = next(started for started, to in recording.starts if to == held)
    held_starts = [started for started, to in recording.starts if to == held][1:]
    other_starts = [started for started, to in recording.starts if to == other]
    assert all(started >= refused_at + 6.0 for started in held_starts)
    assert all(started < refused_at + 6.0 for started in other_starts)  # not held back
    async with db.transaction() as session:
        attempts = (await session.execute(select(OutboxMessage.attempts))).scalars().all()
    assert set(attempts) == {1}
