"""Stage results and their publication: the queries behind import, status and announcements."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import insert_for
from storage.models import Applicant, ChatIdentity, StagePublication, StageResult, chat_address

CHUNK = 900
"""Ids per IN (...) list: below SQLite's variable limit, friendly to PostgreSQL's planner."""


def _chunks(values: Iterable[Any]) -> Iterable[list[Any]]:
    items = list(values)
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


class StageResults:
    """Per-applicant, per-stage results over one session."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def of_applicants(
        self, applicant_ids: Iterable[int]
    ) -> dict[int, dict[str, StageResult]]:
        """Every recorded result of these applicants: {applicant id: {stage: result}}."""
        found: dict[int, dict[str, StageResult]] = {}
        for chunk in _chunks(set(applicant_ids)):
            query = select(StageResult).where(StageResult.applicant_id.in_(chunk))
            for result in (await self.session.execute(query)).scalars():
                found.setdefault(result.applicant_id, {})[result.stage] = result
        return found

    async def of_applicant(self, applicant_id: int) -> dict[str, StageResult]:
        """One applicant's results by stage."""
        return (await self.of_applicants([applicant_id])).get(applicant_id, {})

    async def record(
        self,
        applicant_id: int,
        stage: str,
        outcome: str,
        note: str | None,
        by: str,
        now: datetime,
        source: str,
        existing: StageResult | None,
    ) -> None:
        """Set (or overwrite) the result of one applicant at one stage: one row per applicant
        and stage, also when another transaction writes the first one at this very moment."""
        if existing is not None:
            existing.outcome, existing.note = outcome, note
            existing.set_by, existing.set_at, existing.source = by, now, source
            await self.session.flush()
            return
        values = {"outcome": outcome, "note": note, "set_by": by, "set_at": now, "source": source}
        await self.session.execute(
            insert_for(self.session)(StageResult)
            .values(applicant_id=applicant_id, stage=stage, **values)
            .on_conflict_do_update(index_elements=["applicant_id", "stage"], set_=values)
        )

    async def counts(self) -> dict[str, dict[str, int]]:
        """{stage: {outcome: how many}} over every applicant."""
        query = select(StageResult.stage, StageResult.outcome, func.count()).group_by(
            StageResult.stage, StageResult.outcome
        )
        counts: dict[str, dict[str, int]] = {}
        for stage, outcome, count in (await self.session.execute(query)).all():
            counts.setdefault(stage, {})[outcome] = count
        return counts

    async def without_result(self, stage: str, previous: str | None) -> int:
        """Confirmed applicants still waiting for `stage` (those who passed `previous`, if any)."""
        recorded = select(StageResult.applicant_id).where(
            StageResult.stage == stage, StageResult.outcome != "pending"
        )
        query = select(func.count(Applicant.id)).where(
            Applicant.registration_number.is_not(None), Applicant.id.not_in(recorded)
        )
        if previous is not None:
            passed = select(StageResult.applicant_id).where(
                StageResult.stage == previous, StageResult.outcome == "passed"
            )
            query = query.where(Applicant.id.in_(passed))
        return (await self.session.execute(query)).scalar_one()

    async def recipients(
        self, stage: str, page: int
    ) -> AsyncIterator[list[tuple[int, str, str | None, str | None, str, str | None, str, str]]]:
        """(applicant id, language, name, registration number, outcome, note, channel, chat) of
        every chat to tell its decided result at `stage`, by applicant, `page` rows at a time:
        one query whose rows are fetched as they are used (a server-side cursor), so memory
        stays flat whatever their number; the session may run other statements between pages."""
        query = (
            select(
                Applicant.id,
                Applicant.language,
                Applicant.full_name,
                Applicant.registration_number,
                StageResult.outcome,
                StageResult.note,
                ChatIdentity.channel,
                chat_address(),
            )
            .join(StageResult, StageResult.applicant_id == Applicant.id)
            .join(ChatIdentity, ChatIdentity.applicant_id == Applicant.id)
            .where(StageResult.stage == stage, StageResult.outcome.in_(("passed", "not_passed")))
            .order_by(Applicant.id, ChatIdentity.id)
            .execution_options(yield_per=page)
        )
        result = await self.session.stream(query)
        async for rows in result.partitions():
            yield [tuple(row) for row in rows]

    async def final_list(self) -> list[tuple[str | None, str | None, str | None]]:
        """(registration number, name, kecamatan code) of everyone who passed, by number."""
        query = (
            select(Applicant.registration_number, Applicant.full_name, Applicant.kecamatan)
            .join(StageResult, StageResult.applicant_id == Applicant.id)
            .where(StageResult.stage == "final", StageResult.outcome == "passed")
            .order_by(Applicant.registration_number, Applicant.id)
        )
        return [tuple(row) for row in (await self.session.execute(query)).all()]

    async def matching(
        self, numbers: Iterable[str], niks: Iterable[str], emails: Iterable[str] = ()
    ) -> list[Applicant]:
        """Applicants holding any of these registration numbers, NIKs or SOBAT e-mails."""
        found: dict[int, Applicant] = {}
        email = func.lower(Applicant.sobat_email)
        for column, values in (
            (Applicant.registration_number, numbers),
            (Applicant.nik, niks),
            (email, emails),
        ):
            for chunk in _chunks(set(values)):
                query = select(Applicant).where(column.in_(chunk))
                for applicant in (await self.session.execute(query)).scalars():
                    found[applicant.id] = applicant
        return list(found.values())


class Publications:
    """Which stages' results staff released, and when."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def all(self) -> dict[str, StagePublication]:
        """Every published stage."""
        rows = (await self.session.execute(select(StagePublication))).scalars()
        return {publication.stage: publication for publication in rows}

    async def mark(self, stage: str, by: str, now: datetime) -> bool:
        """Record that `stage` is published; False when it already was, or is being published
        at this very moment by someone else (the first time stays)."""
        marked = await self.session.execute(
            insert_for(self.session)(StagePublication)
            .values(stage=stage, published_at=now, published_by=by)
            .on_conflict_do_nothing(index_elements=["stage"])
        )
        return marked.rowcount == 1
