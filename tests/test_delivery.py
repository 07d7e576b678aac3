"""The delivery worker against the fake Bot API: limits, errors, retries, crashes, two workers.

Every worker here runs on a FrozenClock set to daytime: quiet hours are the ones the test sets,
and the pacing and back-off waits move that clock instead of taking real time, so the tests say
the same at 02:00 WIB as at noon and on a busy machine as on an idle one. Timing is asserted on
that clock (which send started when), never on the wall clock.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from itertools import pairwise

import pytest
from sqlalchemy import select
from telegram import Bot
from telegram.request import HTTPXRequest

from bot.telegram import TelegramSender
from core.clock import FrozenClock
from core.recruitment import QuietHours
from scheduler.delivery import ChannelLimits, DeliveryWorker, Outgoing, RateLimited
from scheduler.ratelimit import SPREAD
from storage.db import Database
from storage.files import FileStore
from storage.models import OutboxMessage
from storage.outbox import Outbox
from tests.fakes.telegram_api import FakeBotApi
from tests.seeding import queued_message

QUIET = QuietHours(
    start=datetime.strptime("21:00", "%H:%M").time(), end=datetime.strptime("06:00", "%H:%M").time()
)
DAYTIME = datetime(2023, 11, 10, 9, 0)
PATIENCE = 600
"""Polls of 0.05 s a test waits for the worker before it fails (30 s: generous on a busy
machine; the worker's own pacing runs on the frozen clock and takes no real time)."""


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi() as server:
        yield server


@pytest.fixture
async def sender(fake: FakeBotApi) -> AsyncIterator[TelegramSender]:
    bot = Bot(fake.token, base_url=fake.base_url, base_file_url=fake.base_file_url)
    async with bot:
        yield TelegramSender(bot)


class RecordingSender:
    """Wraps a sender and notes, on the worker's clock, when each send started and when each
    "slow down" (429) answer came back."""

    def __init__(self, inner: TelegramSender, clock: FrozenClock) -> None:
        self.inner = inner
        self.clock = clock
        self.starts: list[tuple[float, str]] = []
        self.slow_downs: list[tuple[float, float]] = []
        """(when the 429 came, its retry_after)."""

    async def send(self, message: Outgoing) -> str | None:
        self.starts.append((self.clock.monotonic(), message.recipient))
        try:
            return await self.inner.send(message)
        except RateLimited as slow_down:
            self.slow_downs.append((self.clock.monotonic(), slow_down.retry_after))
            raise

    async def edit(self, recipient: str, message_id: str, text: str) -> None:
        await self.inner.edit(recipient, message_id, text)


def worker(
    db: Database,
    sender: TelegramSender | RecordingSender,
    files: FileStore,
    clock: FrozenClock,
    name: str = "w1",
    rate: float = 200.0,
    **options: object,
) -> DeliveryWorker:
    return DeliveryWorker(
        db,
        {"telegram": sender},
        {"telegram": ChannelLimits(rate=rate, per_chat=50)},
        clock,
        QUIET,
        files,
        name=name,
        idle_wait=0.05,
        retry_base=0.01,
        **options,  # type: ignore[arg-type]
    )


async def enqueue(
    db: Database,
    fake: FakeBotApi,
    users: range,
    clock: FrozenClock,
    key: str = "test",
    **extra: object,
) -> None:
    now = clock.now()
    for user in users:
        fake.add_user(user)
    rows = [
        queued_message(f"{key}:{user}", "telegram", str(user), f"Halo {user}", now, **extra)
        for user in users
    ]
    async with db.transaction() as session:
        await Outbox(session).enqueue(rows)


async def drain(delivery: DeliveryWorker, rounds: int = 50) -> None:
    """Run rounds until nothing is due (bounded); an idle round moves the clock a second on,
    so messages waiting for a retry become due."""
    for _ in range(rounds):
        if await delivery.drain_once() == 0:
            async with delivery.db.transaction() as session:
                pending = await session.execute(
                    select(OutboxMessage.id).where(OutboxMessage.state.in_(("queued", "sending")))
                )
                if not pending.first():
                    return
            await delivery.clock.sleep(1.0)
    raise AssertionError(f"outbox did not drain in {rounds} rounds: {await states(delivery.db)}")


async def wait_until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Poll `check` until it holds; fail with `what` after PATIENCE polls."""
    for _ in range(PATIENCE):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting until {what}")


def sent_count(db: Database, expected: int) -> Callable[[], Awaitable[bool]]:
    """A check: at least `expected` outbox rows are sent."""

    async def check() -> bool:
        return (await states(db)).get("sent", 0) >= expected

    return check


async def states(db: Database) -> Counter[str]:
    async with db.transaction() as session:
        rows = await session.execute(select(OutboxMessage.state))
        return Counter(rows.scalars())


def received(fake: FakeBotApi) -> Counter[int]:
    return Counter(m.chat_id for m in fake.sent if m.method == "sendMessage")


async def test_every_recipient_gets_exactly_one_message(
    fake: FakeBotApi, sender: TelegramSender, db: Database, file_store: FileStore
) -> None:
    clock = FrozenClock(DAYTIME)
    await enqueue(db, fake, range(1, 41), clock)
    started = clock.now()
    await drain(worker(db, sender, file_store, clock))
    assert received(fake) == Counter({user: 1 for user in range(1, 41)})
    assert await states(db) == Counter({"sent": 40})
    async with db.transaction() as session:
        row = (await session.execute(select(OutboxMessage).limit(1))).scalar_one()
        assert row.platform_message_id and started <= row.sent_at <= clock.now()


async def test_blocked_users_are_unreachable_and_not_retried(
    fake: FakeBotApi, sender: TelegramSender, db: Database, file_store: FileStore
) -> None:
    clock = FrozenClock(DAYTIME)
    await enqueue(db, fake, range(1, 11), clock)
    for user in (3, 7):
        fake.block_user(user)
    await drain(worker(db, sender, file_store, clock))
    assert await states(db) == Counter({"sent": 8, "unreachable": 2})
    attempts = [m for m, p in fake.calls if m == "sendMessage" and p["chat_id"] in (3, 7)]
    assert len(attempts) == 2  # one try each, never again


async def test_429_waits_retry_after_and_sends_once(
    fake: FakeBotApi, sender: TelegramSender, db: Database, file_store: FileStore
) -> None:
    """429s from `SPREAD` chats in a row are a flood of the channel: it pauses as told."""
    clock = FrozenClock(DAYTIME)
    await enqueue(db, fake, range(1, 21), clock)
    fake.inject_error(
        "sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1, times=SPREAD
    )
    recording = RecordingSender(sender, clock)
    await drain(worker(db, recording, file_store, clock))
    assert len(recording.slow_downs) == SPREAD
    flood_at, retry_after = recording.slow_downs[-1]  # nothing went out while told to wait
    assert all(
        started >= flood_at + retry_after for started, _ in recording.starts if started > flood_at
    )
    assert any(started > flood_at for started, _ in recording.starts)
    assert received(fake) == Counter({user: 1 for user in range(1, 21)})
    assert await states(db) == Counter({"sent": 20})


async def test_server_errors_are_retried_then_given_up(
    fake: FakeBotApi, sender: TelegramSender, db: Database, file_store: FileStore
) -> None:
    clock = FrozenClock(DAYTIME)
    await enqueue(db, fake, range(1, 4), clock)
    fake.inject_error("sendMessage", 500, "Internal Server Error", times=2)
    await drain(worker(db, sender, file_store, clock))
    assert await states(db) == Counter({"sent": 3})
    await enqueue(db, fake, range(10, 11), clock)
    fake.inject_error("sendMessage", 502, "Bad Gateway", times=10)
    await drain(worker(db, sender, file_store, clock, max_attempts=3))
    async with db.transaction() as session:
        failed = (
            await session.execute(select(OutboxMessage).where(OutboxMessage.recipient == "10"))
        ).scalar_one()
    assert (
        failed.state == "failed" and failed.attempts == 3 and "after 3 tries" in failed.last_error
    )


async def test_slow_responses_do_not_lose_or_repeat(
    fake: FakeBotApi, sender: TelegramSender, db: Database, file_store: FileStore
) -> None:
    clock = FrozenClock(DAYTIME)
    fake.response_delay = 0.3
    await enqueue(db, fake, range(1, 21), clock)
    await drain(worker(db, sender, file_store, clock, concurrency=8))
    assert received(fake) == Counter({user: 1 for user in range(1, 21)})


async def test_quiet_hours_hold_back_all_but_urgent(
    fake: FakeBotApi, sender: TelegramSender, db: Database, file_store: FileStore
) -> None:
    clock = FrozenClock(datetime(2023, 11, 10, 22, 30))
    await enqueue(db, fake, range(1, 4), clock)
    await enqueue(db, fake, range(100, 101), clock, urgent=True)
    delivery = worker(db, sender, file_store, clock)
    await delivery.drain_once()
    assert received(fake) == Counter({100: 1})
    clock.set(datetime(2023, 11, 11, 6, 0))
    await drain(delivery)
    assert sum(received(fake).values()) == 4


async def test_a_dead_workers_messages_are_sent_after_the_lease(
    fake: FakeBotApi, sender: TelegramSender, db: Database, file_store: FileStore
) -> None:
    clock = FrozenClock(DAYTIME)
    await enqueue(db, fake, range(1, 11), clock)
    async with db.transaction() as session:  # a worker claims 4 and dies before sending
        claimed = await Outbox(session).claim("dead", clock.now(), 4, timedelta(seconds=60), False)
    assert len(claimed) == 4
    survivor = worker(db, sender, file_store, clock, name="alive")
    await survivor.drain_once()
    assert sum(received(fake).values()) == 6  # the 4 in flight wait for the lease
    clock.advance(timedelta(seconds=61))
    await drain(survivor)
    assert received(fake) == Counter({user: 1 for user in range(1, 11)})


async def test_enqueuing_the_same_message_twice_sends_it_once(
    fake: FakeBotApi, sender: TelegramSender, db: Database, file_store: FileStore
) -> None:
    clock = FrozenClock(DAYTIME)
    await enqueue(db, fake, range(1, 6), clock)
    await enqueue(db, fake, range(1, 6), clock)
    await drain(worker(db, sender, file_store, clock))
    assert received(fake) == Counter({user: 1 for user in range(1, 6)})


async def test_two_workers_share_the_queue_without_duplicates(
    fake: FakeBotApi, sender: TelegramSender, any_db: Database, file_store: FileStore
) -> None:
    clock = FrozenClock(DAYTIME)
    await enqueue(any_db, fake, range(1, 201), clock)
    workers = [worker(any_db, sender, file_store, clock, name=f"w{n}", rate=50) for n in (1, 2)]
    stop = asyncio.Event()
    tasks = [asyncio.create_task(w.run(stop)) for w in workers]
    try:
        await wait_until(sent_count(any_db, 200), "200 messages are sent")
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 30)
    assert received(fake) == Counter({user: 1 for user in range(1, 201)})
    async with any_db.transaction() as session:
        by = Counter((await session.execute(select(OutboxMessage.claimed_by))).scalars())
    if any_db.url.get_backend_name() == "postgresql":
        assert set(by) == {"w1", "w2"}  # both really worked


async def test_with_the_lock_one_worker_sends_and_a_standby_takes_over(
    fake: FakeBotApi, sender: TelegramSender, any_db: Database, file_store: FileStore
) -> None:
    """Two workers at 30/s must not send at 60/s: the token's limit is shared."""
    clock = FrozenClock(DAYTIME)
    await enqueue(any_db, fake, range(1, 61), clock)
    first = worker(any_db, sender, file_store, clock, name="w1", exclusive=True)
    second = worker(any_db, sender, file_store, clock, name="w2", exclusive=True, standby_wait=0.05)
    stop_first, stop_second = asyncio.Event(), asyncio.Event()
    running_first = asyncio.create_task(first.run(stop_first))

    async def first_holds_the_lock() -> bool:
        lock = first.locks["telegram"]
        return lock._connection is not None or lock._descriptor is not None

    await wait_until(first_holds_the_lock, "the first worker holds the lock")
    running_second = asyncio.create_task(second.run(stop_second))
    await wait_until(sent_count(any_db, 60), "the first 60 messages are sent")
    async with any_db.transaction() as session:
        by = Counter((await session.execute(select(OutboxMessage.claimed_by))).scalars())
    assert by == Counter({"w1": 60})  # the standby sent nothing
    stop_first.set()
    await asyncio.wait_for(running_first, 30)  # releases the lock
    await enqueue(any_db, fake, range(61, 71), clock)
    await wait_until(sent_count(any_db, 70), "the standby sent the next 10")
    stop_second.set()
    await asyncio.wait_for(running_second, 30)
    async with any_db.transaction() as session:
        by = Counter((await session.execute(select(OutboxMessage.claimed_by))).scalars())
    assert by == Counter({"w1": 60, "w2": 10})
    assert received(fake) == Counter({user: 1 for user in range(1, 71)})


async def test_sharded_workers_split_the_chats_and_the_rate(
    fake: FakeBotApi, sender: TelegramSender, any_db: Database, file_store: FileStore
) -> None:
    """Limits lifted, three workers send one channel side by side: each holds one shard and
    sends only its chats (all of a chat's messages in one process, so its order and own rate
    hold) at a third of the rate; a fourth waits as a standby."""
    clock = FrozenClock(DAYTIME)
    await enqueue(any_db, fake, range(1, 61), clock)
    await enqueue(any_db, fake, range(1, 61), clock, key="second")
    fleet = [
        worker(any_db, sender, file_store, clock, name=f"w{i}", exclusive=True, shards=3)
        for i in range(1, 5)
    ]
    stops = [asyncio.Event() for _ in fleet]
    running = [asyncio.create_task(d.run(stop)) for d, stop in zip(fleet, stops, strict=True)]
    await wait_until(sent_count(any_db, 120), "all 120 messages are sent")
    holding = {
        d.name: d.locks["telegram"].shard
        for d in fleet
        if d.locks["telegram"]._connection is not None
        or d.locks["telegram"]._descriptor is not None
    }
    for stop in stops:
        stop.set()
    await asyncio.gather(*(asyncio.wait_for(task, 30) for task in running))
    assert received(fake) == Counter({user: 2 for user in range(1, 61)})
    assert len(holding) == 3 and sorted(holding.values()) == [0, 1, 2]
    assert all(d.limiters["telegram"].interval == pytest.approx(3 / 200) for d in fleet)
    async with any_db.transaction() as session:
        rows = (
            await session.execute(select(OutboxMessage.recipient, OutboxMessage.claimed_by))
        ).all()
    by_chat: dict[str, set[str]] = {}
    for recipient, holder in rows:
        by_chat.setdefault(recipient, set()).add(holder)
    assert all(len(holders) == 1 for holders in by_chat.values())  # a chat, one process
    assert {holder for holders in by_chat.values() for holder in holders} == set(holding)


async def test_one_slow_answer_holds_one_slot_not_the_whole_queue(
    fake: FakeBotApi, db: Database, file_store: FileStore
) -> None:
    """The first recipient's send is not answered until the test says so: the other 59 must all
    go out meanwhile (a worker that waited for a whole round would be stuck behind it)."""
    clock = FrozenClock(DAYTIME)
    await enqueue(db, fake, range(1, 61), clock)
    fake.held_chats[1] = release = asyncio.Event()
    # the held send must not time out on the client side while the others go
    request = HTTPXRequest(connection_pool_size=16, read_timeout=120)
    async with Bot(fake.token, base_url=fake.base_url, request=request) as bot:
        delivery = worker(db, TelegramSender(bot), file_store, clock, rate=20, concurrency=8)
        stop = asyncio.Event()
        running = asyncio.create_task(delivery.run(stop))
        try:
            await wait_until(sent_count(db, 59), "the other 59 are sent")
            assert received(fake) == Counter({user: 1 for user in range(2, 61)})
            assert await states(db) == Counter({"sent": 59, "sending": 1})  # still held
            release.set()
            await wait_until(sent_count(db, 60), "the held send is answered")
        finally:
            release.set()
            stop.set()
            await asyncio.wait_for(running, 30)
    assert received(fake) == Counter({user: 1 for user in range(1, 61)})


async def test_the_rate_limit_is_kept(
    fake: FakeBotApi, sender: TelegramSender, db: Database, file_store: FileStore
) -> None:
    """At 19/s, no two sends start closer than 1/19 s apart, and each chat's at most one a
    second apart per its own limit (the worker's clock; the wall clock plays no part)."""
    clock = FrozenClock(DAYTIME)
    await enqueue(db, fake, range(1, 41), clock)
    await enqueue(db, fake, range(1, 6), clock, key="again")  # a second message to five chats
    recording = RecordingSender(sender, clock)
    delivery = DeliveryWorker(
        db,
        {"telegram": recording},
        {"telegram": ChannelLimits(rate=19, per_chat=1)},
        clock,
        QUIET,
        file_store,
        name="w1",
        idle_wait=0.05,
        retry_base=0.01,
    )
    await drain(delivery)
    starts = sorted(started for started, _ in recording.starts)
    assert len(starts) == 45
    tick = 2e-6  # the frozen clock counts whole microseconds; the pacing's grid does not
    assert all(later - earlier >= 1 / 19 - tick for earlier, later in pairwise(starts))
    by_chat: dict[str, list[float]] = {}
    for started, chat in recording.starts:
        by_chat.setdefault(chat, []).append(started)
    for chat in map(str, range(1, 6)):
        first, second = sorted(by_chat[chat])
        assert second - first >= 1.0 - 1e-6
    assert sum(received(fake).values()) == 45
