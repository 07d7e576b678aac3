"""Is registration open right now? The configured dates, and staff closing it early."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from bot.recruitment import RecruitmentConfig
from storage.repositories import REGISTRATION_CLOSED, Flags


class WindowState(StrEnum):
    NOT_YET = "not_yet"
    OPEN = "open"
    ENDED = "ended"
    CLOSED_EARLY = "closed_early"


@dataclass(frozen=True)
class RegistrationWindow:
    """Where `now` stands against the registration period."""

    state: WindowState
    opens_at: datetime
    closes_at: datetime

    @property
    def is_open(self) -> bool:
        return self.state is WindowState.OPEN


async def registration_window(
    config: RecruitmentConfig, flags: Flags, now: datetime
) -> RegistrationWindow:
    """The registration state at `now` (aware), including an early close by staff."""
    opens_at = config.local(config.schedule.registration_start)
    closes_at = config.local(config.schedule.registration_end)
    if now < opens_at:
        state = WindowState.NOT_YET
    elif now > closes_at:
        state = WindowState.ENDED
    elif (flag := await flags.get(REGISTRATION_CLOSED)) and flag.get("closed"):
        state = WindowState.CLOSED_EARLY
    else:
        state = WindowState.OPEN
    return RegistrationWindow(state, opens_at, closes_at)
