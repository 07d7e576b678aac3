"""The SOBAT guide as stored: each applicant's progress per step, and their stuck reports."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import insert_for
from storage.models import Applicant, SobatProgress, SobatReport


def enrolled(enrolment_steps: Collection[str]) -> ColumnElement[bool]:
    """True for an applicant who marked one of `enrolment_steps` done (registered on SOBAT;
    for queries on `Applicant`; `IN` an uncorrelated subquery, read once per query)."""
    done = select(SobatProgress.applicant_id).where(
        SobatProgress.step.in_(enrolment_steps), SobatProgress.state == "done"
    )
    return Applicant.id.in_(done)


class SobatSteps:
    """Where applicants are on each SOBAT step (done or stuck)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def of_applicant(self, applicant_id: int) -> dict[str, str]:
        """{step key: done | stuck} of one applicant."""
        query = select(SobatProgress.step, SobatProgress.state).where(
            SobatProgress.applicant_id == applicant_id
        )
        return {key: state for key, state in (await self.session.execute(query)).all()}

    async def set(self, applicant_id: int, step: str, state: str, now: datetime) -> None:
        """Mark one step of one applicant `done` or `stuck` (one row per applicant and step)."""
        await self.session.execute(
            insert_for(self.session)(SobatProgress)
            .values(applicant_id=applicant_id, step=step, state=state, updated_at=now)
            .on_conflict_do_update(
                index_elements=["applicant_id", "step"],
                set_={"state": state, "updated_at": now},
            )
        )

    async def done_by(self, applicant_ids: Iterable[int]) -> dict[int, set[str]]:
        """{applicant id: the steps they marked done} of these applicants."""
        query = select(SobatProgress.applicant_id, SobatProgress.step).where(
            SobatProgress.applicant_id.in_(list(applicant_ids)), SobatProgress.state == "done"
        )
        done: dict[int, set[str]] = {}
        for applicant_id, step in (await self.session.execute(query)).all():
            done.setdefault(applicant_id, set()).add(step)
        return done

    async def applicants_per_path(self) -> dict[str, int]:
        """{path: how many applicants chose it} (new or existing SOBAT account)."""
        query = (
            select(Applicant.sobat_path, func.count())
            .where(Applicant.sobat_path.is_not(None))
            .group_by(Applicant.sobat_path)
        )
        return {path: count for path, count in (await self.session.execute(query)).all()}

    async def counts_on_path(self, path: str) -> dict[tuple[str, str], int]:
        """{(step, state): how many applicants} among those on `path`."""
        query = (
            select(SobatProgress.step, SobatProgress.state, func.count())
            .join(Applicant, Applicant.id == SobatProgress.applicant_id)
            .where(Applicant.sobat_path == path)
            .group_by(SobatProgress.step, SobatProgress.state)
        )
        rows = (await self.session.execute(query)).all()
        return {(step, state): count for step, state, count in rows}


class SobatReports:
    """Applicants' reports of being stuck on SOBAT, and staff's answers."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, applicant_id: int, step: str, text: str, now: datetime) -> SobatReport:
        """Store a new open report (its id is set on return)."""
        report = SobatReport(
            applicant_id=applicant_id, step=step, text=text, created_at=now, state="open"
        )
        self.session.add(report)
        await self.session.flush()
        return report

    async def get(self, report_id: int) -> SobatReport | None:
        """The report with this id, if any."""
        return await self.session.get(SobatReport, report_id)

    async def record_answer(self, report: SobatReport, answer: str, by: str, now: datetime) -> None:
        """Staff answered the report: it is no longer open."""
        report.answer, report.answered_by, report.answered_at = answer, by, now
        report.state = "answered"
        await self.session.flush()

    async def of_applicant(self, applicant_id: int) -> list[SobatReport]:
        """One applicant's reports, oldest first."""
        query = (
            select(SobatReport)
            .where(SobatReport.applicant_id == applicant_id)
            .order_by(SobatReport.id)
        )
        return list((await self.session.execute(query)).scalars())

    async def oldest_open(self, limit: int) -> list[tuple[SobatReport, str | None, str | None]]:
        """Up to `limit` open reports, oldest first, each with the applicant's registration
        number and name."""
        query = (
            select(SobatReport, Applicant.registration_number, Applicant.full_name)
            .join(Applicant, Applicant.id == SobatReport.applicant_id)
            .where(SobatReport.state == "open")
            .order_by(SobatReport.id)
            .limit(limit)
        )
        rows = (await self.session.execute(query)).all()
        return [(report, number, name) for report, number, name in rows]

    async def newest(
        self, answered: bool, limit: int
    ) -> list[tuple[SobatReport, str | None, str | None]]:
        """Up to `limit` reports, newest first (open ones only unless `answered`), each with
        the applicant's registration number and name."""
        query = (
            select(SobatReport, Applicant.registration_number, Applicant.full_name)
            .join(Applicant, Applicant.id == SobatReport.applicant_id)
            .order_by(SobatReport.created_at.desc(), SobatReport.id.desc())
            .limit(limit)
        )
        if not answered:
            query = query.where(SobatReport.state == "open")
        rows = (await self.session.execute(query)).all()
        return [(report, number, name) for report, number, name in rows]

    async def count_open(self) -> int:
        """How many reports wait for an answer."""
        query = select(func.count()).where(SobatReport.state == "open")
        return (await self.session.execute(query)).scalar_one()
