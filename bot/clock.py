"""The one clock every "now" comes from: settable for rehearsals, frozen in tests."""

from __future__ import annotations

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


class FrozenClock(Clock):
    """A clock that only moves when told to (tests)."""

    def __init__(self, at: datetime, tz: ZoneInfo = JAKARTA) -> None:
        super().__init__(tz)
        self._now = at if at.tzinfo else at.replace(tzinfo=tz)

    def now(self) -> datetime:
        return self._now.astimezone(self.tz)

    def set(self, at: datetime) -> None:
        """Jump to `at` (naive means the clock's own time zone)."""
        self._now = at if at.tzinfo else at.replace(tzinfo=self.tz)

    def advance(self, delta: timedelta) -> None:
        """Move forward by `delta`."""
        self._now += delta
