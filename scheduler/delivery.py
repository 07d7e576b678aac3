"""Delivery workers: drain the outbox within each platform's limits, record every outcome.

Crash safety: a message is claimed (`sending`, with the worker, the time and a new claim token)
in one commit before it is sent, and `sent` in a commit right after the platform confirms it
(a group commit: sends ending while one runs share the next). A
worker killed between those two commits leaves the row `sending`; after the lease (default 60 s)
any worker sends it again. That is the only possible repeat: messages confirmed sent are never
sent again.

Exactly once otherwise: the pacing is asked before the claim, so a worker claims only what it
can send within `horizon`; a claimed message that would have to wait past `max_wait` (a pause
came meanwhile) is handed back unsent, so no lease runs out while a message waits for its turn.
Only the holder of the current claim (worker and token) may record the outcome; a worker whose
claim was taken over (it stalled past its lease) is told so and records nothing.

A turn's replies take the same path (`TurnDelivery`): written to the outbox already claimed by
the process that handled the turn, in the turn's own transaction, and sent by that process at
once; if it dies, a worker sends them once the claim's lease has run out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from core.clock import Clock
from core.failures import log_failure
from core.keyed_locks import KeyedLocks
from core.recruitment import QuietHours
from core.types import Button
from scheduler.ratelimit import RateLimiter
from storage.broadcasts import Broadcasts
from storage.db import Database
from storage.delivery_lock import DeliveryLock
from storage.files import FileStore
from storage.models import OutboxMessage
from storage.outbox import FORGET, Claim, Outbox

log = logging.getLogger(__name__)

DEFAULT_LEASE = timedelta(seconds=60)
"""How long a claim holds a row before another process may take it (the delivery lease)."""


class RateLimited(Exception):
    """The platform asked to slow down for `retry_after` seconds (Telegram 429, WA 130429);
    `chat_only` when it said the limit is this chat's (WA 131056), not the whole channel's;
    `unscoped` when it did not say whose (Telegram): the pacing decides (`slow_down`)."""

    def __init__(
        self,
        retry_after: float,
        detail: str = "",
        chat_only: bool = False,
        *,
        unscoped: bool = False,
    ) -> None:
        super().__init__(detail or f"rate limited for {retry_after}s")
        self.retry_after = retry_after
        self.chat_only = chat_only
        self.unscoped = unscoped


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
class Outcome:
    """What came of one send, recorded under the claim's fence: `sent`, `retry` (queued again
    in `retry_in` seconds), `failed` or `unreachable`."""

    state: str
    error: str | None = None
    platform_id: str | None = None
    retry_in: float = 0.0
    count_attempt: bool = True
    """False when the try does not count towards giving up (a rate limit, a send never made)."""
    slow_down: RateLimited | None = None
    """The platform's rate limit, for the pacing to honour."""


SendObserver = Callable[[str, Outcome], None]
"""Told each send attempt's channel and outcome (the process's metrics)."""


def worker_name(role: str = "") -> str:
    """This process's name as a claim holder (`host:pid`, with a role when it has several)."""
    name = f"{socket.gethostname()}:{os.getpid()}"
    return f"{name}:{role}" if role else name


class Dispatch:
    """One send of one claimed outbox row and the recording of its outcome: the rules the
    delivery worker and a turn's own sending share."""

    def __init__(
        self,
        db: Database,
        senders: dict[str, Sender],
        clock: Clock,
        files: FileStore,
        *,
        max_attempts: int,
        retry_base: float,
        observe: SendObserver | None = None,
    ) -> None:
        self.db = db
        self.senders = senders
        self.clock = clock
        self.files = files
        self.max_attempts = max_attempts
        self.retry_base = retry_base
        self.observe = observe

    async def outgoing(self, message: OutboxMessage) -> Outgoing:
        """What the sender needs of a row (the file's bytes read from the store)."""
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

    async def attempt(self, message: OutboxMessage) -> Outcome:
        """Send the row once; what came of it (a transient error is retried with backoff until
        `max_attempts`, a rate limit waits as long as the platform asks), told to `observe`."""
        outcome = await self._attempt(message)
        if self.observe is not None:
            self.observe(message.channel, outcome)
        return outcome

    async def _attempt(self, message: OutboxMessage) -> Outcome:
        sender = self.senders.get(message.channel)
        if sender is None:
            return Outcome("failed", f"no sender for {message.channel}")
        try:
            platform_id = await sender.send(await self.outgoing(message))
        except RateLimited as slow_down:
            return Outcome(
                "retry",
                str(slow_down),
                retry_in=slow_down.retry_after,
                count_attempt=False,
                slow_down=slow_down,
            )
        except Unreachable as error:
            return Outcome("unreachable", str(error))
        except PermanentFailure as error:
            return Outcome("failed", str(error))
        except (TemporaryFailure, OSError) as error:
            if message.attempts >= self.max_attempts:
                return Outcome("failed", f"{error} (after {message.attempts} tries)")
            backoff = min(300.0, self.retry_base**message.attempts)
            log.warning(
                "message %d to %s failed (%s); retry %d in %.0f s",
                message.id,
                message.channel,
                error,
                message.attempts,
                backoff,
            )
            return Outcome("retry", str(error), retry_in=backoff)
        return Outcome("sent", platform_id=platform_id)

    async def record(self, message: OutboxMessage, outcome: Outcome) -> bool:
        """Record the outcome if this row's claim still holds it (else log, record nothing).
        A sent row with a `track` becomes what it tracks (a broadcast's progress message)."""
        return await self.record_each([(message, outcome)])

    async def record_each(self, outcomes: Sequence[tuple[OutboxMessage, Outcome]]) -> bool:
        """`record` for several rows, each with its own outcome, in one transaction; False if
        any claim was lost. A row tracked `forget` is deleted once its sending is over."""
        now = self.clock.now()
        lost: list[tuple[Claim, str]] = []
        forgotten = False
        plain, rest = _plainly_sent(outcomes)
        async with self.db.transaction() as session:
            outbox = Outbox(session)
            for (holder, token), sent in plain.items():
                ids = {message.id: outcome.platform_id for message, outcome in sent}
                held = set(ids)
                if await outbox.mark_all_sent(holder, token, ids, now) < len(ids):
                    held = await outbox.sent_under(list(ids), holder, token)
                    lost += [(Claim.of(m), "sent") for m, _ in sent if m.id not in held]
                for message, outcome in sent:
                    broadcast = _tracked_broadcast(message)
                    if message.id in held and broadcast is not None and outcome.platform_id:
                        await Broadcasts(session).show_progress_in(
                            broadcast, message.channel, message.recipient, outcome.platform_id
                        )
            for message, outcome in rest:
                claim = Claim.of(message)
                if message.track == FORGET and outcome.state != "retry":
                    recorded = await outbox.forget(claim)
                    forgotten = forgotten or recorded
                elif outcome.state == "retry":
                    later = now + timedelta(seconds=outcome.retry_in)
                    recorded = await outbox.retry_later(
                        claim, later, outcome.error, outcome.count_attempt
                    )
                else:
                    recorded = await outbox.give_up(claim, outcome.state, outcome.error or "")
                if not recorded:
                    lost.append((claim, outcome.state))
        if forgotten:
            await self.db.forget_history()
        for claim, state in lost:
            _lost(claim, state)
        return not lost


def _plainly_sent(
    outcomes: Sequence[tuple[OutboxMessage, Outcome]],
) -> tuple[
    dict[tuple[str, int], list[tuple[OutboxMessage, Outcome]]],
    list[tuple[OutboxMessage, Outcome]],
]:
    """The rows sent and kept, by claim holder and token (one UPDATE each), and the other
    outcomes (a retry, a failure, a row to forget once its sending is over)."""
    plain: dict[tuple[str, int], list[tuple[OutboxMessage, Outcome]]] = {}
    rest: list[tuple[OutboxMessage, Outcome]] = []
    for message, outcome in outcomes:
        if outcome.state == "sent" and message.track != FORGET:
            key = (message.claimed_by or "", message.claim_token)
            plain.setdefault(key, []).append((message, outcome))
        else:
            rest.append((message, outcome))
    return plain, rest


def _tracked_broadcast(message: OutboxMessage) -> int | None:
    """The broadcast whose progress a row (`track` = `broadcast:12`) is to show, if any."""
    kind, _, key = (message.track or "").partition(":")
    return int(key) if kind == "broadcast" and key.isdigit() else None


def _lost(claim: Claim, outcome: str) -> None:
    """Another claim took the row over (this one outlived its lease): nothing was recorded."""
    log.warning(
        "%s lost its claim %d of message %d (taken over after the lease); "
        "its outcome (%s) is not recorded",
        claim.holder,
        claim.token,
        claim.message_id,
        outcome,
    )


class GroupRecorder:
    """Records the outcomes of many turns' sends in one transaction (a group commit): whoever
    comes while a commit is running waits for the next one, which takes all that came
    meanwhile. Alone, a turn commits at once; under load, one commit serves many turns."""

    def __init__(self, dispatch: Dispatch) -> None:
        self.dispatch = dispatch
        self.pending: list[tuple[list[tuple[OutboxMessage, Outcome]], asyncio.Future[None]]] = []
        self.committing: asyncio.Task[None] | None = None

    async def record(self, outcomes: list[tuple[OutboxMessage, Outcome]]) -> None:
        """Record these outcomes (raises what the commit raised: the rows stay for the
        worker)."""
        done = asyncio.get_running_loop().create_future()
        self.pending.append((outcomes, done))
        if self.committing is None:
            self.committing = asyncio.create_task(self._commit_all())
        await asyncio.shield(done)

    async def _commit_all(self) -> None:
        try:
            while self.pending:
                batch, self.pending = self.pending, []
                error: Exception | None = None
                try:
                    await self.dispatch.record_each([one for each, _ in batch for one in each])
                except Exception as failure:
                    error = failure
                for _, done in batch:
                    if done.done():
                        continue
                    if error is None:
                        done.set_result(None)
                    else:
                        done.set_exception(error)
        finally:
            self.committing = None


class TurnDelivery:
    """Sends a turn's replies at once, from the process that handled the turn.

    The replies were written to the outbox in the turn's own transaction, claimed by this
    process (`holder`). They go out here in order, each recorded under its claim. A reply that
    must wait (a rate limit, a transient error) goes back to the queue with the rest of its turn
    behind it at the same time, for the worker to send in order; a permanent failure gives up
    that reply only and the rest still goes; a blocked chat gives up the rest too. If this
    process dies, the worker sends what is still claimed once the lease has run out, so replies
    are not paced here (they answer someone who just wrote) but never wait past a quarter of
    the lease either: what is left then is handed to the worker.
    """

    def __init__(
        self,
        db: Database,
        senders: dict[str, Sender],
        clock: Clock,
        files: FileStore,
        *,
        holder: str | None = None,
        lease: timedelta = DEFAULT_LEASE,
        max_attempts: int = 5,
        retry_base: float = 2.0,
        observe: SendObserver | None = None,
    ) -> None:
        self.dispatch = Dispatch(
            db,
            senders,
            clock,
            files,
            max_attempts=max_attempts,
            retry_base=retry_base,
            observe=observe,
        )
        self.recorder = GroupRecorder(self.dispatch)
        self.clock = clock
        self.holder = holder or worker_name("turns")
        self.lease = lease
        self.chats = KeyedLocks()
        """One lock per chat with replies in hand here, so two turns of one chat go out one
        after the other."""

    async def send(self, messages: Sequence[OutboxMessage]) -> None:
        """Send one turn's claimed replies (all to one chat); never raises: what could not be
        sent or recorded stays in the outbox for the worker."""
        if not messages:
            return
        try:
            async with self.chats.hold((messages[0].channel, messages[0].recipient)):
                await self._send_in_order(messages)
        except Exception:
            log_failure(log, "a turn's replies could not all be sent; the worker takes the rest")

    async def _send_in_order(self, messages: Sequence[OutboxMessage]) -> None:
        """Send one after the other and record every outcome at the end, with those of other
        turns ending meanwhile (`GroupRecorder`: the window of a kill is these sends)."""
        outcomes: list[tuple[OutboxMessage, Outcome]] = []
        try:
            for index, message in enumerate(messages):
                if not self._still_ours(message):
                    wait = Outcome("retry", count_attempt=False)
                    outcomes += [(rest, wait) for rest in messages[index:]]
                    return
                outcome = await self.dispatch.attempt(message)
                outcomes.append((message, outcome))
                rest = messages[index + 1 :]
                if outcome.state == "retry":
                    later = Outcome("retry", retry_in=outcome.retry_in, count_attempt=False)
                    outcomes += [(each, later) for each in rest]
                    return
                if outcome.state == "unreachable":
                    outcomes += [(each, outcome) for each in rest]
                    return
        finally:
            if outcomes:
                await self.recorder.record(outcomes)

    def _still_ours(self, message: OutboxMessage) -> bool:
        """Claimed less than a quarter of the lease ago: far from the moment a worker may take
        it over (a turn that waited long for the database, or a send that hung, hands the rest
        of its replies to the worker instead of racing it)."""
        claimed_at = message.claimed_at
        age = self.clock.now() - claimed_at if claimed_at is not None else self.lease
        return age < self.lease / 4


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
        lease: timedelta = DEFAULT_LEASE,
        concurrency: int = 16,
        max_attempts: int = 5,
        retry_base: float = 2.0,
        idle_wait: float = 1.0,
        report: ProgressReporter | None = None,
        exclusive: bool = False,
        standby_wait: float = 2.0,
        recipient: str | None = None,
        observe: SendObserver | None = None,
        progress_every: float = 1.0,
        stop_grace: float | None = None,
        shards: int = 1,
    ) -> None:
        self.db = db
        self.senders = senders
        self.stop_grace = stop_grace
        """Seconds the sends in flight get once `run` is told to stop (None: unbounded)."""
        self.dispatch = Dispatch(
            db,
            senders,
            clock,
            files,
            max_attempts=max_attempts,
            retry_base=retry_base,
            observe=observe,
        )
        self.recorder = GroupRecorder(self.dispatch)
        """Outcomes are confirmed together: sends ending while a commit runs share the next."""
        self.shards = shards if exclusive else 1
        """Sending workers sharing each channel, each holding one shard of its chats
        (`DeliveryLock`): each paces at the channel's rate divided by them."""
        self.limiters = {
            channel: RateLimiter(limit.rate / self.shards, limit.per_chat, clock)
            for channel, limit in limits.items()
        }
        self.clock = clock
        self.quiet_hours = quiet_hours
        self.name = name or worker_name()
        self.lease = lease
        self.concurrency = concurrency
        self.idle_wait = idle_wait
        self.report = report
        self.progress_every = progress_every
        """The broadcasts' progress is recounted at most this often (seconds), and whenever
        no send is in flight (so the last one of a broadcast is always counted)."""
        self._progress_due: set[int] = set()
        self._progress_at = -math.inf
        self.locks = (
            {channel: DeliveryLock(db, channel, self.shards) for channel in senders}
            if exclusive
            else {}
        )
        """With `exclusive`, a channel (or a shard of it) is sent by whichever worker holds its
        lock."""
        self.standby_wait = standby_wait
        self.recipient = recipient
        """When set, only the messages to this chat are claimed (a terminal session's own)."""
        lease_seconds = lease.total_seconds()
        self.horizon = min(1.0, lease_seconds / 10)
        """A claim takes only what the pacing lets start within this many seconds."""
        self.max_wait = lease_seconds / 4
        """A claimed message waits at most this long for its turn, else it is handed back."""

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop` is set (then finish the messages in hand, for `stop_grace`
        seconds at most: a send still running then is cancelled, its claim left to run out).

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
                    finished = [in_flight.pop(task) for task in done]
                    await self._finished(finished, done, settled=not in_flight)
                elif not claimed:
                    await self._idle(stop, wait)
        finally:
            if in_flight:
                done, pending = await asyncio.wait(in_flight, timeout=self.stop_grace)
                for task in pending:
                    task.cancel()
                if pending:
                    log.warning("worker %s: %d sends cut at the stop", self.name, len(pending))
                    await asyncio.wait(pending)
                await self._finished(list(in_flight.values()), done | pending, settled=True)
            for lock in self.locks.values():
                await lock.release()

    async def _finished(
        self, messages: list[OutboxMessage], tasks: set[asyncio.Task[None]], settled: bool
    ) -> None:
        """Log what failed unexpectedly and refresh the progress of the broadcasts concerned
        (`settled`: no send is in flight any more)."""
        for task in tasks:
            if not task.cancelled() and task.exception() is not None:
                log_failure(log, "a send failed unexpectedly", error=task.exception())
        await self._progress({m.broadcast_id for m in messages if m.broadcast_id}, settled)

    async def _progress(self, broadcast_ids: set[int], settled: bool) -> None:
        """Recount these broadcasts' progress, at most every `progress_every` seconds (a
        GROUP BY over the broadcast's rows), and always once no send is in flight: the count
        after a broadcast's last send is exact."""
        if self.report is None:
            return
        self._progress_due |= broadcast_ids
        now = self.clock.monotonic()
        if self._progress_due and (settled or now - self._progress_at >= self.progress_every):
            due, self._progress_due = self._progress_due, set()
            self._progress_at = now
            await self.report.update(due)

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
                    shard=self._shard(channel),
                )
        return claimed

    def _shard(self, channel: str) -> tuple[int, int] | None:
        """The shard of `channel` this worker sends (index, count), None when not sharded."""
        lock = self.locks.get(channel)
        return (lock.shard, self.shards) if lock is not None and self.shards > 1 else None

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
        await self._progress({m.broadcast_id for m in claimed if m.broadcast_id}, settled=True)
        return len(claimed)

    async def _deliver(self, message: OutboxMessage, deadline: float) -> None:
        """Wait for the message's turn (until `deadline` at most), send it, record the outcome."""
        limiter = self.limiters.get(message.channel)
        if limiter is None:
            failed = Outcome("failed", f"no sender for {message.channel}")
            await self.recorder.record([(message, failed)])
            return
        async with limiter.chat_turn(message.recipient):
            await self._send(message, limiter, deadline)

    async def _send(self, message: OutboxMessage, limiter: RateLimiter, deadline: float) -> None:
        """Send in this chat's turn and record what came of it (under the claim's fence, in a
        commit shared with the sends that end meanwhile)."""
        if not await limiter.wait_turn(message.recipient, deadline):
            wait = limiter.delay(message.recipient)
            later = Outcome("retry", retry_in=wait, count_attempt=False)
            await self.recorder.record([(message, later)])
            return
        outcome = await self.dispatch.attempt(message)
        slow_down = outcome.slow_down
        if slow_down is not None and slow_down.unscoped:
            limiter.slow_down(slow_down.retry_after, message.recipient)
        elif slow_down is not None:
            limiter.pause(slow_down.retry_after, message.recipient if slow_down.chat_only else None)
        elif outcome.state == "unreachable":
            limiter.refund()  # refused at once: nothing was delivered
        await self.recorder.record([(message, outcome)])
