"""The staff inbox as data: SOBAT stuck reports and questions handed to a person, and answering
one (the same functions as `/sobat_jawab` and `/jawab`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from core.catalog import Catalog
from core.recruitment import RecruitmentConfig
from services.questions import answer_question
from services.sobat import answer_report
from storage.questions import Questions
from storage.sobat import SobatReports

INBOX_SHOWN = 100


class ItemKind(StrEnum):
    """Where an inbox item comes from."""

    SOBAT = "sobat"
    """An applicant stuck on a SOBAT step (`topic`: the step's title)."""
    QUESTION = "question"
    """A typed question handed to a person (`topic`: the FAQ topic the bot thought closest)."""


@dataclass(frozen=True)
class InboxItem:
    """One report or question: who, when, what, and staff's answer once given."""

    kind: ItemKind
    item_id: int
    applicant_id: int | None
    number: str | None
    name: str | None
    topic: str | None
    text: str
    created_at: datetime
    state: str
    """open or answered."""
    answer: str | None
    answered_by: str | None
    answered_at: datetime | None


async def inbox(
    session: AsyncSession,
    config: RecruitmentConfig,
    answered: bool = False,
    limit: int = INBOX_SHOWN,
    language: str = "id",
) -> list[InboxItem]:
    """The open items (and the answered ones too with `answered`), newest first, at most
    `limit`."""
    steps = {step.key: step for step in config.sobat.new_account + config.sobat.existing_account}
    items = [
        InboxItem(
            ItemKind.SOBAT,
            report.id,
            report.applicant_id,
            number,
            name,
            steps[report.step].title.get(language) if report.step in steps else report.step,
            report.text,
            report.created_at,
            report.state,
            report.answer,
            report.answered_by,
            report.answered_at,
        )
        for report, number, name in await SobatReports(session).newest(answered, limit)
    ]
    items += [
        InboxItem(
            ItemKind.QUESTION,
            question.id,
            question.applicant_id,
            number,
            name,
            question.suggested,
            question.text,
            question.created_at,
            question.state,
            question.answer,
            question.answered_by,
            question.answered_at,
        )
        for question, number, name in await Questions(session).newest(answered, limit)
    ]
    items.sort(key=lambda item: (item.created_at, item.item_id), reverse=True)
    return items[:limit]


async def answer_item(
    session: AsyncSession,
    config: RecruitmentConfig,
    catalog: Catalog,
    kind: ItemKind,
    item_id: int,
    answer: str,
    actor: str,
    now: datetime,
) -> bool:
    """Answer one item: recorded, marked answered, audited, and sent to the applicant's chat
    through the outbox in their language. False when there is no such item (or no answer)."""
    answer = answer.strip()
    if not answer:
        return False
    if kind is ItemKind.SOBAT:
        report = await answer_report(session, config, catalog, item_id, answer, actor, now)
        return report is not None
    question = await answer_question(session, config, catalog, item_id, answer, actor, now)
    return question is not None
