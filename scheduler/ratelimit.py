"""Pacing sends within a platform's limits: an overall rate, one chat's rate, and pauses."""

from __future__ import annotations

import asyncio

from core.clock import Clock


class RateLimiter:
    """Spaces sends evenly at `rate` per second overall and `per_chat` per second per chat.

    A platform's "slow down" (HTTP 429 retry_after) pauses everything for that long. Time is
    measured and waited on `clock` (a test's clock makes the pacing exact and instant).
    """

    def __init__(self, rate: float, per_chat: float = 1.0, clock: Clock | None = None) -> None:
        self.clock = clock or Clock()
        self.interval = 1.0 / rate
        self.chat_interval = 1.0 / per_chat
        self._next = 0.0
        self._next_by_chat: dict[str, float] = {}
        self._paused_until = 0.0
        self._turn = asyncio.Lock()

    def pause(self, seconds: float) -> None:
        """Send nothing for `seconds` (the platform asked us to wait)."""
        self._paused_until = max(self._paused_until, self.clock.monotonic() + seconds)

    async def wait_turn(self, chat: str) -> None:
        """Return when a message to `chat` may go out; reserves that slot.

        Waiters are served in call order (an asyncio.Lock is first come, first served), so none
        is overtaken by later ones and waits past its lease; the overall spacing is measured
        from the moment of the previous send, so a late wake-up never makes a burst.
        """
        now = self.clock.monotonic()
        chat_start = max(now, self._next_by_chat.get(chat, 0.0))
        self._next_by_chat[chat] = chat_start + self.chat_interval  # this chat's turn is taken
        if len(self._next_by_chat) > 10_000:
            self._forget_old(now)
        if chat_start > now:
            await self.clock.sleep(chat_start - now)
        async with self._turn:
            while True:
                now = self.clock.monotonic()
                start = max(now, self._next, self._paused_until)
                if start <= now:
                    self._next = now + self.interval
                    return
                await self.clock.sleep(start - now)

    def _forget_old(self, now: float) -> None:
        self._next_by_chat = {chat: t for chat, t in self._next_by_chat.items() if t > now}
