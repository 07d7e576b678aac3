"""Pacing sends within a platform's limits: an overall rate, one chat's rate, and pauses.

The worker asks before it claims (`capacity`, `held_chats`) so that it only takes rows it can
send now; a claimed row then waits for its turn (`wait_turn`) at most until a deadline well
inside its lease, and is handed back instead when a pause pushes it further.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import AsyncIterator

from core.clock import Clock


class RateLimiter:
    """Spaces sends evenly at `rate` per second overall and `per_chat` per second per chat.

    A platform's "slow down" (HTTP 429 retry_after) pauses the channel, or only that chat when
    the platform says the limit is the chat's, for that long. Time is measured and waited on
    `clock` (a test's clock makes the pacing exact and instant).
    """

    def __init__(self, rate: float, per_chat: float = 1.0, clock: Clock | None = None) -> None:
        self.clock = clock or Clock()
        self.interval = 1.0 / rate
        self.chat_interval = 1.0 / per_chat
        self._next = 0.0
        self._next_by_chat: dict[str, float] = {}
        self._paused_until = 0.0
        self._chat_paused_until: dict[str, float] = {}
        self._waiting = 0
        """Sends that were claimed and have not taken their overall slot yet."""
        self._turn = asyncio.Lock()
        self._chat_turns: dict[str, tuple[asyncio.Lock, int]] = {}
        """Per chat: the lock its sends take one at a time, and how many hold or want it."""

    @contextlib.asynccontextmanager
    async def chat_turn(self, chat: str) -> AsyncIterator[None]:
        """One message to `chat` at a time, in the order they asked (claim order): the next
        waits until the platform answered the previous one (and a pause it brought is set)."""
        lock, users = self._chat_turns.get(chat, (asyncio.Lock(), 0))
        self._chat_turns[chat] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._chat_turns[chat]
            if users == 1:
                del self._chat_turns[chat]
            else:
                self._chat_turns[chat] = (lock, users - 1)

    def pause(self, seconds: float, chat: str | None = None) -> None:
        """Send nothing (to `chat`, or at all) for `seconds`: the platform asked us to wait."""
        until = self.clock.monotonic() + seconds
        if chat is None:
            self._paused_until = max(self._paused_until, until)
        else:
            self._chat_paused_until[chat] = max(self._chat_paused_until.get(chat, 0.0), until)

    def capacity(self, horizon: float) -> int:
        """How many more sends may start within `horizon` seconds (those already waiting
        counted): what a worker may claim now."""
        now = self.clock.monotonic()
        if self._paused_until > now:
            return 0
        start = max(now, self._next)
        return max(0, math.floor((now + horizon - start) / self.interval) + 1 - self._waiting)

    def per_chat_batch(self, horizon: float) -> int:
        """How many messages to one chat may start within `horizon` seconds."""
        return max(1, math.floor(horizon / self.chat_interval))

    def held_chats(self, horizon: float) -> set[str]:
        """The chats that may not get a message now (paused) or within `horizon` (paced)."""
        now = self.clock.monotonic()
        held = {chat for chat, at in self._next_by_chat.items() if at > now + horizon}
        return held | {chat for chat, at in self._chat_paused_until.items() if at > now}

    def delay(self, chat: str) -> float:
        """Seconds until a message to `chat` could start, as things stand."""
        now = self.clock.monotonic()
        start = max(
            now,
            self._next,
            self._paused_until,
            self._next_by_chat.get(chat, 0.0),
            self._chat_paused_until.get(chat, 0.0),
        )
        return start - now

    def next_release(self) -> float | None:
        """Seconds until the first held chat or the paused channel may send again, if any."""
        now = self.clock.monotonic()
        times = [self._paused_until, *self._next_by_chat.values()]
        times += self._chat_paused_until.values()
        later = [at - now for at in times if at > now]
        return min(later) if later else None

    async def wait_turn(self, chat: str, deadline: float = math.inf) -> bool:
        """Wait until a message to `chat` may go out and take that slot; False (send nothing)
        when that moment is after `deadline` (monotonic) or the platform paused this chat or
        the channel meanwhile: the message is then handed back, to go after the pause in
        its place in the queue (a pause never lets a later message of a chat overtake it).

        Waiters are served in call order (an asyncio.Lock is first come, first served), so none
        is overtaken by later ones; the overall spacing is measured from the moment of the
        previous send, so a late wake-up never makes a burst.
        """
        now = self.clock.monotonic()
        chat_start = max(now, self._next_by_chat.get(chat, 0.0))
        if self._paused(chat, now) or chat_start > deadline:
            return False
        self._next_by_chat[chat] = chat_start + self.chat_interval  # this chat's turn is taken
        if len(self._next_by_chat) > 10_000:
            self._forget_old(now)
        self._waiting += 1
        try:
            if chat_start > now:
                await self.clock.sleep(chat_start - now)
            async with self._turn:
                while True:
                    now = self.clock.monotonic()
                    start = max(now, self._next)
                    if self._paused(chat, now) or start > deadline:
                        return False
                    if start <= now:
                        self._next = now + self.interval
                        return True
                    await self.clock.sleep(start - now)
        finally:
            self._waiting -= 1

    def _paused(self, chat: str, now: float) -> bool:
        return max(self._paused_until, self._chat_paused_until.get(chat, 0.0)) > now

    def _forget_old(self, now: float) -> None:
        self._next_by_chat = {chat: t for chat, t in self._next_by_chat.items() if t > now}
        self._chat_paused_until = {
            chat: t for chat, t in self._chat_paused_until.items() if t > now
        }
