"""The official registration on SOBAT, as the bot follows it, and staff's view of it: who is
done, stuck or not started per step, and answers to stuck reports (the chat's `/sobat_rekap`
and `/sobat_jawab`, the command line and the desk call these)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from core.catalog import Catalog
from core.recruitment import RecruitmentConfig
from services.questions import MAX_ANSWER_LENGTH
from storage.models import SobatReport
from storage.outbox import Outbox
from storage.repositories import Applicants, Audit, ChatIdentities
from storage.sobat import SobatReports, SobatSteps


def enrolment_steps(config: RecruitmentConfig) -> set[str]:
    """The last step of each path (enrolling in the activity): marked done, the applicant has
    registered on SOBAT, the official registration."""
    return {config.sobat.new_account[-1].key, config.sobat.existing_account[-1].key}


PATHS = ("new", "existing")
OPEN_REPORTS_SHOWN = 20


async def sobat_summary(
    session: AsyncSession, config: RecruitmentConfig, catalog: Catalog, language: str
) -> str:
    """Per path and step: done / stuck / not started; then the open reports, oldest first."""
    steps = SobatSteps(session)
    by_path = await steps.applicants_per_path()
    lines = []
    for path in PATHS:
        total = by_path.get(path, 0)
        lines.append(catalog.text(language, f"sobat_staff_path_{path}", count=total))
        counts = await steps.counts_on_path(path)
        for n, item in enumerate(config.sobat.path(path), 1):
            done = counts.get((item.key, "done"), 0)
            stuck = counts.get((item.key, "stuck"), 0)
            lines.append(
                catalog.text(
                    language,
                    "sobat_staff_step",
                    number=n,
                    title=item.title.get(language),
                    done=done,
                    stuck=stuck,
                    waiting=max(0, total - done - stuck),
                )
            )
    reports = SobatReports(session)
    oldest = await reports.oldest_open(OPEN_REPORTS_SHOWN)
    open_count = await reports.count_open()
    entries = [
        catalog.text(
            language,
            "sobat_staff_report",
            id=report.id,
            number=number or "-",
            name=name or "-",
            step=report.step,
            text=report.text,
        )
        for report, number, name in oldest
    ]
    return catalog.text(
        language,
        "sobat_staff_summary",
        steps="\n".join(lines),
        open=open_count,
        reports="\n".join(entries) or "-",
    )


async def answer_report(
    session: AsyncSession,
    config: RecruitmentConfig,
    catalog: Catalog,
    report_id: int,
    answer: str,
    actor: str,
    now: datetime,
) -> SobatReport | None:
    """Record staff's answer (cut to `MAX_ANSWER_LENGTH`) and send it to the applicant's
    chat(s), in their language; None if no such report."""
    answer = answer.strip()[:MAX_ANSWER_LENGTH]
    reports = SobatReports(session)
    report = await reports.get(report_id)
    if report is None:
        return None
    applicant = await Applicants(session).get(report.applicant_id)
    if applicant is None:
        return None
    await reports.record_answer(report, answer, actor, now)
    chats = await ChatIdentities(session).addresses_of(applicant.id)
    step = next(
        (
            item
            for item in config.sobat.new_account + config.sobat.existing_account
            if item.key == report.step
        ),
        None,
    )
    title = step.title.get(applicant.language) if step else report.step
    text = catalog.text(
        applicant.language,
        "sobat_answer_notice",
        id=report.id,
        title=title,
        question=report.text[:200],
        answer=answer,
    )
    not_before = config.quiet_hours.next_allowed(now)
    stamp = int(now.timestamp())
    await Outbox(session).enqueue(
        [
            {
                "dedup_key": f"sobat_answer:{report.id}:{stamp}:{channel}",
                "applicant_id": applicant.id,
                "channel": channel,
                "recipient": chat,
                "text": text,
                "urgent": False,
                "state": "queued",
                "attempts": 0,
                "not_before": not_before,
                "created_at": now,
            }
            for channel, chat in chats
        ]
    )
    await Audit(session).record(
        actor, "sobat_report_answered", now, applicant.id, {"report": report.id}
    )
    return report
