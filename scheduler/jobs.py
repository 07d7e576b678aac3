"""Scheduled work of the running bot, derived from the recruitment config (no dates in code).

Each job is a plain coroutine run at the clock's "now", so tests call it with a frozen clock;
APScheduler only decides when to call it. Every job is idempotent (reminder receipts,
publication rows, the outbox's unique keys), so two bot processes, a restart or a job firing
twice send nothing twice.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from core.catalog import Catalog
from core.clock import Clock
from core.observer import NO_OBSERVER, Observer
from core.recruitment import RecruitmentConfig
from services.broadcasts import send_due_broadcasts
from services.reminders import Reminder, send_reminder, silent_reminder
from services.result_publish import announce_if_due
from services.retention import run_retention
from services.schedule import SILENT_CHECK_EVERY, PlannedJob, plan_jobs
from services.window import registration_window
from storage.db import Database
from storage.files import FileStore
from storage.repositories import Flags

log = logging.getLogger(__name__)


class Jobs:
    """The jobs of one recruitment and the work each one does."""

    def __init__(
        self,
        db: Database,
        config: RecruitmentConfig,
        catalog: Catalog,
        clock: Clock,
        staff: frozenset[str] = frozenset(),
        *,
        files: FileStore,
        observer: Observer = NO_OBSERVER,
    ) -> None:
        self.db = db
        self.observer = observer
        self.files = files
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
            "retention": self._retention,
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
        return await self._send(reminder, now)

    async def _silent(self, job: PlannedJob, now: datetime) -> int:
        if self.config.quiet_hours.is_quiet(now) or not await self._registration_open(now):
            return 0
        return await self._send(silent_reminder(self.config), now)

    async def _send(self, reminder: Reminder, now: datetime) -> int:
        """Queue `reminder`'s messages (committed by `send_reminder`) and count them."""
        queued = await send_reminder(self.db, self.config, self.catalog, reminder, now, self.staff)
        if queued:
            self.observer.reminders_queued(reminder.kind, queued)
        return queued

    async def _announce(self, job: PlannedJob, now: datetime) -> int:
        async with self.db.transaction() as session:
            broadcast = await announce_if_due(session, self.config, self.catalog, now)
        return broadcast.total if broadcast else 0

    async def _retention(self, job: PlannedJob, now: datetime) -> int:
        counts = await run_retention(self.db, self.config, self.files, now, self.staff)
        log.info("retention removed %s", ", ".join(f"{k} {v}" for k, v in counts.items()))
        return 0

    async def _scheduled(self, job: PlannedJob, now: datetime) -> int:
        async with self.db.transaction() as session:
            sent = await send_due_broadcasts(session, now, self.config.quiet_hours)
        return sum(broadcast.total for broadcast in sent)


def start_scheduler(jobs: Jobs) -> AsyncIOScheduler:
    """An AsyncIOScheduler (on the running loop) running every planned job at its moment.

    A dated job missed while the bot was down runs at start while still within its grace
    (reminders: `late_grace_hours`, never past the next reminder or the deadline); otherwise
    APScheduler skips it. The final announcement always runs, late if need be. A job with
    `after_start` (retention) also runs once that long after this start, as `<id>:start`: a
    daily run missed while the bot was down is made up the same day.
    """
    scheduler = AsyncIOScheduler(timezone=jobs.config.tz)
    started = jobs.clock.now()
    for job in jobs.planned():
        if job.after_start is not None:
            scheduler.add_job(
                jobs.run,
                DateTrigger(run_date=jobs.clock.real_time(started + job.after_start)),
                args=[job.id],
                id=f"{job.id}:start",
                misfire_grace_time=None,
                max_instances=1,
            )
        if job.at is not None:
            trigger: Any = DateTrigger(run_date=jobs.clock.real_time(job.at))
            grace = None if job.grace is None else max(1, int(job.grace.total_seconds()))
        elif job.daily is not None:
            trigger = CronTrigger(
                hour=job.daily.hour, minute=job.daily.minute, timezone=jobs.config.tz
            )
            grace = None
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
