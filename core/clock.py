"""The one clock every "now" comes from: settable for rehearsals, frozen in tests.

It also measures intervals and waits (`monotonic`, `sleep`) for whatever paces itself (the
delivery rate limits, progress edits), so a test's clock decides those too and no test depends on
the hour it runs at or on how busy the machine is.
"""

from __future__ import annotations

import asyncio
import math
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

JAKARTA = ZoneInfo("Asia/Jakarta")


class Clock:
    """Wall-clock time in the recruitment's time zone, optionally shifted to start at `start_at`.

    A shifted clock keeps ticking: `Clock(start_at=2023-11-10T09:00)` reads 09:00:30 thirty seconds
    after it was made, so staff can rehearse the 2023 schedule with a clock that behaves normally.
    """

    def __init__(self, tz: ZoneInfo = JAKARTA, start_at: datetime | None = None) -> None:
        self.tz = tz
        self._offset = 0.0
        if start_at is not None:
            aware = start_at if start_at.tzinfo else start_at.replace(tzinfo=tz)
            self._offset = aware.timestamp() - time.time()

    def now(self) -> datetime:
        """The current instant, aware, in the recruitment's time zone."""
        return datetime.fromtimestamp(time.time() + self._offset, self.tz)

    def real_time(self, moment: datetime) -> datetime:
        """When `moment` of this clock happens on the machine's own clock (for timers)."""
        return moment - timedelta(seconds=self._offset)

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back, for measuring intervals."""
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds` of this clock."""
        await asyncio.sleep(seconds)


class FrozenClock(Clock):
    """A clock that only moves when told to (tests).

    Waiting on it is telling it to move: `sleep(2)` jumps two seconds ahead at once, so pacing
    and back-off run instantly and are judged on this clock's time, not the machine's.
    """

    def __init__(self, at: datetime, tz: ZoneInfo = JAKARTA) -> None:
        super().__init__(tz)
        self._now = at if at.tzinfo else at.replace(tzinfo=tz)
        self._origin = self._now

    def now(self) -> datetime:
        return self._now.astimezone(self.tz)

    def set(self, at: datetime) -> None:
        """Jump to `at` (naive means the clock's own time zone)."""
        self._now = at if at.tzinfo else at.replace(tzinfo=self.tz)

    def advance(self, delta: timedelta) -> None:
        """Move forward by `delta`."""
        self._now += delta

    def monotonic(self) -> float:
        return (self._now - self._origin).total_seconds()

    async def sleep(self, seconds: float) -> None:
        """Jump `seconds` ahead (rounded up to whole microseconds), then let other tasks run."""
        if seconds > 0:
            self._now += timedelta(microseconds=math.ceil(seconds * 1_000_000))
        await asyncio.sleep(0)
