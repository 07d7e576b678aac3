"""The delivery worker against the fake Bot API: limits, errors, retries, crashes, two workers."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from telegram import Bot

from bot.clock import Clock, FrozenClock
from bot.telegram import TelegramSender
from scheduler.delivery import ChannelLimits, DeliveryWorker
from scheduler.quiet import QuietHours
from storage.db import Database
from storage.files import FileStore
from storage.models import OutboxMessage
from storage.outbox import Outbox
from tests.fakes.telegram_api import FakeBotApi

QUIET = QuietHours(
    datetime.strptime("21:00", "%H:%M").time(), datetime.strptime("06:00", "%H:%M").time()
)
DAYTIME = datetime(2023, 11, 10, 9, 0)


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi() as server:
        yield server


@pytest.fixture
async def sender(fake: FakeBotApi) -> AsyncIterator[TelegramSender]:
    bot = Bot(fake.token, base_url=fake.base_url, base_file_url=fake.base_file_url)
    async with bot:
        yield TelegramSender(bot)


def worker(
    db: Database,
    sender: TelegramSender,
    files: FileStore,
    clock: Clock,
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
    db: Database, fake: FakeBotApi, users: range, clock: Clock, **extra: object
) -> None:
    now = clock.now()
    for user in users:
        fake.add_user(user)
    rows = [
        {
            "dedup_key": f"test:{user}",
            "channel": "telegram",
            "recipient": str(user),
            "text": f"Halo {user}",
            "state": "queued",
            "attempts": 0,
            "not_before": now,
            "created_at": now,
            "urgent": False,
            **extra,
        }
        for user in users
    ]
    async with db.transaction() as session:
        await Outbox(session).enqueue(rows)


async def drain(delivery: DeliveryWorker, rounds: int = 50) -> None:
    """Run rounds until nothing is due (bounded)."""
    for _ in range(rounds):
        if await delivery.drain_once() == 0:
            async with delivery.db.transaction() as session:
                pending = await session.execute(
                    select(OutboxMessage.id).where(OutboxMessage.state.in_(("queued", "sending")))
                )
                if not pending.first():
                    return
            await asyncio.sleep(0.05)
    raise AssertionError("outbox did not drain")


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
    await drain(worker(db, sender, file_store, clock))
    assert received(fake) == Counter({user: 1 for user in range(1, 41)})
    assert await states(db) == Counter({"sent": 40})
    async with db.transaction() as session:
        row = (await session.execute(select(OutboxMessage).limit(1))).scalar_one()
        assert row.platform_message_id and row.sent_at == clock.now()


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
    clock = Clock()
    await enqueue(db, fake, range(1, 21), clock)
    fake.inject_error(
        "sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1, times=2
    )
    started = asyncio.get_running_loop().time()
    await drain(worker(db, sender, file_store, clock))
    assert asyncio.get_running_loop().time() - started >= 1.0  # it did wait
    assert received(fake) == Counter({user: 1 for user in range(1, 21)})
    assert await states(db) == Counter({"sent": 20})


async def test_server_errors_are_retried_then_given_up(
    fake: FakeBotApi, sender: TelegramSender, db: Database, file_store: FileStore
) -> None:
    clock = Clock()
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
    clock = Clock()
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
    clock = Clock()
    await enqueue(any_db, fake, range(1, 201), clock)
    workers = [worker(any_db, sender, file_store, clock, name=f"w{n}", rate=50) for n in (1, 2)]
    stop = asyncio.Event()
    tasks = [asyncio.create_task(w.run(stop)) for w in workers]
    for _ in range(200):
        if (await states(any_db)).get("sent") == 200:
            break
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(asyncio.gather(*tasks), 10)
    assert received(fake) == Counter({user: 1 for user in range(1, 201)})
    async with any_db.transaction() as session:
        by = Counter((await session.execute(select(OutboxMessage.claimed_by))).scalars())
    if any_db.url.get_backend_name() == "postgresql":
        assert set(by) == {"w1", "w2"}  # both really worked


async def test_with_the_lock_one_worker_sends_and_a_standby_takes_over(
    fake: FakeBotApi, sender: TelegramSender, any_db: Database, file_store: FileStore
) -> None:
    """Two workers at 30/s must not send at 60/s: the token's limit is shared."""
    clock = Clock()
    await enqueue(any_db, fake, range(1, 61), clock)
    first = worker(any_db, sender, file_store, clock, name="w1", exclusive=True)
    second = worker(any_db, sender, file_store, clock, name="w2", exclusive=True, standby_wait=0.05)
    stop_first, stop_second = asyncio.Event(), asyncio.Event()
    running_first = asyncio.create_task(first.run(stop_first))
    for _ in range(100):  # the first worker holds the lock before the second starts
        lock = first.locks["telegram"]
        if lock._connection is not None or lock._descriptor is not None:
            break
        await asyncio.sleep(0.02)
    running_second = asyncio.create_task(second.run(stop_second))
    for _ in range(200):
        if (await states(any_db)).get("sent") == 60:
            break
        await asyncio.sleep(0.05)
    async with any_db.transaction() as session:
        by = Counter((await session.execute(select(OutboxMessage.claimed_by))).scalars())
    assert by == Counter({"w1": 60})  # the standby sent nothing
    stop_first.set()
    await asyncio.wait_for(running_first, 10)  # releases the lock
    await enqueue(any_db, fake, range(61, 71), clock)
    for _ in range(200):
        if (await states(any_db)).get("sent") == 70:
            break
        await asyncio.sleep(0.05)
    stop_second.set()
    await asyncio.wait_for(running_second, 10)
    async with any_db.transaction() as session:
        by = Counter((await session.execute(select(OutboxMessage.claimed_by))).scalars())
    assert by == Counter({"w1": 60, "w2": 10})
    assert received(fake) == Counter({user: 1 for user in range(1, 71)})


async def test_one_slow_answer_holds_one_slot_not_the_whole_queue(
    fake: FakeBotApi, sender: TelegramSender, db: Database, file_store: FileStore
) -> None:
    clock = Clock()
    await enqueue(db, fake, range(1, 61), clock)
    fake.slow_chats[1] = 4.5  # the first recipient's send takes 4.5 s (under the 5 s timeout)
    delivery = worker(db, sender, file_store, clock, rate=20, concurrency=8)
    stop = asyncio.Event()
    started = asyncio.get_running_loop().time()
    running = asyncio.create_task(delivery.run(stop))
    for _ in range(300):
        if (await states(db)).get("sent", 0) >= 59:
            break
        await asyncio.sleep(0.02)
    others_done = asyncio.get_running_loop().time() - started
    stop.set()
    await asyncio.wait_for(running, 10)
    # 59 messages at 20/s take about 3 s; a round that waited for the slow one would take 4.5 s
    # before the next 40 even start (about 6.5 s).
    assert others_done < 4.3
    assert received(fake) == Counter({user: 1 for user in range(1, 61)})


async def test_the_rate_limit_is_kept(
    fake: FakeBotApi, sender: TelegramSender, db: Database, file_store: FileStore
) -> None:
    clock = Clock()
    fake.enforce_rate(20)
    await enqueue(db, fake, range(1, 41), clock)
    started = asyncio.get_running_loop().time()
    await drain(worker(db, sender, file_store, clock, rate=19))
    elapsed = asyncio.get_running_loop().time() - started
    assert received(fake) == Counter({user: 1 for user in range(1, 41)})
    assert fake.rate_limited == 0 and elapsed >= 40 / 19 - 0.2
