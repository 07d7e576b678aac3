"""One way out: a turn's replies are outbox rows written in the turn's own transaction, claimed
by the process that handled it and sent by it at once; what it cannot send goes to the worker,
in order, and nothing goes twice."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event, select

from core.clock import FrozenClock
from core.types import Channel, Incoming
from handlers.conversation import Conversation
from handlers.flow import Dependencies
from scheduler.delivery import (
    ChannelLimits,
    DeliveryWorker,
    Outgoing,
    PermanentFailure,
    RateLimited,
    TemporaryFailure,
    TurnDelivery,
    Unreachable,
)
from storage.db import Database
from storage.inbound import InboundPayloads
from storage.models import InboundPayload, OutboxMessage
from storage.outbox import Outbox
from tests.chat import ELIGIBLE_CHOICES, Chat

USER = "5001"
LEASE = timedelta(seconds=60)


class ScriptedSender:
    """Shows what reached the 'platform'; the n-th send (from 0) raises `failures[n]`."""

    def __init__(self, failures: dict[int, Exception] | None = None) -> None:
        self.failures = failures or {}
        self.calls = 0
        self.delivered: list[str] = []
        self.messages: list[Outgoing] = []

    async def send(self, message: Outgoing) -> str | None:
        call, self.calls = self.calls, self.calls + 1
        if call in self.failures:
            raise self.failures[call]
        self.delivered.append(message.text)
        self.messages.append(message)
        return f"m{call}"

    async def edit(self, recipient: str, message_id: str, text: str) -> None:
        raise AssertionError("replies are never edited")


def _start() -> Incoming:
    return Incoming(channel=Channel.TELEGRAM, user_id=USER, text="/start", dedup_key="77")


def _replies(conversation: Conversation, sender: ScriptedSender) -> TurnDelivery:
    deps = conversation.deps
    return TurnDelivery(
        conversation.db, {"telegram": sender}, deps.clock, deps.files, holder="bot-1", lease=LEASE
    )


def _worker(conversation: Conversation, sender: ScriptedSender) -> DeliveryWorker:
    deps = conversation.deps
    return DeliveryWorker(
        conversation.db,
        {"telegram": sender},
        {"telegram": ChannelLimits(rate=100, per_chat=100)},
        deps.clock,
        deps.config.quiet_hours,
        deps.files,
        name="worker-1",
        lease=LEASE,
    )


async def _rows(conversation: Conversation) -> list[OutboxMessage]:
    async with conversation.db.transaction() as session:
        query = select(OutboxMessage).order_by(OutboxMessage.id)
        return list((await session.execute(query)).scalars())


async def _answer(conversation: Conversation, replies: TurnDelivery) -> list[str]:
    """Handle /start durably (without sending yet); the texts of its replies, in order."""
    answered = await conversation.handle(_start(), send_as=replies.holder)
    assert len(answered.queued) >= 2, "a first /start is answered with several messages"
    return [row.text for row in answered.queued]


async def test_the_replies_are_in_the_outbox_claimed_before_anything_is_sent(
    conversation: Conversation,
) -> None:
    sender = ScriptedSender()
    replies = _replies(conversation, sender)
    answered = await conversation.handle(_start(), send_as=replies.holder)
    rows = await _rows(conversation)
    assert [row.text for row in rows] == [reply.text for reply in answered.replies]
    assert {(row.state, row.claimed_by, row.recipient, row.urgent) for row in rows} == {
        ("sending", "bot-1", USER, True)
    }
    await replies.send(answered.queued)
    assert sender.delivered == [reply.text for reply in answered.replies]
    assert {row.state for row in await _rows(conversation)} == {"sent"}


async def test_a_redelivered_update_writes_no_second_answer(conversation: Conversation) -> None:
    replies = _replies(conversation, ScriptedSender())
    first = await conversation.handle(_start(), send_as=replies.holder)
    again = await conversation.handle(_start(), send_as=replies.holder)
    assert first.queued and not again.queued
    assert len(await _rows(conversation)) == len(first.queued)


async def test_a_transient_error_hands_the_rest_of_the_turn_to_the_worker_in_order(
    conversation: Conversation, clock: FrozenClock
) -> None:
    sender = ScriptedSender({1: TemporaryFailure("502 Bad Gateway")})
    replies = _replies(conversation, sender)
    texts = await _answer(conversation, replies)
    await replies.send(await _claimed(conversation))
    assert sender.delivered == texts[:1]
    waiting = [row for row in await _rows(conversation) if row.state == "queued"]
    assert [row.text for row in waiting] == texts[1:]
    assert len({row.not_before for row in waiting}) == 1  # they keep their order
    clock.advance(timedelta(seconds=5))
    worker = _worker(conversation, sender)
    while await worker.drain_once():
        pass
    assert sender.delivered == texts  # each once, in order


async def test_a_permanent_failure_gives_up_that_reply_and_the_rest_still_goes(
    conversation: Conversation,
) -> None:
    sender = ScriptedSender({0: PermanentFailure("400 Bad Request: message is too long")})
    replies = _replies(conversation, sender)
    texts = await _answer(conversation, replies)
    await replies.send(await _claimed(conversation))
    assert sender.delivered == texts[1:]
    states = [row.state for row in await _rows(conversation)]
    assert states == ["failed"] + ["sent"] * (len(texts) - 1)


async def test_a_blocked_chat_gives_up_the_whole_turn_with_one_try(
    conversation: Conversation,
) -> None:
    sender = ScriptedSender({0: Unreachable("403 Forbidden: bot was blocked by the user")})
    replies = _replies(conversation, sender)
    await _answer(conversation, replies)
    await replies.send(await _claimed(conversation))
    assert sender.calls == 1
    assert {row.state for row in await _rows(conversation)} == {"unreachable"}


async def test_a_long_retry_after_requeues_the_turn_without_a_second_send(
    conversation: Conversation, clock: FrozenClock
) -> None:
    sender = ScriptedSender({0: RateLimited(65.0, "429 Too Many Requests")})
    replies = _replies(conversation, sender)
    texts = await _answer(conversation, replies)
    await replies.send(await _claimed(conversation))
    worker = _worker(conversation, sender)
    clock.advance(timedelta(seconds=64))
    assert await worker.drain_once() == 0  # not before the platform said
    clock.advance(timedelta(seconds=2))
    while await worker.drain_once():
        pass
    assert sender.delivered == texts


async def test_replies_of_a_process_that_died_go_out_from_the_worker_after_the_lease(
    conversation: Conversation, clock: FrozenClock
) -> None:
    sender = ScriptedSender()
    texts = await _answer(conversation, _replies(conversation, sender))  # never sent: it died
    worker = _worker(conversation, sender)
    clock.advance(LEASE - timedelta(seconds=1))
    assert await worker.drain_once() == 0  # the claim still holds them
    clock.advance(timedelta(seconds=2))
    while await worker.drain_once():
        pass
    assert sender.delivered == texts


@pytest.mark.parametrize("failing", [False, True])
async def test_the_stored_update_is_settled_by_the_turn_that_answers_it_once(
    conversation: Conversation, failing: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    db, now = conversation.db, conversation.deps.clock.now()
    async with db.transaction() as session:
        stored = await InboundPayloads(session).store("telegram", "{}", now, "77")
    assert stored is not None
    if failing:  # the turn breaks: its apology settles the update instead

        async def broken(*args: object) -> None:
            raise RuntimeError("boom")

        monkeypatch.setattr(conversation, "_handle", broken)
    replies = _replies(conversation, ScriptedSender())
    answered = await conversation.handle(_start(), send_as=replies.holder, inbound_id=stored)
    assert answered.queued
    async with db.transaction() as session:
        left = (await session.execute(select(InboundPayload))).scalars().all()
    assert [(row.handled_at, row.body) for row in left] == [(now, "")]
    # handled again (a sweep racing the turn, a process that did not see it end): no answer
    monkeypatch.undo()
    again = await conversation.handle(_start(), send_as=replies.holder, inbound_id=stored)
    assert again.replies == [] and again.queued == []


async def _claimed(conversation: Conversation) -> list[OutboxMessage]:
    return [row for row in await _rows(conversation) if row.state == "sending"]


async def test_a_turn_of_text_buttons_and_files_is_one_insert_in_order(
    any_db: Database, clock: FrozenClock
) -> None:
    rows = [
        {"channel": "telegram", "recipient": USER, "text": "Dokumen:", "dedup_key": "turn:x:0"},
        {
            "channel": "telegram",
            "recipient": USER,
            "text": "Pilih:",
            "dedup_key": "turn:x:1",
            "buttons": [{"id": "menu:status", "label": "Status"}],
            "track": "broadcast:1",
        },
        {
            "channel": "telegram",
            "recipient": USER,
            "text": "KTP",
            "dedup_key": "turn:x:2",
            "file_path": "ab/abc.jpg",
            "file_name": "ktp.jpg",
            "file_mime_type": "image/jpeg",
        },
    ]
    async with any_db.transaction() as session:
        claimed = await Outbox(session).enqueue_claimed(rows, "bot-1", clock.now())
    async with any_db.transaction() as session:
        query = select(OutboxMessage).order_by(OutboxMessage.id)
        stored = list((await session.execute(query)).scalars())
    assert [row.id for row in claimed] == [row.id for row in stored]
    assert [row.text for row in stored] == ["Dokumen:", "Pilih:", "KTP"]
    assert [row.buttons for row in stored] == [
        None,
        [{"id": "menu:status", "label": "Status"}],
        None,
    ]
    assert [row.file_name for row in stored] == [None, None, "ktp.jpg"]
    assert {(row.state, row.claimed_by, row.claim_token) for row in stored} == {
        ("sending", "bot-1", 1)
    }


async def test_a_registration_turn_reads_its_chat_applicant_and_flag_in_one_select(
    any_db: Database, deps: Dependencies
) -> None:
    conversation = Conversation(any_db, deps)
    chat = Chat(conversation, USER)
    await chat.start_registration()
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement.split()[0].upper())

    event.listen(any_db.engine.sync_engine, "before_cursor_execute", seen)
    try:
        answered = await conversation.handle(
            Incoming(channel=Channel.TELEGRAM, user_id=USER, choice=ELIGIBLE_CHOICES[0]),
            send_as="bot-1",
        )
    finally:
        event.remove(any_db.engine.sync_engine, "before_cursor_execute", seen)
    assert answered.queued
    assert statements.count("SELECT") == 1, statements
