"""What a long-running process keeps per chat stays bounded however many chats it talked to
(issue 20: memory flat after the first thousand applicants; bench/memory.py measures RSS)."""

from __future__ import annotations

import uuid

from core.clock import FrozenClock
from core.types import Channel, Incoming
from handlers.conversation import Conversation
from handlers.flow import Dependencies
from scheduler.delivery import Outgoing, TurnDelivery
from scheduler.ratelimit import RateLimiter
from services.faq import stem
from storage.db import Database

FORGET_PAST = 10_000
"""RateLimiter forgets the chats whose pacing has passed once it knows this many."""


class Accepting:
    async def send(self, message: Outgoing) -> str | None:
        return uuid.uuid4().hex

    async def edit(self, recipient: str, message_id: str, text: str) -> None:
        pass


async def test_turn_delivery_keeps_no_lock_for_a_chat_it_is_done_with(
    db: Database, deps: Dependencies
) -> None:
    conversation = Conversation(db, deps)
    replies = TurnDelivery(db, {"telegram": Accepting()}, deps.clock, deps.files)
    sent = 0
    for user in range(30):
        incoming = Incoming(channel=Channel.TELEGRAM, user_id=str(5000 + user), text="/start")
        answered = await conversation.handle(incoming, send_as=replies.holder)
        await replies.send(answered.queued)
        sent += len(answered.queued)
    assert sent >= 30  # every chat was answered and its replies sent from here
    assert len(replies.chats) == 0


async def test_the_rate_limiter_forgets_chats_whose_pacing_has_passed(
    clock: FrozenClock,
) -> None:
    limiter = RateLimiter(rate=1000.0, per_chat=1.0, clock=clock)
    for chat in range(FORGET_PAST * 2 + 10):
        assert await limiter.wait_turn(str(chat))
    # each chat is paced for 1 s and 1,000 more sends took 1 s: what is older is forgotten
    assert len(limiter._next_by_chat) <= FORGET_PAST + 1
    assert len(limiter._chat_turns) == 0


def test_the_stem_cache_is_bounded() -> None:
    """Every word any applicant typed is stemmed once and cached: a bounded cache."""
    maxsize = stem.cache_info().maxsize
    assert maxsize is not None
    assert maxsize <= 20_000
