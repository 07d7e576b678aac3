"""Publishing a stage's results: each applicant told their own result once, via the outbox."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.catalog import Catalog
from core.recruitment import RecruitmentConfig
from services.results import DECIDED, FINAL, stage_keys, stage_label
from storage.broadcasts import Broadcasts
from storage.models import Broadcast
from storage.outbox import Outbox
from storage.repositories import Audit
from storage.results import Publications, StageResults

log = logging.getLogger(__name__)

NOTICES_PAGE = 1000
"""Recipients read, checked and queued at a time when a stage is published."""


def result_notice(
    config: RecruitmentConfig,
    catalog: Catalog,
    language: str,
    stage: str,
    outcome: str,
    name: str | None,
    number: str | None,
    note: str | None,
) -> str:
    """The personal message telling one applicant their result at `stage`, and what follows."""
    if stage == FINAL:
        final = config.final_result
        following = (final.passed if outcome == "passed" else final.not_passed).get(language)
        key = f"res_notice_final_{outcome}"
    else:
        named = config.stage_by_number(int(stage))
        steps = named.next_steps if named and outcome == "passed" else None
        following = steps.get(language) if steps else ""
        key = f"res_notice_{outcome}"
    text = catalog.text(
        language,
        key,
        name=name or catalog.text(language, "res_notice_no_name"),
        number=number or "-",
        stage=stage_label(config, catalog, language, stage),
        note=catalog.text(language, "res_notice_note", note=note) if note else "",
        next=following,
    )
    return "\n".join(line for line in text.splitlines() if line.strip())


def _dedup_key(stage: str, outcome: str, applicant_id: int, channel: str) -> str:
    """The same result is told to the same chat once; a corrected result is told again."""
    return f"result:{stage}:{outcome}:applicant:{applicant_id}:{channel}"


@dataclass(frozen=True)
class Notice:
    """One message publishing a stage sends: to whom, which result, and its text."""

    dedup_key: str
    applicant_id: int
    number: str | None
    name: str | None
    outcome: str
    channel: str
    recipient: str
    text: str

    def row(self) -> dict[str, Any]:
        """The outbox row (without its times and state)."""
        return {
            "dedup_key": self.dedup_key,
            "applicant_id": self.applicant_id,
            "channel": self.channel,
            "recipient": self.recipient,
            "text": self.text,
        }


async def untold_pages(
    session: AsyncSession,
    config: RecruitmentConfig,
    catalog: Catalog,
    stage: str,
    page: int | None = None,
) -> AsyncIterator[list[Notice]]:
    """The message for every chat not yet told its current result at `stage`, by applicant, a
    page of recipients at a time (memory stays flat however many there are; the texts are
    written only for those not told); `page`: recipients per page (`NOTICES_PAGE`)."""
    outbox = Outbox(session)
    async for recipients in StageResults(session).recipients(stage, page or NOTICES_PAGE):
        keys = [
            _dedup_key(stage, outcome, applicant_id, channel)
            for applicant_id, _, _, _, outcome, _, channel, _ in recipients
        ]
        told = await outbox.known_keys(keys)
        yield [
            Notice(
                key,
                applicant_id,
                number,
                name,
                outcome,
                channel,
                chat,
                result_notice(config, catalog, language, stage, outcome, name, number, note),
            )
            for key, (applicant_id, language, name, number, outcome, note, channel, chat) in zip(
                keys, recipients, strict=True
            )
            if key not in told
        ]


async def untold_notices(
    session: AsyncSession, config: RecruitmentConfig, catalog: Catalog, stage: str
) -> list[Notice]:
    """All of `untold_pages` in one list (what the desk shows before publishing)."""
    return [
        notice
        async for notices in untold_pages(session, config, catalog, stage)
        for notice in notices
    ]


@dataclass(frozen=True)
class PublicationPreview:
    """What publishing a stage would do."""

    stage: str
    passed: int
    not_passed: int
    waiting: int
    """Confirmed applicants in the running for this stage who have no decided result yet."""
    to_tell: int
    published_at: datetime | None


async def preview_publication(
    session: AsyncSession, config: RecruitmentConfig, catalog: Catalog, stage: str
) -> PublicationPreview:
    """Counts for staff before they publish (nothing changes)."""
    repository = StageResults(session)
    counts = (await repository.counts()).get(stage, {})
    keys = stage_keys(config)
    index = keys.index(stage)
    previous = keys[index - 1] if index else None
    publication = (await Publications(session).all()).get(stage)
    return PublicationPreview(
        stage=stage,
        passed=counts.get("passed", 0),
        not_passed=counts.get("not_passed", 0),
        waiting=await repository.without_result(stage, previous),
        to_tell=sum([len(page) async for page in untold_pages(session, config, catalog, stage)]),
        published_at=publication.published_at if publication else None,
    )


async def publish_results(
    session: AsyncSession,
    config: RecruitmentConfig,
    catalog: Catalog,
    stage: str,
    actor: str,
    now: datetime,
) -> Broadcast | None:
    """Release `stage`: applicants see it in their status, and each chat not yet told its
    current result gets one message (outside quiet hours). Publishing again queues only
    results that are new or corrected since. Returns the delivery (None: nobody to tell)."""
    first_time = await Publications(session).mark(stage, actor, now)
    broadcast, queued = None, 0
    not_before = config.quiet_hours.next_allowed(now)
    async for notices in untold_pages(session, config, catalog, stage):
        if not notices:
            continue
        if broadcast is None:
            broadcast = Broadcast(
                created_at=now,
                created_by=actor,
                text=stage_label(config, catalog, "id", stage),
                audience={"kind": "results", "value": stage},
                urgent=False,
                state="queued",
                total=0,
            )
            await Broadcasts(session).add(broadcast)
        await Outbox(session).enqueue(
            [
                {
                    **notice.row(),
                    "broadcast_id": broadcast.id,
                    "urgent": False,
                    "state": "queued",
                    "attempts": 0,
                    "not_before": not_before,
                    "created_at": now,
                }
                for notice in notices
            ]
        )
        queued += len(notices)
    if broadcast is not None:
        broadcast.total = queued
    await Audit(session).record(
        actor,
        "results_published",
        now,
        detail={
            "stage": stage,
            "first_time": first_time,
            "queued": queued,
            "broadcast": broadcast.id if broadcast else None,
        },
    )
    return broadcast


async def announce_if_due(
    session: AsyncSession, config: RecruitmentConfig, catalog: Catalog, now: datetime
) -> Broadcast | None:
    """At the configured announcement time, publish the final result (once; none before).

    Nothing is published while no final result is recorded: an empty announcement would tell
    everyone "no result"; staff record results and the next run (or staff) publishes them.
    """
    if now < config.local(config.schedule.announcement_at):
        return None
    if FINAL in await Publications(session).all():
        return None
    counts = (await StageResults(session).counts()).get(FINAL, {})
    if not any(counts.get(outcome) for outcome in DECIDED):
        log.warning("announcement time has come but no final result is recorded yet")
        return None
    return await publish_results(session, config, catalog, FINAL, "scheduler", now)
