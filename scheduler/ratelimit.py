"""Pacing sends within a platform's limits: an overall rate, one chat's rate, and pauses."""

from __future__ import annotations

import asyncio
import time


class RateLimiter:
    """Spaces sends evenly at `rate` per second overall and `per_chat` per second per chat.

    A platform's "slow down" (HTTP 429 retry_after) pauses everything for that long.
    """

    def __init__(self, rate: float, per_chat: float = 1.0) -> None:
        self.interval = 1.0 / rate
        self.chat_interval = 1.0 / per_chat
        self._next = 0.0
        self._next_by_chat: dict[str, float] = {}
        self._paused_until = 0.0

    def pause(self, seconds: float) -> None:
        """Send nothing for `seconds` (the platform asked us to wait)."""
        self._paused_until = max(self._paused_until, time.monotonic() + seconds)

    async def wait_turn(self, chat: str) -> None:
        """Return when a message to `chat` may go out; reserves that slot."""
        while True:
            now = time.monotonic()
            start = max(now, self._next, self._paused_until, self._next_by_chat.get(chat, 0.0))
            if start <= now:
                self._next = now + self.interval
                self._next_by_chat[chat] = now + self.chat_interval
                if len(self._next_by_chat) > 10_000:
                    self._forget_old(now)
                return
            await asyncio.sleep(start - now)

    def _forget_old(self, now: float) -> None:
        self._next_by_chat = {chat: t for chat, t in self._next_by_chat.items() if t > now}
