"""Scheduled work of the running bot, derived from the recruitment config (no dates in code).

Each job is a plain coroutine run at the clock's "now", so tests call it with a frozen clock;
APScheduler only decides when to call it. Every job is idempotent (reminder receipts,
publication rows, the outbox's unique keys), so two bot processes, a restart or a job firing
twice send nothing twice.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.recruitment import RecruitmentConfig
from handlers.broadcasts import send_due_broadcasts
from handlers.catalog import Catalog
from handlers.formatting import format_datetime
from handlers.reminders import (
    Reminder,
    count_reach,
    planned_reminders,
    send_reminder,
    silent_reminder,
)
from handlers.result_publish import announce_if_due
from handlers.window import registration_window
from storage.broadcasts import ScheduledBroadcasts
from storage.db import Database
from storage.models import ScheduledBroadcast
from storage.repositories import Applicants, Flags

log = logging.getLogger(__name__)

SILENT_CHECK_EVERY = timedelta(hours=1)
SCHEDULED_CHECK_EVERY = timedelta(seconds=30)


@dataclass(frozen=True)
class PlannedJob:
    """Something the bot does on its own: once at `at`, or every `every`."""

    id: str
    name_key: str
    name_params: dict[str, Any] = field(default_factory=dict)
    at: datetime | None = None
    every: timedelta | None = None
    grace: timedelta | None = None
    """How late a missed run may still happen (None: whenever the bot is back)."""
    reminder: Reminder | None = None


@dataclass(frozen=True)
class JobListing:
    """A job as staff see it: when, what, and how many it reaches if it ran now."""

    job: PlannedJob
    done: bool
    reach: int | None


def plan_jobs(config: RecruitmentConfig) -> list[PlannedJob]:
    """Every job of the config: dated ones in time order, then the recurring checks."""
    dated = [
        PlannedJob(
            f"reminder:{reminder.key}",
            f"job_{reminder.kind}",
            {"days": reminder.days, "event": reminder.event.key if reminder.event else ""},
            at=reminder.at,
            grace=reminder.valid_until - reminder.at,
            reminder=reminder,
        )
        for reminder in planned_reminders(config)
    ]
    dated.append(
        PlannedJob(
            "final_announcement",
            "job_final_announcement",
            at=config.local(config.schedule.announcement_at),
        )
    )
    dated.sort(key=lambda job: job.at or datetime.max)
    return [
        *dated,
        PlannedJob(
            "silent",
            "job_silent",
            {"days": config.reminders.silent_after_days},
            every=SILENT_CHECK_EVERY,
        ),
        PlannedJob(
            "scheduled_broadcasts", "job_scheduled", {"id": "*"}, every=SCHEDULED_CHECK_EVERY
        ),
    ]


async def list_jobs(
    session: AsyncSession, config: RecruitmentConfig, now: datetime, staff: frozenset[str]
) -> tuple[list[JobListing], list[ScheduledBroadcast], int]:
    """Jobs with their reach now, waiting scheduled broadcasts, and how many opted out."""
    listings = []
    for job in plan_jobs(config):
        done = job.at is not None and now > job.at + (job.grace or timedelta(0))
        reach = None
        if job.reminder is not None and not done:
            reach = await count_reach(session, config, job.reminder, now, staff)
        listings.append(JobListing(job, done, reach))
    waiting = await ScheduledBroadcasts(session).waiting()
    optouts = await Applicants(session).count_reminders_stopped()
    return listings, waiting, optouts


async def describe_jobs(
    session: AsyncSession,
    config: RecruitmentConfig,
    catalog: Catalog,
    now: datetime,
    language: str,
    staff: frozenset[str] = frozenset(),
) -> str:
    """The jobs, their reach now, waiting scheduled broadcasts and opt-outs, as staff read it."""
    listings, waiting, optouts = await list_jobs(session, config, now, staff)
    lines = []
    for listing in listings:
        job = listing.job
        when = format_datetime(job.at, language) if job.at else "-"
        if listing.done:
            state = catalog.text(language, "job_state_done")
        elif listing.reach is not None:
            state = catalog.text(language, "jobs_reach", reach=listing.reach)
        else:
            state = "-"
        name = catalog.text(language, job.name_key, **job.name_params)
        lines.append(catalog.text(language, "jobs_line", when=when, name=name, state=state))
    for scheduled in waiting:
        name = catalog.text(language, "job_scheduled", id=scheduled.id)
        when = format_datetime(scheduled.send_at.astimezone(config.tz), language)
        audience = scheduled.audience["kind"] + (
            f":{scheduled.audience['value']}" if scheduled.audience.get("value") else ""
        )
        lines.append(catalog.text(language, "jobs_line", when=when, name=name, state=audience))
    return catalog.text(language, "jobs_list", lines="\n".join(lines), optouts=optouts)


class Jobs:
    """The jobs of one recruitment and the work each one does."""

    def __init__(
        self,
        db: Database,
        config: RecruitmentConfig,
        catalog: Catalog,
        clock: Clock,
        staff: frozenset[str] = frozenset(),
    ) -> None:
        self.db = db
        self.staff = staff
        self.config = config
        self.catalog = catalog
        self.clock = clock

    def planned(self) -> list[PlannedJob]:
        """Every job of this recruitment."""
        return plan_jobs(self.config)

    async def run(self, job_id: str) -> int:
        """Do one job's work now; how many messages it queued."""
        now = self.clock.now()
        job = next(job for job in self.planned() if job.id == job_id)
        work: dict[str, Callable[[PlannedJob, datetime], Awaitable[int]]] = {
            "final_announcement": self._announce,
            "silent": self._silent,
            "scheduled_broadcasts": self._scheduled,
        }
        queued = await work.get(job.id, self._remind)(job, now)
        if queued:
            log.info("job %s queued %d message(s)", job_id, queued)
        return queued

    async def _registration_open(self, now: datetime) -> bool:
        async with self.db.transaction() as session:
            window = await registration_window(self.config, Flags(session), now)
        return window.is_open

    async def _remind(self, job: PlannedJob, now: datetime) -> int:
        reminder = job.reminder
        if reminder is None:
            return 0
        if reminder.kind in ("registration", "sobat") and not await self._registration_open(now):
            return 0  # closed early (quota): nothing left to remind of
        return await send_reminder(self.db, self.config, self.catalog, reminder, now, self.staff)

    async def _silent(self, job: PlannedJob, now: datetime) -> int:
        if self.config.quiet_hours.is_quiet(now) or not await self._registration_open(now):
            return 0
        reminder = silent_reminder(self.config)
        return await send_reminder(self.db, self.config, self.catalog, reminder, now, self.staff)

    async def _announce(self, job: PlannedJob, now: datetime) -> int:
        async with self.db.transaction() as session:
            broadcast = await announce_if_due(session, self.config, self.catalog, now)
        return broadcast.total if broadcast else 0

    async def _scheduled(self, job: PlannedJob, now: datetime) -> int:
        async with self.db.transaction() as session:
            sent = await send_due_broadcasts(session, now, self.config.quiet_hours)
        return sum(broadcast.total for broadcast in sent)


def start_scheduler(jobs: Jobs) -> AsyncIOScheduler:
    """An AsyncIOScheduler (on the running loop) running every planned job at its moment.

    A dated job missed while the bot was down runs at start while still within its grace
    (reminders: `late_grace_hours`, never past the next reminder or the deadline); otherwise
    APScheduler skips it. The final announcement always runs, late if need be.
    """
    scheduler = AsyncIOScheduler(timezone=jobs.config.tz)
    for job in jobs.planned():
        if job.at is not None:
            trigger: Any = DateTrigger(run_date=jobs.clock.real_time(job.at))
            grace = None if job.grace is None else max(1, int(job.grace.total_seconds()))
        else:
            trigger = IntervalTrigger(seconds=(job.every or SILENT_CHECK_EVERY).total_seconds())
            grace = None
        scheduler.add_job(
            jobs.run,
            trigger,
            args=[job.id],
            id=job.id,
            misfire_grace_time=grace,
            coalesce=True,
            max_instances=1,
        )
    scheduler.start()
    return scheduler
