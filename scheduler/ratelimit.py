"""Pacing sends within a platform's limits: an overall rate, one chat's rate, and pauses.

The worker asks before it claims (`capacity`, `held_chats`) so that it only takes rows it can
send now; a claimed row then waits for its turn (`wait_turn`) at most until a deadline well
inside its lease, and is handed back instead when a pause pushes it further.

The overall spacing keeps to a grid of `1 / rate` (a wake-up less than half an interval late
is caught up by the next slot, not carried over to every later send), and a sliding window
lets no more than `rate` sends (`WINDOW_SENDS` at most) start within one second plus a margin
(`margin`): the platform counts messages per second, and a grid alone would let timer jitter
put one message too many into some second.

Two rules keep a broadcast near the limit when some chats refuse or are flooded:

* A send the platform refused at once because the chat cannot get messages (blocked, 403)
  delivered nothing, so its slot is given back (`refund`): the next send may follow without
  waiting its interval. Telegram's limit is on messages (about 30 a second); a slot given
  back lapses after `REFUND_LAPSE` intervals, so it only fills the gap the refused send left.
* A 429 whose answer does not say whose limit it hit (Telegram's `retry_after` has no scope)
  holds that chat for `retry_after`; the whole channel pauses only when such 429s come from
  `SPREAD` different chats within a short window (`slow_down`): one flooded chat does not stop
  a broadcast, a real channel flood still does.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections import deque
from collections.abc import AsyncIterator

from core.clock import Clock
from core.keyed_locks import KeyedLocks

SPREAD = 3
"""429s without a scope from this many different chats, close together, pause the channel."""
WINDOW_SENDS = 1000
"""The sliding window counts at most this many sends (`rate` of them when the rate is lower)."""
REFUND_LAPSE = 2
"""Intervals a slot given back (`refund`) stays usable."""


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
        self._recent: deque[float] = deque(maxlen=max(1, min(math.ceil(rate), WINDOW_SENDS)))
        """When the last sends started: as many as the rate allows in `_span` seconds."""
        self._span = (self._recent.maxlen or 1) / rate
        self.margin = min(self.interval / 2, 0.02)
        """Seconds the window adds to `_span`: room for the network's jitter."""
        self._next_by_chat: dict[str, float] = {}
        self._paused_until = 0.0
        self._chat_paused_until: dict[str, float] = {}
        self._waiting = 0
        """Sends that were claimed and have not taken their overall slot yet."""
        self._refunds: deque[float] = deque()
        """When slots were given back (sends refused at once), oldest first."""
        self._unscoped: deque[tuple[float, str]] = deque()
        """Recent 429s without a scope: when, and to which chat."""
        self._turn = asyncio.Lock()
        self._chat_turns = KeyedLocks()
        """Per chat: the lock its sends take one at a time (while someone holds or wants it)."""

    @contextlib.asynccontextmanager
    async def chat_turn(self, chat: str) -> AsyncIterator[None]:
        """One message to `chat` at a time, in the order they asked (claim order): the next
        waits until the platform answered the previous one (and a pause it brought is set)."""
        async with self._chat_turns.hold(chat):
            yield

    def pause(self, seconds: float, chat: str | None = None) -> None:
        """Send nothing (to `chat`, or at all) for `seconds`: the platform asked us to wait."""
        until = self.clock.monotonic() + seconds
        if chat is None:
            self._paused_until = max(self._paused_until, until)
        else:
            self._chat_paused_until[chat] = max(self._chat_paused_until.get(chat, 0.0), until)

    def slow_down(self, seconds: float, chat: str) -> None:
        """A 429 that does not say whose limit it is: hold `chat` for `seconds`, and the whole
        channel too when such 429s came from `SPREAD` chats within the last few intervals."""
        now = self.clock.monotonic()
        self.pause(seconds, chat)
        window = max(1.0, 2 * SPREAD * self.interval)
        self._unscoped.append((now, chat))
        while self._unscoped[0][0] < now - window:
            self._unscoped.popleft()
        if len({flooded for _, flooded in self._unscoped}) >= SPREAD:
            self.pause(seconds)

    def refund(self) -> None:
        """Give back the slot of a send the platform refused at once (a blocked chat): the next
        send may go without waiting for it, within `REFUND_LAPSE` intervals."""
        self._refunds.append(self.clock.monotonic())
        if self._recent:
            self._recent.pop()  # not a message: out of the window

    def _credit(self, now: float) -> int:
        """Slots given back and still usable."""
        while self._refunds and self._refunds[0] < now - REFUND_LAPSE * self.interval:
            self._refunds.popleft()
        return len(self._refunds)

    def capacity(self, horizon: float) -> int:
        """How many more sends may start within `horizon` seconds (those already waiting
        counted): what a worker may claim now."""
        now = self.clock.monotonic()
        if self._paused_until > now:
            return 0
        start = max(now, self._next)
        slots = math.floor((now + horizon - start) / self.interval) + 1 + self._credit(now)
        return max(0, slots - self._waiting)

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
        is overtaken by later ones; the overall spacing keeps to its grid, and the sliding
        window keeps a late wake-up's catching up from ever exceeding the rate in any second.
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
                slept = False
                while True:
                    now = self.clock.monotonic()
                    credit = self._credit(now)
                    start = max(now, self._window_opens())
                    if not credit:
                        start = max(start, self._next)
                    if self._paused(chat, now) or start > deadline:
                        return False
                    if start <= now:
                        if credit:
                            self._refunds.popleft()  # a slot given back: the grid stays
                        elif slept and now - self._next < self.interval / 2:
                            self._next += self.interval  # a late wake-up, caught up next
                        else:  # idle, stalled or not ready: a new grid from now
                            self._next = now + self.interval
                        self._recent.append(now)
                        return True
                    await self.clock.sleep(start - now)
                    slept = True
        finally:
            self._waiting -= 1

    def _window_opens(self) -> float:
        """When the sliding window has room for one more send (0 while it is not full)."""
        if len(self._recent) < (self._recent.maxlen or 1):
            return 0.0
        return self._recent[0] + self._span + self.margin

    def _paused(self, chat: str, now: float) -> bool:
        return max(self._paused_until, self._chat_paused_until.get(chat, 0.0)) > now

    def _forget_old(self, now: float) -> None:
        self._next_by_chat = {chat: t for chat, t in self._next_by_chat.items() if t > now}
        self._chat_paused_until = {
            chat: t for chat, t in self._chat_paused_until.items() if t > now
        }
