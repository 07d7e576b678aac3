"""Delivery workers: drain the outbox within each platform's limits, record every outcome.

Crash safety: a message is claimed (`sending`, with the worker, the time and a new claim token)
in one commit before it is sent, and `sent` in a commit right after the platform confirms it. A
worker killed between those two commits leaves the row `sending`; after the lease (default 60 s)
any worker sends it again. That is the only possible repeat: messages confirmed sent are never
sent again.

Exactly once otherwise: the pacing is asked before the claim, so a worker claims only what it
can send within `horizon`; a claimed message that would have to wait past `max_wait` (a pause
came meanwhile) is handed back unsent, so no lease runs out while a message waits for its turn.
Only the holder of the current claim (worker and token) may record the outcome; a worker whose
claim was taken over (it stalled past its lease) is told so and records nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from core.clock import Clock
from core.recruitment import QuietHours
from core.types import Button
from scheduler.ratelimit import RateLimiter
from storage.db import Database
from storage.delivery_lock import DeliveryLock
from storage.files import FileStore
from storage.models import OutboxMessage
from storage.outbox import Claim, Outbox

log = logging.getLogger(__name__)


class RateLimited(Exception):
    """The platform asked to slow down for `retry_after` seconds (Telegram 429, WA 130429);
    `chat_only` when it said the limit is this chat's (WA 131056), not the whole channel's."""

    def __init__(self, retry_after: float, detail: str = "", chat_only: bool = False) -> None:
        super().__init__(detail or f"rate limited for {retry_after}s")
        self.retry_after = retry_after
        self.chat_only = chat_only


class Unreachable(Exception):
    """The recipient cannot get messages (blocked the bot, no such chat): never retried."""


class TemporaryFailure(Exception):
    """A 5xx, a timeout, a dropped connection: retried with backoff."""


class PermanentFailure(Exception):
    """The platform refused this message for good (e.g. a bad request): not retried."""


@dataclass(frozen=True)
class Outgoing:
    """What a sender needs of an outbox row."""

    recipient: str
    text: str
    file: bytes | None = None
    file_name: str | None = None
    file_mime_type: str | None = None
    buttons: tuple[Button, ...] = ()
    """Shown under the (last part of the) message; a press reaches the conversation."""
    template_only: bool = False
    """Only the platform's approved template will do (WhatsApp, outside the 24-hour window)."""


class Sender(Protocol):
    """One platform's way of sending; raises the exceptions above."""

    async def send(self, message: Outgoing) -> str | None:
        """Send; returns the platform's message id."""
        ...

    async def edit(self, recipient: str, message_id: str, text: str) -> None:
        """Replace the text of a message sent earlier (progress reports)."""
        ...


class ProgressReporter(Protocol):
    """Told which broadcasts moved after each round (live progress, final report)."""

    async def update(self, broadcast_ids: set[int]) -> None:
        """Refresh what staff see of these broadcasts."""
        ...


@dataclass(frozen=True)
class ChannelLimits:
    """How fast one channel may send."""

    rate: float
    per_chat: float = 1.0


class DeliveryWorker:
    """Claims due outbox rows and sends them, `concurrency` at a time, paced per channel."""

    def __init__(
        self,
        db: Database,
        senders: dict[str, Sender],
        limits: dict[str, ChannelLimits],
        clock: Clock,
        quiet_hours: QuietHours,
        files: FileStore,
        *,
        name: str | None = None,
        lease: timedelta = timedelta(seconds=60),
        concurrency: int = 16,
        max_attempts: int = 5,
        retry_base: float = 2.0,
        idle_wait: float = 1.0,
        report: ProgressReporter | None = None,
        exclusive: bool = False,
        standby_wait: float = 2.0,
        recipient: str | None = None,
    ) -> None:
        self.db = db
        self.senders = senders
        self.limiters = {
            channel: RateLimiter(limit.rate, limit.per_chat, clock)
            for channel, limit in limits.items()
        }
        self.clock = clock
        self.quiet_hours = quiet_hours
        self.files = files
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self.lease = lease
        self.concurrency = concurrency
        self.max_attempts = max_attempts
        self.retry_base = retry_base
        self.idle_wait = idle_wait
        self.report = report
        self.locks = (
            {channel: DeliveryLock(db, channel) for channel in senders} if exclusive else {}
        )
        """With `exclusive`, a channel is sent by whichever worker holds its lock."""
        self.standby_wait = standby_wait
        self.recipient = recipient
        """When set, only the messages to this chat are claimed (a terminal session's own)."""
        lease_seconds = lease.total_seconds()
        self.horizon = min(1.0, lease_seconds / 10)
        """A claim takes only what the pacing lets start within this many seconds."""
        self.max_wait = lease_seconds / 4
        """A claimed message waits at most this long for its turn, else it is handed back."""

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop` is set (then finish the messages in hand).

        Up to `concurrency` sends are in flight; new rows are claimed as slots free up, so one
        slow answer holds one slot, not a whole round. When `exclusive`, this worker sends only
        the channels whose lock it holds; for the others it is a standby and takes over when
        their holder stops or dies.
        """
        standby: set[str] = set()
        in_flight: dict[asyncio.Task[None], OutboxMessage] = {}
        refill = max(1, self.concurrency // 4)
        try:
            while not stop.is_set():
                wait = self.idle_wait
                claimed: list[OutboxMessage] = []
                try:
                    channels = await self._channels_held()
                    waiting = set(self.senders) - set(channels)
                    for channel in waiting - standby:
                        log.info("worker %s: standby for %s", self.name, channel)
                    for channel in standby - waiting:
                        log.info("worker %s: now sending %s", self.name, channel)
                    standby = waiting
                    room = self.concurrency - len(in_flight)
                    if channels and (room >= refill or (room > 0 and not in_flight)):
                        claimed = await self._claim(channels, room)
                    if not channels:
                        wait = self.standby_wait
                except Exception:
                    log.exception("delivery round failed; trying again shortly")
                deadline = self.clock.monotonic() + self.max_wait
                for message in claimed:
                    task = asyncio.create_task(self._deliver(message, deadline))
                    in_flight[task] = message
                if in_flight:
                    done, _ = await asyncio.wait(
                        in_flight, timeout=wait, return_when=asyncio.FIRST_COMPLETED
                    )
                    await self._finished([in_flight.pop(task) for task in done], done)
                elif not claimed:
                    await self._idle(stop, wait)
        finally:
            if in_flight:
                done, _ = await asyncio.wait(in_flight)
                await self._finished(list(in_flight.values()), done)
            for lock in self.locks.values():
                await lock.release()

    async def _finished(
        self, messages: list[OutboxMessage], tasks: set[asyncio.Task[None]]
    ) -> None:
        """Log what failed unexpectedly and refresh the progress of the broadcasts concerned."""
        for task in tasks:
            if not task.cancelled() and task.exception() is not None:
                log.error("a send failed unexpectedly", exc_info=task.exception())
        if self.report is not None and messages:
            await self.report.update({m.broadcast_id for m in messages if m.broadcast_id})

    async def _idle(self, stop: asyncio.Event, wait: float) -> None:
        """Nothing was claimed: wait up to `wait` for `stop`, or, when the pacing holds a chat
        or the channel, until it lets go (on the worker's clock; a test's clock jumps)."""
        releases = [r for limiter in self.limiters.values() if (r := limiter.next_release())]
        if not releases:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), wait)
            return
        pacing = asyncio.ensure_future(self.clock.sleep(min(wait, *releases)))
        stopping = asyncio.ensure_future(stop.wait())
        await asyncio.wait((pacing, stopping), return_when=asyncio.FIRST_COMPLETED)
        for waiter in (pacing, stopping):
            waiter.cancel()

    async def _channels_held(self) -> list[str]:
        if not self.locks:
            return list(self.senders)
        return [channel for channel, lock in self.locks.items() if await lock.held()]

    async def _claim(self, channels: list[str], limit: int) -> list[OutboxMessage]:
        """Claim, per channel, only what its pacing lets start within `horizon` (at most
        `limit` in all): the chats it holds back are skipped, and each chat gets at most the
        messages its own rate lets through in that time."""
        now = self.clock.now()
        claimed: list[OutboxMessage] = []
        async with self.db.transaction() as session:
            outbox = Outbox(session)
            for channel in channels:
                limiter = self.limiters.get(channel)
                room = min(limit - len(claimed), 500)
                if limiter is not None:
                    room = min(room, limiter.capacity(self.horizon))
                if room <= 0:
                    continue
                per_chat = limiter.per_chat_batch(self.horizon) if limiter else room
                claimed += await outbox.claim(
                    self.name,
                    now,
                    room,
                    self.lease,
                    self.quiet_hours.is_quiet(now),
                    [channel],
                    self.recipient,
                    skip_recipients=limiter.held_chats(self.horizon) if limiter else (),
                    per_recipient=per_chat if per_chat < room else None,  # else no cap
                )
        return claimed

    async def drain_once(self, channels: list[str] | None = None) -> int:
        """Claim one batch (of `channels`, default: those with a sender: what their pacing lets
        start now), send all of it, and return how many messages were handled (tests and
        benchmarks step the queue this way; 0 also while the pacing holds every due chat)."""
        claimed = await self._claim(channels or list(self.senders), 1_000_000)
        if not claimed:
            return 0
        deadline = self.clock.monotonic() + self.max_wait
        gate = asyncio.Semaphore(self.concurrency)

        async def deliver(message: OutboxMessage) -> None:
            async with gate:
                await self._deliver(message, deadline)

        await asyncio.gather(*(deliver(message) for message in claimed))
        if self.report is not None:
            await self.report.update({m.broadcast_id for m in claimed if m.broadcast_id})
        return len(claimed)

    async def _deliver(self, message: OutboxMessage, deadline: float) -> None:
        """Wait for the message's turn (until `deadline` at most), send it, record the outcome."""
        claim = Claim.of(message)
        sender = self.senders.get(message.channel)
        limiter = self.limiters.get(message.channel)
        if sender is None or limiter is None:
            await self._record(claim, "failed", f"no sender for {message.channel}")
            return
        async with limiter.chat_turn(message.recipient):
            await self._send(message, claim, sender, limiter, deadline)

    async def _send(
        self,
        message: OutboxMessage,
        claim: Claim,
        sender: Sender,
        limiter: RateLimiter,
        deadline: float,
    ) -> None:
        """Send in this chat's turn and record what came of it (under the claim's fence)."""
        try:
            outgoing = await self._outgoing(message)
            if not await limiter.wait_turn(message.recipient, deadline):
                later = self.clock.now() + timedelta(seconds=limiter.delay(message.recipient))
                await self._record(claim, "retry", None, later, count_attempt=False)
                return
            platform_id = await sender.send(outgoing)
        except RateLimited as slow_down:
            limiter.pause(slow_down.retry_after, message.recipient if slow_down.chat_only else None)
            later = self.clock.now() + timedelta(seconds=slow_down.retry_after)
            await self._record(claim, "retry", str(slow_down), later, count_attempt=False)
        except Unreachable as error:
            await self._record(claim, "unreachable", str(error))
        except PermanentFailure as error:
            await self._record(claim, "failed", str(error))
        except (TemporaryFailure, OSError) as error:
            if message.attempts >= self.max_attempts:
                await self._record(claim, "failed", f"{error} (after {message.attempts} tries)")
            else:
                backoff = timedelta(seconds=min(300.0, self.retry_base**message.attempts))
                log.warning(
                    "message %d to %s failed (%s); retry %d in %.0f s",
                    message.id,
                    message.channel,
                    error,
                    message.attempts,
                    backoff.total_seconds(),
                )
                await self._record(claim, "retry", str(error), self.clock.now() + backoff)
        else:
            async with self.db.transaction() as session:
                recorded = await Outbox(session).mark_sent(claim, platform_id, self.clock.now())
            if not recorded:
                self._lost(claim, "sent")

    async def _outgoing(self, message: OutboxMessage) -> Outgoing:
        content = None
        if message.file_path:
            content = await asyncio.to_thread(self.files.read, message.file_path)
        buttons = tuple(Button(**button) for button in message.buttons or ())
        return Outgoing(
            message.recipient,
            message.text,
            content,
            message.file_name,
            message.file_mime_type,
            buttons,
            message.template_only,
        )

    async def _record(
        self,
        claim: Claim,
        outcome: str,
        error: str | None,
        not_before: datetime | None = None,
        count_attempt: bool = True,
    ) -> None:
        async with self.db.transaction() as session:
            outbox = Outbox(session)
            if not_before is not None:
                recorded = await outbox.retry_later(claim, not_before, error, count_attempt)
            else:
                recorded = await outbox.give_up(claim, outcome, error or "")
        if not recorded:
            self._lost(claim, outcome)

    def _lost(self, claim: Claim, outcome: str) -> None:
        """Another claim took the row over (this one outlived its lease): record nothing."""
        log.warning(
            "worker %s lost its claim %d of message %d (taken over after the lease); "
            "its outcome (%s) is not recorded",
            self.name,
            claim.token,
            claim.message_id,
            outcome,
        )
