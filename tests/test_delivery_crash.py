"""A real `mitrabot worker` process killed mid-delivery: nothing lost, repeats only in flight.

The worker runs as its own process (the console script's code, configured through the
environment like in production) against the fake Bot API served in this test's event loop, on
SQLite (a file) and on PostgreSQL. It is killed with SIGKILL after about a third of the
messages arrived; a second worker then finishes the queue. `scheduler/delivery.py` documents
the window: a message sent to the platform whose `sent` commit did not happen is sent again
after the lease. Only messages a worker was delivering at the kill can be in that window, and a
worker delivers at most `concurrency` messages at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from storage.db import Database
from storage.models import OutboxMessage
from storage.outbox import Outbox
from tests.fakes.telegram_api import FakeBotApi
from tests.seeding import queued_message

USERS = range(1, 301)
KILL_AFTER = 115  # messages received by the fake; not a multiple of the claim batch (= rate)
RATE = 100  # messages/second for the worker
CONCURRENCY = 8
LEASE_SECONDS = 5
RESPONSE_DELAY = 0.05  # the fake answers after 50 ms, so ~5 sends are in flight at any moment
PATIENCE = 120
"""Seconds a wait may take before the test fails: far more than the few it takes, since the
workers are separate processes that a busy machine may keep waiting (it is a bound, not a
measurement)."""
QUEUED_AT = datetime(2023, 11, 10, 2, 0, tzinfo=UTC)
"""When the test's rows were queued: a fixed past moment, so they are due for the workers (which
run on their own clocks, in other processes) whatever the date of the run."""
WORKER_CODE = "from bot.cli import main; raise SystemExit(main())"


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi() as server:
        server.response_delay = RESPONSE_DELAY
        for user in USERS:
            server.add_user(user)
        yield server


def worker_environment(database: Database, fake: FakeBotApi, data_dir: Path) -> dict[str, str]:
    """The settings `mitrabot worker` reads, and nothing of ours from the outer environment."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("MITRABOT_")}
    env.update(
        MITRABOT_DATABASE_URL=database.url.render_as_string(hide_password=False),
        MITRABOT_DATA_DIR=str(data_dir),
        MITRABOT_TELEGRAM_TOKEN=fake.token,
        MITRABOT_TELEGRAM_BASE_URL=fake.base_url,
        MITRABOT_TELEGRAM_BASE_FILE_URL=fake.base_file_url,
        MITRABOT_TELEGRAM_RATE=str(RATE),
        MITRABOT_TELEGRAM_CHAT_RATE="1",
        MITRABOT_DELIVERY_CONCURRENCY=str(CONCURRENCY),
        MITRABOT_DELIVERY_LEASE_SECONDS=str(LEASE_SECONDS),
        MITRABOT_LOG_LEVEL="INFO",
        NO_PROXY="127.0.0.1",
        no_proxy="127.0.0.1",
    )
    return env


async def start_worker(
    name: str, env: dict[str, str], cwd: Path, log: Path
) -> asyncio.subprocess.Process:
    with log.open("wb") as output:  # the child keeps its own copy of the descriptor
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            WORKER_CODE,
            "worker",
            "--name",
            name,
            env=env,
            cwd=cwd,  # no `.env` of the repository is read
            stdin=asyncio.subprocess.DEVNULL,
            stdout=output,
            stderr=asyncio.subprocess.STDOUT,
        )


async def stop_process(process: asyncio.subprocess.Process, how: signal.Signals) -> None:
    """Send `how` and wait (bounded); SIGKILL if it is still there after 10 s."""
    if process.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(how)
    try:
        await asyncio.wait_for(process.wait(), 10)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await asyncio.wait_for(process.wait(), 5)


def received(fake: FakeBotApi) -> Counter[int]:
    return Counter(m.chat_id for m in fake.sent if m.method == "sendMessage")


async def rows_by_recipient(database: Database) -> dict[int, OutboxMessage]:
    async with database.transaction() as session:
        rows = (await session.execute(select(OutboxMessage))).scalars()
        return {int(row.recipient): row for row in rows}


async def wait_for(
    what: str, check: Callable[[], Awaitable[bool]], seconds: float, logs: list[Path]
) -> None:
    """Poll `check()` every 50 ms until true; fail (with the workers' logs) after `seconds`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not await check():
        if loop.time() > deadline:
            tails = "\n".join(f"--- {log.name}\n{log.read_text()[-3000:]}" for log in logs)
            raise AssertionError(f"{what}: not within {seconds} s\n{tails}")
        await asyncio.sleep(0.05)


async def test_a_killed_worker_loses_nothing_and_repeats_only_what_was_in_flight(
    any_db: Database, fake: FakeBotApi, tmp_path: Path
) -> None:
    now = QUEUED_AT
    rows = [  # urgent: not held back by quiet hours, whatever the time of the run
        queued_message(f"crash:{user}", "telegram", str(user), f"Halo {user}", now, urgent=True)
        for user in USERS
    ]
    async with any_db.transaction() as session:
        await Outbox(session).enqueue(rows)
    env = worker_environment(any_db, fake, tmp_path / "data")
    logs = [tmp_path / "w1.log", tmp_path / "w2.log"]
    processes: list[asyncio.subprocess.Process] = []
    try:
        first = await start_worker("w1", env, tmp_path, logs[0])
        processes.append(first)

        async def enough_arrived() -> bool:
            if first.returncode is not None:
                raise AssertionError(
                    f"w1 exited early ({first.returncode}):\n{logs[0].read_text()}"
                )
            return len(fake.sent) >= KILL_AFTER

        await wait_for(f"{KILL_AFTER} messages from w1", enough_arrived, PATIENCE, logs[:1])
        first.kill()  # SIGKILL: no clean-up of any kind
        await asyncio.wait_for(first.wait(), 5)
        assert first.returncode == -signal.SIGKILL
        # Requests that reached the fake before the kill are still answered (into the void).
        await fake.wait_until_idle(timeout=PATIENCE)

        before_restart = received(fake)
        at_kill = await rows_by_recipient(any_db)
        sending_at_kill = {user for user, row in at_kill.items() if row.state == "sending"}
        in_flight = sending_at_kill & set(before_restart)  # sent, but never recorded as sent
        assert sending_at_kill, "w1 was not killed in the middle of a batch"
        assert {row.state for row in at_kill.values()} <= {"queued", "sending", "sent"}
        assert {u for u, r in at_kill.items() if r.state == "sent"} <= set(before_restart)

        second = await start_worker("w2", env, tmp_path, logs[1])
        processes.append(second)

        async def all_sent() -> bool:
            if second.returncode is not None:
                raise AssertionError(f"w2 exited ({second.returncode}):\n{logs[1].read_text()}")
            return all(row.state == "sent" for row in (await rows_by_recipient(any_db)).values())

        # w2 sends the queued rows at once and w1's claimed rows after the 5 s lease.
        await wait_for("every row sent", all_sent, LEASE_SECONDS + PATIENCE, logs)
        await stop_process(second, signal.SIGTERM)
        assert second.returncode == 0, logs[1].read_text()
    finally:
        for process in processes:
            await stop_process(process, signal.SIGKILL)

    after = received(fake)
    final = await rows_by_recipient(any_db)
    duplicated = sorted(user for user, count in after.items() if count > 1)
    print(
        f"{any_db.url.get_backend_name()}: {len(before_restart)} received before the kill, "
        f"{len(sending_at_kill)} rows `sending` at the kill, of which {len(in_flight)} had "
        f"reached the fake; duplicated: recipients {duplicated}, outbox rows "
        f"{[final[user].id for user in duplicated]}"
    )
    assert set(after) == set(USERS), f"lost: {sorted(set(USERS) - set(after))}"
    assert max(after.values()) <= 2
    # Exactly the messages in flight at the kill were repeated, and no more than a worker
    # delivers at once.
    assert set(duplicated) == in_flight, f"duplicated {duplicated}, in flight {sorted(in_flight)}"
    assert len(duplicated) <= CONCURRENCY
    assert Counter(row.state for row in final.values()) == Counter({"sent": len(USERS)})
    for user, row in final.items():
        if user in sending_at_kill:  # w1 claimed it and died: w2 took it over after the lease
            assert (row.claimed_by, row.attempts) == ("w2", 2), user
        elif at_kill[user].state == "sent":
            assert (row.claimed_by, row.attempts) == ("w1", 1), user
        else:
            assert (row.claimed_by, row.attempts) == ("w2", 1), user


async def test_a_claim_takes_at_most_its_limit(any_db: Database) -> None:
    """What bounds the rows a dead worker leaves `sending` (and a batch's length vs. the lease)."""
    now = QUEUED_AT
    rows = [
        queued_message(f"claim:{user}", "telegram", str(user), "Halo", now, urgent=True)
        for user in USERS
    ]
    async with any_db.transaction() as session:
        await Outbox(session).enqueue(rows)
    async with any_db.transaction() as session:
        claimed = await Outbox(session).claim(
            "w1", now + timedelta(minutes=1), 100, timedelta(seconds=LEASE_SECONDS), False
        )
    assert len(claimed) == 100
