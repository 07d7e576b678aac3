"""The one way in for inbound payloads: stored before they are acknowledged, handled after.

Shared by the web app (`mitrabot serve`: WhatsApp and Telegram webhooks) and Telegram's long
polling (`mitrabot run`), so it imports no web server.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from core.failures import log_failure
from storage.db import Database
from storage.inbound import InboundPayloads

if TYPE_CHECKING:
    from bot.metrics import Metrics

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
"""The largest webhook body read (Telegram updates and WhatsApp batches are a few KB)."""
BODY_TIMEOUT = 10.0
"""Seconds a client has to send the whole body of one request."""
STUCK_AFTER = timedelta(minutes=5)
"""/readyz fails when an inbound payload has waited, or a due outbox message, longer than this."""


class BackgroundWork:
    """Tasks started after a webhook was answered; kept referenced, awaited on shutdown."""

    def __init__(self) -> None:
        self.tasks: set[asyncio.Task[None]] = set()

    def start(self, work: Awaitable[None]) -> None:
        """Run `work` without waiting for it (errors are logged, never lost silently)."""
        task = asyncio.ensure_future(work)
        self.tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log_failure(log, "webhook work failed", error=task.exception())

    async def drain(self, grace: float | None = None) -> int:
        """Wait for the work in hand, including work it started meanwhile (shutdown), at most
        `grace` seconds; what still runs then is cancelled (a stored update whose turn did not
        commit stays for the next process). How many were cancelled."""
        try:
            async with asyncio.timeout(grace):
                while self.tasks:
                    await asyncio.gather(*self.tasks, return_exceptions=True)
        except TimeoutError:
            left = list(self.tasks)
            for task in left:
                task.cancel()
            await asyncio.gather(*left, return_exceptions=True)
            return len(left)
        return 0


PayloadHandler = Callable[[dict[str, Any], int], Awaitable[bool]]
"""Handles one stored payload (given with its stored id); True when it marked the stored copy
handled itself, in the transaction of the turn it answered (else the intake marks it after)."""

MAX_IN_FLIGHT = 256
"""Accepted payloads handled at once by one process; more wait in the database."""
SWEEP_EVERY = 30.0
ORPHAN_AFTER = timedelta(seconds=60)
"""A stored payload this old and not in hand here was left by a crash (or is queued): take it."""
MAX_ATTEMPTS = 5
WAITING_IN_MEMORY = 1024
"""Payloads over the in-flight limit kept at hand (a few MB at most); beyond, read again."""


class DurableIntake:
    """Every accepted inbound payload is stored before it is acknowledged and marked handled
    (its body emptied) in the handling turn's own transaction where there is one: the one way
    in for WhatsApp's webhook and Telegram's (webhook and polling alike).

    The platform does not send a payload again after the acknowledgement, so a crash (or a stop
    that cannot drain) must not lose it: a sweep at start and every `sweep_every` seconds
    handles what is left, from this process or a dead one. A payload with a platform id
    (Telegram's `update_id`) is stored once however often it arrives, also after it was
    handled (until retention forgets it); WhatsApp's batches have none, and the message-level
    dedup makes a repeated handling harmless. At most `max_in_flight` payloads are in hand per
    process; a burst beyond waits, started as others finish: the first `WAITING_IN_MEMORY` of
    it with their payloads at hand, the rest in the database only (their ids in memory).
    """

    def __init__(
        self,
        db: Database,
        channel: str,
        handler: PayloadHandler,
        background: BackgroundWork,
        now: Callable[[], datetime],
        *,
        max_in_flight: int = MAX_IN_FLIGHT,
        orphan_after: timedelta = ORPHAN_AFTER,
        sweep_every: float = SWEEP_EVERY,
        metrics: Metrics | None = None,
    ) -> None:
        self.db = db
        self.channel = channel
        self.handler = handler
        self.background = background
        self.now = now
        self.max_in_flight = max_in_flight
        self.orphan_after = orphan_after
        """A stored payload this old and not in hand here was left by a crash (or is queued)."""
        self.sweep_every = sweep_every
        self.in_hand: set[int] = set()
        self.waiting: collections.deque[tuple[int, dict[str, Any] | None]] = collections.deque()
        """Stored payloads of this process over the limit, started as others finish: (id, the
        payload, or None when it is to be read again from the database)."""
        self.closing = False
        """Set at shutdown: what waits stays in the database for the next start."""
        self.metrics = metrics
        self.batch: list[tuple[bytes, dict[str, Any], str | None, asyncio.Future[bool]]] = []
        """Payloads of `accept` calls waiting for the next group commit."""
        self.committing: asyncio.Task[None] | None = None
        """The task storing the batches while there are any."""

    async def accept(
        self, body: bytes, payload: dict[str, Any], platform_id: str | None = None
    ) -> bool:
        """Store the raw body (before the acknowledgement) and handle the payload now if there
        is room. False when a payload with this `platform_id` was stored already (nothing more
        to do: whoever stored it, or the sweep, handles it).

        Group commit: the payloads of concurrent calls are stored in one transaction, the next
        one while the previous commits; each call returns once its own payload is committed."""
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.batch.append((body, payload, platform_id, done))
        if self.committing is None:
            self.committing = asyncio.ensure_future(self._commit_batches())
        return await done

    async def _commit_batches(self) -> None:
        """Store what `accept` queued, batch after batch, until nothing is queued."""
        try:
            while self.batch:
                batch, self.batch = self.batch, []
                try:
                    new = await self._store([(body, data, key) for body, data, key, _ in batch])
                except Exception as error:
                    for *_, done in batch:
                        if not done.done():
                            done.set_exception(error)
                    continue
                for is_new, (*_, done) in zip(new, batch, strict=True):
                    if not done.done():  # the request may have gone meanwhile
                        done.set_result(is_new)
        finally:
            self.committing = None

    async def accept_all(self, payloads: list[tuple[bytes, dict[str, Any], str | None]]) -> int:
        """`accept` for several payloads (a `getUpdates` batch) in one transaction, handled in
        their order; how many were new."""
        return sum(await self._store(payloads))

    async def _store(self, payloads: list[tuple[bytes, dict[str, Any], str | None]]) -> list[bool]:
        """Store `payloads` in one transaction, then start (or queue) the new ones in order;
        whether each was new."""
        now = self.now()
        async with self.db.transaction() as session:
            rows = await InboundPayloads(session).store_all(
                self.channel,
                [(body.decode("utf-8", "replace"), key) for body, _, key in payloads],
                now,
            )
        if self.metrics is not None:
            self.metrics.received.labels(self.channel).inc(sum(r is not None for r in rows))
        for row, (_, payload, _) in zip(rows, payloads, strict=True):
            if row is None:
                continue
            if len(self.in_hand) < self.max_in_flight and not self.closing:
                self._start(row, payload)
            else:
                kept = payload if len(self.waiting) < WAITING_IN_MEMORY else None
                self.waiting.append((row, kept))
        return [row is not None for row in rows]

    async def _next_waiting(self) -> None:
        """A slot came free: start the oldest payload this process left waiting."""
        while self.waiting and len(self.in_hand) < self.max_in_flight and not self.closing:
            stored, payload = self.waiting.popleft()
            if payload is not None:  # at hand (if another process took it meanwhile, the
                self._start(stored, payload)  # turn finds it handled and answers nothing)
                continue
            self.in_hand.add(stored)  # claimed here, so a sweep cannot take it meanwhile
            try:
                async with self.db.transaction() as session:
                    body = await InboundPayloads(session).body(stored)
            except Exception:
                self.in_hand.discard(stored)
                raise
            if body is None or self.closing:  # gone, or shutting down: the row stays for later
                self.in_hand.discard(stored)
                continue
            self._start(stored, json.loads(body))

    def _start(self, stored: int, payload: dict[str, Any]) -> None:
        self.in_hand.add(stored)
        self.background.start(self._handle(stored, payload))

    async def _handle(self, stored: int, payload: dict[str, Any]) -> None:
        started = self.now()
        try:
            settled = await self.handler(payload, stored)
        except Exception:
            log_failure(log, "an accepted %s payload failed; it stays for the sweep", self.channel)
            async with self.db.transaction() as session:
                gave_up = await InboundPayloads(session).count_failure(stored, MAX_ATTEMPTS)
            if gave_up:
                log.error("giving up on %s payload %d", self.channel, stored)
            return
        finally:
            self.in_hand.discard(stored)
        if not settled:
            async with self.db.transaction() as session:
                await InboundPayloads(session).settle(stored, self.now())
        if self.metrics is not None:
            self.metrics.handled.labels(self.channel).inc()
            took = (self.now() - started).total_seconds()
            self.metrics.handling.labels(self.channel).observe(took)
        await self._next_waiting()

    async def sweep(self, orphan_after: timedelta | None = None) -> int:
        """Start handling stored payloads nobody here has in hand (stored at least
        `orphan_after` ago, default `self.orphan_after`); how many were taken."""
        room = self.max_in_flight - len(self.in_hand)
        if room <= 0:
            return 0
        cutoff = self.now() - (self.orphan_after if orphan_after is None else orphan_after)
        limit = room + len(self.in_hand) + len(self.waiting)
        async with self.db.transaction() as session:
            rows = await InboundPayloads(session).received_before(self.channel, cutoff, limit)
        taken = 0
        mine = self.in_hand | {stored for stored, _ in self.waiting}
        for stored, body in rows:
            if stored not in mine and taken < room:
                self._start(stored, json.loads(body))
                taken += 1
        return taken

    async def sweep_forever(self, stop: asyncio.Event) -> None:
        """The periodic sweep (until `stop`)."""
        while not stop.is_set():
            try:
                await self.sweep()
            except Exception:
                log.exception("inbound sweep failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.sweep_every)
