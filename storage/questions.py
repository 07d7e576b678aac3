"""Questions handed to staff and their answers; phrasings staff added to the FAQ."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import insert_for
from storage.models import Applicant, LearnedPhrasing, Question


class Questions:
    """The staff inbox of typed questions."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, question: Question) -> Question:
        """Store a new open question (its id is set on return)."""
        self.session.add(question)
        await self.session.flush()
        return question

    async def get(self, question_id: int) -> Question | None:
        """The question with this id, if any."""
        return await self.session.get(Question, question_id)

    async def record_answer(self, question: Question, answer: str, by: str, now: datetime) -> None:
        """Staff answered: the question is no longer open."""
        question.answer, question.answered_by, question.answered_at = answer, by, now
        question.state = "answered"
        await self.session.flush()

    async def oldest_open(self, limit: int) -> list[Question]:
        """Up to `limit` open questions, oldest first."""
        query = select(Question).where(Question.state == "open").order_by(Question.id).limit(limit)
        return list((await self.session.execute(query)).scalars())

    async def newest(
        self, answered: bool, limit: int
    ) -> list[tuple[Question, str | None, str | None]]:
        """Up to `limit` questions, newest first (open ones only unless `answered`), each with
        the asker's registration number and name (None for a chat without an applicant)."""
        query = (
            select(Question, Applicant.registration_number, Applicant.full_name)
            .outerjoin(Applicant, Applicant.id == Question.applicant_id)
            .order_by(Question.created_at.desc(), Question.id.desc())
            .limit(limit)
        )
        if not answered:
            query = query.where(Question.state == "open")
        rows = (await self.session.execute(query)).all()
        return [(question, number, name) for question, number, name in rows]

    async def count_open(self) -> int:
        """How many questions wait for an answer."""
        query = select(func.count()).where(Question.state == "open")
        return (await self.session.execute(query)).scalar_one()


class LearnedPhrasings:
    """Phrasings staff added to the config's FAQ topics."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(
        self, topic: str, text: str, question_id: int | None, by: str, now: datetime
    ) -> bool:
        """Add one; False when the topic has it already."""
        added = await self.session.execute(
            insert_for(self.session)(LearnedPhrasing)
            .values(topic=topic, text=text, question_id=question_id, added_by=by, added_at=now)
            .on_conflict_do_nothing(index_elements=["topic", "text"])
        )
        return added.rowcount == 1

    async def pairs(self) -> list[tuple[str, str]]:
        """Every (topic, phrasing), oldest first."""
        query = select(LearnedPhrasing.topic, LearnedPhrasing.text).order_by(LearnedPhrasing.id)
        return [(topic, text) for topic, text in (await self.session.execute(query)).all()]
