"""Questions handed over to staff: the inbox, staff's answers, and phrasings staff teach the FAQ.

Each function takes a session and plain values, so the chat (`/jawab`), the command line
(`mitrabot questions …`) and a web desk later call the same rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.catalog import DEFAULT_LANGUAGE, Catalog
from core.formatting import format_datetime
from core.recruitment import RecruitmentConfig
from services.faq import topics_of
from storage.chat_sessions import ChatSessions
from storage.models import Question
from storage.outbox import Outbox
from storage.questions import LearnedPhrasings, Questions
from storage.repositories import Audit, Staff

MAX_QUESTION_LENGTH = 500
MAX_ANSWER_LENGTH = 1000
OPEN_SHOWN = 20


@dataclass(frozen=True)
class Asker:
    """Who asked, and where the answer goes."""

    applicant_id: int | None
    channel: str
    recipient: str
    language: str
    actor: str
    """The chat identity, for the audit log."""


async def learned_phrasings(session: AsyncSession) -> list[tuple[str, str]]:
    """The (topic, phrasing) pairs staff added, for `faq_index`."""
    return await LearnedPhrasings(session).pairs()


async def staff_chats(session: AsyncSession, named: frozenset[str]) -> list[tuple[str, str]]:
    """Every staff chat, those named in settings and those added, as (channel, where to send):
    the address the chat last wrote from (a WhatsApp wa_id) when known, else its id."""
    chats = {tuple(identity.split(":", 1)) for identity in named if ":" in identity}
    chats |= {(member.channel, member.external_id) for member in await Staff(session).all()}
    sessions = ChatSessions(session)
    return sorted({(channel, await sessions.address_of(channel, chat)) for channel, chat in chats})


async def hand_over(
    session: AsyncSession,
    config: RecruitmentConfig,
    catalog: Catalog,
    asker: Asker,
    text: str,
    suggested: str | None,
    staff: list[tuple[str, str]],
    now: datetime,
) -> Question:
    """Store the question with a number and tell every staff chat (through the outbox)."""
    question = await Questions(session).add(
        Question(
            applicant_id=asker.applicant_id,
            channel=asker.channel,
            recipient=asker.recipient,
            language=asker.language,
            text=text[:MAX_QUESTION_LENGTH],
            suggested=suggested,
            created_at=now,
            state="open",
        )
    )
    notice = catalog.text(
        DEFAULT_LANGUAGE,
        "staff_question_notice",
        id=question.id,
        who=asker.actor,
        text=question.text,
    )
    await Outbox(session).enqueue(
        [
            _queued(
                f"question:{question.id}:staff:{channel}:{chat}",
                asker.applicant_id,
                (channel, chat),
                notice,
                config,
                now,
            )
            for channel, chat in staff
        ]
    )
    await Audit(session).record(
        asker.actor, "question_handed_over", now, asker.applicant_id, {"question": question.id}
    )
    return question


async def answer_question(
    session: AsyncSession,
    config: RecruitmentConfig,
    catalog: Catalog,
    question_id: int,
    answer: str,
    actor: str,
    now: datetime,
) -> Question | None:
    """Record staff's answer and send it to the chat that asked, in its language; None if no
    such question. Answering again sends the new answer."""
    questions = Questions(session)
    question = await questions.get(question_id)
    if question is None:
        return None
    answer = answer[:MAX_ANSWER_LENGTH]
    await questions.record_answer(question, answer, actor, now)
    text = catalog.text(
        question.language,
        "question_answer_notice",
        id=question.id,
        question=question.text[:200],
        answer=answer,
    )
    key = f"question:{question.id}:answer:{int(now.timestamp())}"
    chat = (question.channel, question.recipient)
    await Outbox(session).enqueue([_queued(key, question.applicant_id, chat, text, config, now)])
    await Audit(session).record(
        actor, "question_answered", now, question.applicant_id, {"question": question.id}
    )
    return question


def _queued(
    key: str,
    applicant_id: int | None,
    chat: tuple[str, str],
    text: str,
    config: RecruitmentConfig,
    now: datetime,
) -> dict[str, Any]:
    """An outbox row to (channel, recipient), sent outside quiet hours."""
    channel, recipient = chat
    return {
        "dedup_key": key,
        "applicant_id": applicant_id,
        "channel": channel,
        "recipient": recipient,
        "text": text,
        "urgent": False,
        "state": "queued",
        "attempts": 0,
        "not_before": config.quiet_hours.next_allowed(now),
        "created_at": now,
    }


async def inbox_text(
    session: AsyncSession, config: RecruitmentConfig, catalog: Catalog, language: str
) -> str:
    """The open questions, oldest first, with the topic the bot thought closest."""
    questions = Questions(session)
    entries = [
        catalog.text(
            language,
            "staff_question_entry",
            id=question.id,
            when=format_datetime(question.created_at.astimezone(config.tz), language),
            channel=question.channel,
            text=question.text,
            suggested=question.suggested or "-",
        )
        for question in await questions.oldest_open(OPEN_SHOWN)
    ]
    return catalog.text(
        language,
        "staff_questions",
        open=await questions.count_open(),
        entries="\n\n".join(entries) or "-",
    )


class Learned(StrEnum):
    """What teaching a phrasing did."""

    ADDED = "added"
    KNOWN = "known"
    NO_QUESTION = "no_question"
    NO_TOPIC = "no_topic"


async def learn_phrasing(
    session: AsyncSession,
    config: RecruitmentConfig,
    question_id: int,
    topic: str,
    actor: str,
    now: datetime,
    text: str | None = None,
) -> Learned:
    """Make question `question_id`'s words (or `text`) a phrasing of FAQ topic `topic`: every
    process of the bot matches it from its next message on (see `faq_index`)."""
    question = await Questions(session).get(question_id)
    if question is None:
        return Learned.NO_QUESTION
    if topic not in {known.key for known in topics_of(config)}:
        return Learned.NO_TOPIC
    phrasing = (text or question.text).strip()[:MAX_QUESTION_LENGTH]
    if not await LearnedPhrasings(session).add(topic, phrasing, question.id, actor, now):
        return Learned.KNOWN
    await Audit(session).record(
        actor, "faq_phrasing_added", now, None, {"question": question.id, "topic": topic}
    )
    return Learned.ADDED
