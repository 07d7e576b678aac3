"""Retention runs by itself: the daily job removes what is past its period, twice is harmless."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.logs import quiet_libraries
from core.clock import FrozenClock
from handlers.conversation import Conversation
from scheduler.jobs import start_scheduler
from services.schedule import describe_jobs
from storage.inbound import InboundPayloads
from storage.models import (
    Applicant,
    AuditEntry,
    InboundPayload,
    OutboxMessage,
    ProcessedUpdate,
)
from storage.outbox import Outbox
from tests.chat import Chat, jobs_of


async def _count(conversation: Conversation, query: object) -> int:
    async with conversation.db.transaction() as session:
        return (await session.execute(query)).scalar_one()  # type: ignore[call-overload]


async def test_the_daily_job_removes_what_is_past_its_period_and_logs_counts_only(
    conversation: Conversation, clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    siti = Chat(conversation, "5123456789")
    await siti.register()  # dedup keys? (no: the test chat has none), audit entries, documents
    deps = conversation.deps
    csv_path, _ = deps.files.put(b"channel,recipient\nwhatsapp,6285799990000\n", "csv")
    async with conversation.db.transaction() as session:
        await InboundPayloads(session).store("whatsapp", '{"from": "6281234567890"}', clock.now())
        session.add(ProcessedUpdate(channel="whatsapp", key="k", processed_at=clock.now()))
        await Outbox(session).enqueue(
            [
                {
                    "dedup_key": "broadcast:1:report",
                    "channel": "telegram",
                    "recipient": "900",
                    "text": "Siaran #1 selesai",
                    "file_path": csv_path,
                    "file_name": "siaran-1-gagal.csv",
                    "file_mime_type": "text/csv",
                    "state": "sent",
                    "attempts": 1,
                    "not_before": clock.now(),
                    "created_at": clock.now(),
                }
            ]
        )
    jobs = jobs_of(conversation)
    quiet_libraries()  # as `mitrabot` sets logging up
    caplog.set_level(logging.DEBUG)
    await jobs.run("retention")  # nothing is old yet
    assert await _count(conversation, select(func.count(Applicant.id))) == 1
    assert deps.files.path(csv_path).exists()

    clock.advance(timedelta(days=40))  # past every short period, not past 24 months
    await jobs.run("retention")
    assert await _count(conversation, select(func.count(ProcessedUpdate.key))) == 0
    assert await _count(conversation, select(func.count(InboundPayload.id))) == 0
    assert not deps.files.path(csv_path).exists()
    async with conversation.db.transaction() as session:
        report = (await session.execute(select(OutboxMessage))).scalar_one()
    assert report.text == "" and report.file_path is None and report.state == "sent"
    assert await _count(conversation, select(func.count(Applicant.id))) == 1

    clock.advance(timedelta(days=2 * 365 + 30))  # past consent.retention_months and audit
    caplog.clear()
    await jobs.run("retention")
    assert await _count(conversation, select(func.count(Applicant.id))) == 0
    async with conversation.db.transaction() as session:
        entries = list((await session.execute(select(AuditEntry))).scalars())
    assert all(e.actor != "telegram:5123456789" and e.applicant_id is None for e in entries)
    assert any(e.action == "applicant_deleted" and e.detail == {"by": "retention"} for e in entries)
    logged = caplog.text
    assert "retention removed applicants 1" in logged
    for personal in ("5123456789", "3528015708950003", "Siti", "6281234567890"):
        assert personal not in logged

    caplog.clear()
    await jobs.run("retention")  # idempotent: a second run finds nothing
    assert "applicants 0" in caplog.text and "audit_entries 0" in caplog.text


async def test_schedule_list_shows_the_daily_retention(conversation: Conversation) -> None:
    deps = conversation.deps
    async with conversation.db.transaction() as session:
        listing = await describe_jobs(
            session, deps.config, deps.catalog, deps.clock.now(), "id", deps.staff_identities
        )
    assert "Retensi data" in listing and "02.30" in listing
    assert "sekali 1 menit setelah bot dinyalakan" in listing


async def test_a_day_missed_while_the_bot_was_down_is_made_up_after_start(
    conversation: Conversation, clock: FrozenClock
) -> None:
    async with conversation.db.transaction() as session:
        session.add(ProcessedUpdate(channel="whatsapp", key="k", processed_at=clock.now()))
    clock.advance(timedelta(days=9))  # the key expired at a 02:30 the bot was down for
    started = clock.now()
    scheduler = start_scheduler(jobs_of(conversation))
    try:
        catch_up = scheduler.get_job("retention:start")
        assert catch_up.next_run_time == clock.real_time(started + timedelta(minutes=1))
        assert scheduler.get_job("retention") is not None  # the daily run stays
        for _ in range(600):  # at most 30 s; the catch-up is already due on this clock
            if not await _count(conversation, select(func.count(ProcessedUpdate.key))):
                break
            await asyncio.sleep(0.05)
        assert await _count(conversation, select(func.count(ProcessedUpdate.key))) == 0
        assert scheduler.get_job("retention:start") is None  # once only
    finally:
        scheduler.shutdown(wait=False)
