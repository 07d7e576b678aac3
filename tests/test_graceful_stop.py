"""SIGTERM with work in hand: `mitrabot serve`, `run` and `worker` finish what they hold, exit 0,
and nothing is lost or answered twice.

Unlike a kill (tests/test_*_crash.py) a stop has no window: the updates in hand are answered and
their replies recorded as sent before the process ends, what it had not started stays in the
database, and the next process answers it. The fake answers every call after a delay, so work
is in hand at the signal; the process must be gone long before the generous timeout of
`stop_process` (a bound, not a measurement).
"""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from bot.web import TELEGRAM_PATH
from storage.db import Database
from storage.outbox import Outbox
from tests.fakes.telegram_api import FakeBotApi, text_update
from tests.seeding import queued_message
from tests.test_delivery_crash import (
    PATIENCE,
    QUEUED_AT,
    received,
    rows_by_recipient,
    start_worker,
    stop_process,
    wait_for,
    worker_environment,
)
from tests.test_telegram_intake_crash import SECRET, Bot, _free_port

USERS = range(3001, 3021)
REFERENCE_USER = 3000
RESPONSE_DELAY = 0.2
"""Each Bot API call takes 200 ms: several updates and sends are in hand at the signal."""


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi() as server:
        for user in (REFERENCE_USER, *USERS):
            server.add_user(user)
        yield server


async def _terminate(process: asyncio.subprocess.Process, what: Bot) -> None:
    """SIGTERM, and the process must end by itself with status 0."""
    process.send_signal(signal.SIGTERM)
    await asyncio.wait_for(process.wait(), PATIENCE)
    assert process.returncode == 0, what.tails()


@pytest.mark.parametrize("command", ["serve", "run"])
async def test_a_stopped_bot_finishes_its_updates_and_exits_0(
    db: Database, fake: FakeBotApi, tmp_path: Path, command: str
) -> None:
    port = _free_port()
    env = worker_environment(db, fake, tmp_path / "data")
    env.update(
        MITRABOT_TELEGRAM_CONCURRENCY="4",
        MITRABOT_INBOUND_ORPHAN_SECONDS="1",
        MITRABOT_INBOUND_SWEEP_SECONDS="0.5",
        MITRABOT_PORT=str(port),
        MITRABOT_STOP_GRACE_SECONDS="30",
    )
    if command == "serve":
        env.update(
            MITRABOT_TELEGRAM_WEBHOOK_URL=f"https://mitrabot.example{TELEGRAM_PATH}",
            MITRABOT_TELEGRAM_WEBHOOK_SECRET=SECRET,
        )
    bot = Bot(command, env, tmp_path)
    try:
        first = await bot.start()
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:

            async def send(update_id: int, user: int) -> None:
                if command == "run":
                    fake.push_text(user, "/start")
                    return
                update = text_update(update_id, user, "/start")
                headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
                for _ in range(200):  # posted until acknowledged, as Telegram does
                    try:
                        if (
                            await http.post(TELEGRAM_PATH, json=update, headers=headers)
                        ).is_success:
                            return
                    except httpx.TransportError:
                        await asyncio.sleep(0.1)
                raise AssertionError(f"update {update_id} never acknowledged\n{bot.tails()}")

            await send(100, REFERENCE_USER)

            async def reference_answered() -> bool:
                bot.alive(first)
                return bool(fake.messages_to(REFERENCE_USER))

            await wait_for("the reference answer", reference_answered, PATIENCE, bot.logs)
            await fake.wait_until_idle(timeout=PATIENCE)
            per_start = len(fake.messages_to(REFERENCE_USER))
            fake.response_delay = RESPONSE_DELAY
            await asyncio.gather(*(send(101 + n, user) for n, user in enumerate(USERS)))

            async def one_answered() -> bool:
                bot.alive(first)
                return any(fake.messages_to(user) for user in USERS)

            await wait_for("a first answer", one_answered, PATIENCE, bot.logs)
            await _terminate(first, bot)
            answered_at_stop = sum(bool(fake.messages_to(user)) for user in USERS)

            second = await bot.start()

            async def all_answered() -> bool:
                bot.alive(second)
                return all(len(fake.messages_to(user)) >= per_start for user in USERS)

            await wait_for("every user answered", all_answered, PATIENCE, bot.logs)
            await fake.wait_until_idle(timeout=PATIENCE)
            await _terminate(second, bot)
    finally:
        await bot.close()
    print(f"{command}: {answered_at_stop} of {len(USERS)} users answered at the stop")
    assert answered_at_stop < len(USERS), "nothing was left in hand at the stop"
    for user in USERS:  # every message once: a stop repeats nothing
        texts = Counter(m.text for m in fake.messages_to(user))
        assert len(fake.messages_to(user)) == per_start and max(texts.values()) == 1, user


async def test_a_stopped_worker_finishes_its_sends_and_exits_0(
    db: Database, fake: FakeBotApi, tmp_path: Path
) -> None:
    rows = [
        queued_message(
            f"stop:{user}", "telegram", str(user), f"Halo {user}", QUEUED_AT, urgent=True
        )
        for user in USERS
    ]
    async with db.transaction() as session:
        await Outbox(session).enqueue(rows)
    fake.response_delay = RESPONSE_DELAY
    env = worker_environment(db, fake, tmp_path / "data")
    env.update(MITRABOT_TELEGRAM_RATE="20", MITRABOT_STOP_GRACE_SECONDS="30")
    logs = [tmp_path / "w1.log", tmp_path / "w2.log"]
    first = await start_worker("w1", env, tmp_path, logs[0])
    second = None
    try:

        async def some_sent() -> bool:
            return len(fake.sent) >= 3

        await wait_for("a first send", some_sent, PATIENCE, logs[:1])
        first.send_signal(signal.SIGTERM)
        await asyncio.wait_for(first.wait(), PATIENCE)
        assert first.returncode == 0, logs[0].read_text()
        at_stop = await rows_by_recipient(db)
        states = Counter(row.state for row in at_stop.values())
        sent_at_stop = received(fake)

        second = await start_worker("w2", env, tmp_path, logs[1])

        async def all_sent() -> bool:
            return all(row.state == "sent" for row in (await rows_by_recipient(db)).values())

        await wait_for("every row sent", all_sent, PATIENCE, logs)
        second.send_signal(signal.SIGTERM)
        await asyncio.wait_for(second.wait(), PATIENCE)
        assert second.returncode == 0, logs[1].read_text()
    finally:
        await stop_process(first, signal.SIGKILL)
        if second is not None:
            await stop_process(second, signal.SIGKILL)
    print(f"worker: rows at the stop {dict(states)}")
    assert states["sending"] == 0, "a send in flight was not finished and recorded"
    assert 0 < states["sent"] < len(USERS), states
    assert set(sent_at_stop) == {user for user, row in at_stop.items() if row.state == "sent"}
    assert received(fake) == Counter({user: 1 for user in USERS})
