"""Scheduled work of the running bot, derived from the recruitment config (no dates in code).

Each job is a plain coroutine run at the clock's "now", so tests call it with a frozen clock;
APScheduler only decides when to call it. Every job is idempotent (publication rows and the
outbox's unique keys), so two bot processes, a restart or a job firing twice send nothing twice.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger

from bot.clock import Clock
from bot.recruitment import RecruitmentConfig
from handlers.catalog import Catalog
from handlers.result_publish import announce_if_due
from storage.db import Database

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PlannedJob:
    """One moment of the recruitment at which the bot acts on its own."""

    id: str
    at: datetime
    """Local, aware."""
    description: str
    late_ok: bool
    """Run on start when its moment passed while the bot was down (else skipped)."""


class Jobs:
    """The jobs of one recruitment and the work each one does."""

    def __init__(
        self, db: Database, config: RecruitmentConfig, catalog: Catalog, clock: Clock
    ) -> None:
        self.db = db
        self.config = config
        self.catalog = catalog
        self.clock = clock
        self._work: dict[str, Callable[[datetime], Awaitable[int]]] = {
            "final_announcement": self._announce,
        }

    def planned(self) -> list[PlannedJob]:
        """Every job with its moment, in time order."""
        config = self.config
        jobs = [
            PlannedJob(
                "final_announcement",
                config.local(config.schedule.announcement),
                "publish the final result to every applicant who has one",
                late_ok=True,
            )
        ]
        return sorted(jobs, key=lambda job: job.at)

    async def run(self, job_id: str) -> int:
        """Do one job's work now; how many messages it queued."""
        queued = await self._work[job_id](self.clock.now())
        log.info("job %s queued %d message(s)", job_id, queued)
        return queued

    async def _announce(self, now: datetime) -> int:
        async with self.db.transaction() as session:
            broadcast = await announce_if_due(session, self.config, self.catalog, now)
        return broadcast.total if broadcast else 0


def start_scheduler(jobs: Jobs) -> AsyncIOScheduler:
    """An AsyncIOScheduler (on the running loop) that runs each planned job at its moment.

    A job whose moment passed while the bot was down runs at start when `late_ok`; otherwise
    APScheduler skips it (misfire grace of one minute).
    """
    scheduler = AsyncIOScheduler(timezone=jobs.config.tz)
    for job in jobs.planned():
        scheduler.add_job(
            jobs.run,
            DateTrigger(run_date=jobs.clock.real_time(job.at)),
            args=[job.id],
            id=job.id,
            name=job.description,
            misfire_grace_time=None if job.late_ok else 60,
            coalesce=True,
            max_instances=1,
        )
    scheduler.start()
    return scheduler
