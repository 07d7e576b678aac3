"""Is registration open right now? The configured dates, and staff closing it early."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from core.recruitment import RecruitmentConfig
from storage.models import RecruitmentFlag
from storage.repositories import REGISTRATION_CLOSED, Audit, Flags


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
    """The configured end of registration."""
    closed_at: datetime
    """When registration actually closed (or will close): the configured end, or the moment
    staff closed it early."""

    @property
    def is_open(self) -> bool:
        return self.state is WindowState.OPEN

    @property
    def is_over(self) -> bool:
        """Registration ended or was closed early: nothing can be registered any more."""
        return self.state in (WindowState.ENDED, WindowState.CLOSED_EARLY)


async def registration_window(
    config: RecruitmentConfig, flags: Flags, now: datetime
) -> RegistrationWindow:
    """The registration state at `now` (aware), including an early close by staff (the flag is
    read only once registration has opened)."""
    opens_at = config.local(config.schedule.registration_start)
    closed = None if now < opens_at else await flags.row(REGISTRATION_CLOSED)
    return window_at(config, closed, now)


def window_at(
    config: RecruitmentConfig, closed: RecruitmentFlag | None, now: datetime
) -> RegistrationWindow:
    """The registration state at `now` (aware), given the `REGISTRATION_CLOSED` flag's row
    (None when never set).

    A close by staff before the configured end stays an early close, with its own date, after
    that end; one set later changes nothing (registration had ended anyway).
    """
    opens_at = config.local(config.schedule.registration_start)
    closes_at = config.local(config.schedule.registration_end)
    if now < opens_at:
        return RegistrationWindow(WindowState.NOT_YET, opens_at, closes_at, closes_at)
    closed_by_staff = closed.updated_at if closed and closed.value.get("closed") else None
    if closed_by_staff is not None and min(now, closed_by_staff) <= closes_at:
        closed_at = max(min(now, closed_by_staff), opens_at).astimezone(config.tz)
        return RegistrationWindow(WindowState.CLOSED_EARLY, opens_at, closes_at, closed_at)
    state = WindowState.ENDED if now > closes_at else WindowState.OPEN
    return RegistrationWindow(state, opens_at, closes_at, closes_at)


async def close_early(session: AsyncSession, reason: str, by: str, now: datetime) -> None:
    """Staff close registration before its configured end (audited), e.g. the quota is full."""
    await Flags(session).set(REGISTRATION_CLOSED, {"closed": True, "reason": reason}, by, now)
    await Audit(session).record(by, "registration_closed", now, detail={"reason": reason})


async def reopen(session: AsyncSession, by: str, now: datetime) -> None:
    """Lift an early close (audited); the configured dates still apply."""
    await Flags(session).set(REGISTRATION_CLOSED, {"closed": False}, by, now)
    await Audit(session).record(by, "registration_reopened", now)
