"""The durable intake's group commit: concurrent webhook posts share one transaction, each is
stored (in its order) before its call returns, and a failed commit fails every call it held."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, cast

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from bot.web import BackgroundWork, DurableIntake
from core.clock import FrozenClock
from storage.db import Database
from storage.inbound import InboundPayloads

POSTS = 24


class CountingDb:
    """A `Database` that counts the transactions opened through it."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.opened = 0

    def transaction(self) -> AbstractAsyncContextManager[AsyncSession]:
        self.opened += 1
        return self.db.transaction()


class Handled:
    """A payload handler that holds every payload until released (no transaction of its own)."""

    def __init__(self) -> None:
        self.seen: list[tuple[dict[str, Any], int]] = []
        self.release = asyncio.Event()

    async def __call__(self, payload: dict[str, Any], stored: int) -> bool:
        self.seen.append((payload, stored))
        await self.release.wait()
        return True


@asynccontextmanager
async def held_intake(
    db: Database, channel: str, clock: FrozenClock
) -> AsyncIterator[tuple[DurableIntake, Handled]]:
    """An intake whose handler holds the payloads; released and drained at the end."""
    handler = Handled()
    background = BackgroundWork()
    try:
        yield DurableIntake(db, channel, handler, background, clock.now), handler
    finally:
        handler.release.set()
        await background.drain()


def _body(number: int) -> tuple[bytes, dict[str, Any]]:
    payload = {"object": "whatsapp_business_account", "n": number}
    return json.dumps(payload).encode(), payload


async def test_concurrent_posts_are_stored_in_few_transactions_in_their_order(
    any_db: Database, clock: FrozenClock
) -> None:
    counting = CountingDb(any_db)
    posts = [_body(number) for number in range(POSTS)]
    async with held_intake(cast(Database, counting), "whatsapp", clock) as (intake, handler):
        first = asyncio.gather(*(intake.accept(body, data) for body, data in posts[:2]))
        await asyncio.sleep(0)  # the first two are being committed: the rest queue meanwhile
        rest = asyncio.gather(*(intake.accept(body, data) for body, data in posts[2:]))
        accepted = await first + await rest
        opened = counting.opened

    assert accepted == [True] * POSTS
    # One transaction for the first two, one for all that came while it committed.
    assert opened == 2
    assert [payload["n"] for payload, _ in handler.seen] == list(range(POSTS))
    async with any_db.transaction() as session:
        stored = InboundPayloads(session)
        for payload, row in handler.seen:
            assert json.loads(await stored.body(row) or "null") == payload
    assert intake.committing is None and not intake.batch


async def test_repeated_platform_ids_in_one_batch_are_stored_once(
    any_db: Database, clock: FrozenClock
) -> None:
    body, data = _body(1)
    async with held_intake(any_db, "telegram", clock) as (intake, handler):
        accepted = await asyncio.gather(
            intake.accept(body, data, "7"),
            intake.accept(body, data, "8"),
            intake.accept(body, data, "8"),
        )

    assert accepted == [True, True, False]
    assert len(handler.seen) == 2


async def test_a_failed_commit_fails_every_post_it_held_and_the_next_batch_goes_on(
    db: Database, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = InboundPayloads.store_all
    failures = iter([RuntimeError("database gone")])

    async def flaky(self: InboundPayloads, *args: Any) -> list[int | None]:
        error = next(failures, None)
        if error is not None:
            raise error
        return await real(self, *args)

    monkeypatch.setattr(InboundPayloads, "store_all", flaky)
    posts = [_body(number) for number in range(3)]

    async with held_intake(db, "whatsapp", clock) as (intake, handler):
        results = await asyncio.gather(
            *(intake.accept(body, data) for body, data in posts), return_exceptions=True
        )

        again = await intake.accept(*posts[0])

    # Their one transaction failed: each post gets the error (a 500: Meta posts it again),
    # none is handled; the next post is stored as usual.
    assert [type(result) for result in results] == [RuntimeError] * 3
    assert again is True
    assert [payload["n"] for payload, _ in handler.seen] == [0]
