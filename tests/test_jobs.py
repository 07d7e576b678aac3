"""Scheduled jobs: the work at a frozen "now", and APScheduler calling it at the right moment."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from core.catalog import Catalog
from core.clock import Clock, FrozenClock
from core.recruitment import RecruitmentConfig
from scheduler.jobs import Jobs, start_scheduler
from services.result_table import read_table
from services.results import apply_plan, plan_results
from storage.db import Database
from storage.files import FileStore
from storage.models import OutboxMessage
from tests.seeding import TODAY, seed_applicants, seeded_number


async def _final_results(db: Database, config: RecruitmentConfig, clock: Clock) -> None:
    """Applicant 1 passes every stage and is a candidate partner."""
    await seed_applicants(db, 1, clock.now())
    for stage in ("1", "2", "3", "final"):
        rows = read_table(
            f"No Registrasi,Hasil\n{seeded_number(1)},Lulus\n".encode(), "h.csv", today=TODAY
        )
        async with db.transaction() as session:
            plan = await plan_results(session, config, stage, rows)
            await apply_plan(session, plan, "cli:tester", clock.now(), "test")


async def _outbox(db: Database) -> list[OutboxMessage]:
    async with db.transaction() as session:
        return list((await session.execute(select(OutboxMessage))).scalars())


async def test_the_announcement_job_sends_nothing_early_and_once_when_due(
    any_db: Database,
    config: RecruitmentConfig,
    catalog: Catalog,
    clock: FrozenClock,
    tmp_path: Path,
) -> None:
    await _final_results(any_db, config, clock)
    jobs = Jobs(any_db, config, catalog, clock, files=FileStore(tmp_path))
    announcement = config.local(config.schedule.announcement_at)
    clock.set(announcement - timedelta(seconds=1))
    assert await jobs.run("final_announcement") == 0
    clock.set(announcement)
    assert await jobs.run("final_announcement") == 1
    assert await jobs.run("final_announcement") == 0  # fired twice, or a second process
    assert len(await _outbox(any_db)) == 1


async def test_the_jobs_come_from_the_config(
    db: Database,
    config: RecruitmentConfig,
    catalog: Catalog,
    clock: FrozenClock,
    tmp_path: Path,
) -> None:
    jobs = Jobs(db, config, catalog, clock, files=FileStore(tmp_path))
    planned = {job.id: job.at for job in jobs.planned()}
    assert {key: at.isoformat() if at else None for key, at in planned.items()} == {
        "reminder:registration:7": "2023-11-23T09:00:00+07:00",
        "reminder:sobat:5": "2023-11-25T09:00:00+07:00",
        "reminder:registration:3": "2023-11-27T09:00:00+07:00",
        "reminder:sobat:2": "2023-11-28T09:00:00+07:00",
        "reminder:registration:1": "2023-11-29T09:00:00+07:00",
        "final_announcement": "2023-12-15T00:00:00+07:00",
        "silent": None,
        "scheduled_broadcasts": None,
        "retention": None,
    }


async def test_apscheduler_runs_a_missed_announcement_at_start(
    db: Database, config: RecruitmentConfig, catalog: Catalog, tmp_path: Path
) -> None:
    announcement = config.local(config.schedule.announcement_at)
    clock = Clock(config.tz, start_at=announcement + timedelta(hours=2))  # the bot was down
    await _final_results(db, config, clock)
    scheduler = start_scheduler(Jobs(db, config, catalog, clock, files=FileStore(tmp_path)))
    try:
        for _ in range(600):  # at most 30 s: the scheduler runs it at once
            if await _outbox(db):
                break
            await asyncio.sleep(0.05)
    finally:
        scheduler.shutdown(wait=False)
    (row,) = await _outbox(db)
    assert "Selamat, Anda dinyatakan lolos" in row.text


async def test_apscheduler_waits_for_a_future_announcement(
    db: Database, config: RecruitmentConfig, catalog: Catalog, tmp_path: Path
) -> None:
    announcement = config.local(config.schedule.announcement_at)
    clock = Clock(config.tz, start_at=announcement - timedelta(days=1))
    scheduler = start_scheduler(Jobs(db, config, catalog, clock, files=FileStore(tmp_path)))
    try:
        job = scheduler.get_job("final_announcement")
        # due when the rehearsal clock reads the announcement, a day from its start
        assert job.next_run_time == clock.real_time(announcement)
    finally:
        scheduler.shutdown(wait=False)
