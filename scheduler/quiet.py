"""Quiet hours: when the bot sends nothing that is not urgent."""

from __future__ import annotations

from datetime import datetime, time, timedelta


class QuietHours:
    """A local-time window, e.g. 21:00–06:00 (wrapping past midnight is allowed)."""

    def __init__(self, start: time, end: time) -> None:
        self.start = start
        self.end = end

    def is_quiet(self, moment: datetime) -> bool:
        """True when `moment` (aware, local) falls inside the window."""
        now = moment.timetz().replace(tzinfo=None)
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= now < self.end
        return now >= self.start or now < self.end

    def next_allowed(self, moment: datetime) -> datetime:
        """`moment` itself outside the window, else the window's end (next morning)."""
        if not self.is_quiet(moment):
            return moment
        end = moment.replace(hour=self.end.hour, minute=self.end.minute, second=0, microsecond=0)
        return end if end > moment else end + timedelta(days=1)
