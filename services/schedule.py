"""The automatic work of a recruitment, derived from its config (no dates in code): which jobs
exist, when each runs, and what staff are shown of them (`/jadwal_kirim`, `mitrabot schedule`).
The scheduler runs them; this module only plans and describes them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.catalog import Catalog
from core.formatting import format_datetime
from core.recruitment import RecruitmentConfig
from services.reminders import Reminder, count_reach, planned_reminders
from storage.broadcasts import ScheduledBroadcasts
from storage.models import ScheduledBroadcast
from storage.repositories import Applicants

SILENT_CHECK_EVERY = timedelta(hours=1)
SCHEDULED_CHECK_EVERY = timedelta(seconds=30)
RETENTION_AFTER_START = timedelta(minutes=1)
"""Retention also runs once this long after the scheduler starts, so that a day the bot was down
at `retention.run_at` is made up (the job is idempotent: an extra run removes nothing more)."""


@dataclass(frozen=True)
class PlannedJob:
    """Something the bot does on its own: once at `at`, or every `every`."""

    id: str
    name_key: str
    name_params: dict[str, Any] = field(default_factory=dict)
    at: datetime | None = None
    every: timedelta | None = None
    daily: time | None = None
    """Every day at this local time (instead of `at` or `every`)."""
    grace: timedelta | None = None
    """How late a missed run may still happen (None: whenever the bot is back)."""
    after_start: timedelta | None = None
    """Also once, this long after the scheduler starts (a daily job catching up a missed day)."""
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
        PlannedJob(
            "retention",
            "job_retention",
            {
                "time": config.retention.run_at.strftime("%H.%M"),
                "minutes": int(RETENTION_AFTER_START.total_seconds() // 60),
            },
            daily=config.retention.run_at,
            after_start=RETENTION_AFTER_START,
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
