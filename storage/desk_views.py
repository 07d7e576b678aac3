"""The staff desk's queries: the funnel's counts, registrations per day and per kecamatan, and
the applicant list (filtered, sorted, paged). What each step means is given by the services
(`Definitions`), so the SQL says the same as the rules the chat applies."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Boolean,
    ColumnElement,
    and_,
    case,
    cast,
    func,
    or_,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import defer

from core.applicant_filter import (
    PASSED_PREFIX,
    ApplicantFilter,
    FunnelStep,
    SobatState,
    SortKey,
)
from storage.models import Applicant, ChatIdentity, DocumentFile, SobatProgress, StageResult
from storage.sobat import enrolled


@dataclass(frozen=True)
class Definitions:
    """The recruitment's terms the queries are written in (from the config and the services)."""

    required_items: tuple[str, ...]
    """Keys of `Applicant.eligibility` that must all be answered yes (eligible)."""
    profile_fields: tuple[str, ...]
    """`Applicant` columns that must all be answered (profile complete)."""
    documents: tuple[str, ...]
    """Document kinds that must all be handed in (documents complete)."""
    enrolment_steps: frozenset[str]
    """SOBAT steps of which one done means enrolled on SOBAT."""
    kecamatan_names: tuple[tuple[str, str], ...]
    """(code, name) of every kecamatan, to sort by name."""
    time_zone: str
    """The recruitment's time zone (what a day is)."""


class AnsweredYes(ColumnElement[bool]):
    """True for an applicant who answered yes to every one of `keys` of their eligibility
    answers (the JSON `{"1": true, ...}`); each database compiles it its fastest way."""

    type = Boolean()
    inherit_cache = False

    def __init__(self, keys: Sequence[str]) -> None:
        self.keys = tuple(keys)


@compiles(AnsweredYes)
def _answered_yes(element: AnsweredYes, compiler: Any, **kw: Any) -> str:
    answers = Applicant.eligibility
    every = _all(answers[key].as_boolean() == True for key in element.keys)  # noqa: E712
    return compiler.process(every, **kw)


@compiles(AnsweredYes, "postgresql")
def _answered_yes_postgresql(element: AnsweredYes, compiler: Any, **kw: Any) -> str:
    # One conversion of the JSON per row, not one parse per key.
    contains = cast(Applicant.eligibility, JSONB).contains(dict.fromkeys(element.keys, True))
    return compiler.process(contains, **kw)


def has_document(kind: str) -> ColumnElement[bool]:
    """True for an applicant who handed in a document of `kind` (not asked for again)."""
    handed_in = select(DocumentFile.applicant_id).where(
        DocumentFile.kind == kind, DocumentFile.resend_requested_at.is_(None)
    )
    return Applicant.id.in_(handed_in)


def has_documents(kinds: Collection[str]) -> ColumnElement[bool]:
    """True for an applicant who handed in a document of every one of `kinds`, none of them
    asked for again (one row per applicant and kind: a unique constraint)."""
    every = (
        select(DocumentFile.applicant_id)
        .where(DocumentFile.kind.in_(kinds), DocumentFile.resend_requested_at.is_(None))
        .group_by(DocumentFile.applicant_id)
        .having(func.count() == len(set(kinds)))
    )
    return Applicant.id.in_(every)


def stage_outcome(stage: str, outcome: str) -> ColumnElement[bool]:
    """True for an applicant with `outcome` recorded at `stage` (`none`: no result there).
    (`IN` an uncorrelated subquery: read once per query, not once per applicant.)"""
    recorded = select(StageResult.applicant_id).where(StageResult.stage == stage)
    if outcome == "none":
        return Applicant.id.not_in(recorded)
    return Applicant.id.in_(recorded.where(StageResult.outcome == outcome))


def _all(conditions: Iterable[ColumnElement[bool]]) -> ColumnElement[bool]:
    return and_(true(), *conditions)


def _any(conditions: Iterable[ColumnElement[bool]]) -> ColumnElement[bool]:
    listed = list(conditions)
    return or_(*listed) if listed else true()


def step_condition(defs: Definitions, step: str) -> ColumnElement[bool]:
    """Who a funnel step counts (`FunnelStep`, or `passed:<stage>`)."""
    if step.startswith(PASSED_PREFIX):
        return stage_outcome(step.removeprefix(PASSED_PREFIX), "passed")
    match FunnelStep(step):
        case FunnelStep.STARTED:
            return true()
        case FunnelStep.CONSENTED:
            return Applicant.consent_at.is_not(None)
        case FunnelStep.ELIGIBLE:
            return AnsweredYes(defs.required_items)
        case FunnelStep.PROFILE_COMPLETE:
            return _all(getattr(Applicant, name).is_not(None) for name in defs.profile_fields)
        case FunnelStep.DOCUMENTS_COMPLETE:
            return has_documents(defs.documents)
        case FunnelStep.REGISTERED:
            return Applicant.registration_number.is_not(None)
        case FunnelStep.SOBAT_DONE:
            return enrolled(defs.enrolment_steps)


def sobat_state(enrolment_steps: Collection[str]) -> ColumnElement[str]:
    """The applicant's `SobatState`: enrolled, else stuck on a step, else started, else not."""
    progress = select(SobatProgress.applicant_id)
    stuck = Applicant.id.in_(progress.where(SobatProgress.state == "stuck"))
    started = Applicant.sobat_path.is_not(None) | Applicant.id.in_(progress)
    return case(
        (enrolled(enrolment_steps), SobatState.ENROLLED.value),
        (stuck, SobatState.STUCK.value),
        (started, SobatState.STARTED.value),
        else_=SobatState.NOT_STARTED.value,
    )


def _search(text: str) -> ColumnElement[bool]:
    """A NIK (16 digits) exactly; else a name or a registration number containing the text."""
    typed = text.strip()
    if typed.isdigit() and len(typed) == 16:
        return Applicant.nik == typed
    return or_(
        func.lower(Applicant.full_name).contains(typed.lower(), autoescape=True),
        Applicant.registration_number.contains(typed.upper(), autoescape=True),
    )


def day_bounds(day: date, time_zone: str) -> tuple[datetime, datetime]:
    """The first moment of `day` in the zone and of the day after."""
    zone = ZoneInfo(time_zone)
    start = datetime.combine(day, time(), tzinfo=zone)
    return start, datetime.combine(day + timedelta(days=1), time(), tzinfo=zone)


def _on_day(column: Any, day: date, time_zone: str) -> ColumnElement[bool]:
    start, end = day_bounds(day, time_zone)
    return and_(column >= start, column < end)


def filter_conditions(defs: Definitions, view: ApplicantFilter) -> list[ColumnElement[bool]]:
    """The WHERE of `view` (every condition must hold)."""
    conditions: list[ColumnElement[bool]] = []
    if view.search and view.search.strip():
        conditions.append(_search(view.search))
    if view.step is not None:
        conditions.append(step_condition(defs, view.step))
    if view.kecamatan is not None:
        conditions.append(Applicant.kecamatan == view.kecamatan)
    if view.stage is not None:
        conditions.append(stage_outcome(view.stage.stage, view.stage.outcome))
    if view.missing_fields:
        conditions.append(_any(getattr(Applicant, name).is_(None) for name in view.missing_fields))
    if view.missing_documents:
        conditions.append(_any(~has_document(kind) for kind in view.missing_documents))
    if view.sobat is not None:
        conditions.append(sobat_state(defs.enrolment_steps) == view.sobat.value)
    if view.channel is not None:
        chat = select(ChatIdentity.id).where(
            ChatIdentity.applicant_id == Applicant.id, ChatIdentity.channel == view.channel
        )
        conditions.append(chat.exists())
    if view.consent is not None:
        given = Applicant.consent_at.is_not(None)
        conditions.append(given if view.consent == "given" else ~given)
    if view.started_on is not None:
        conditions.append(_on_day(Applicant.created_at, view.started_on, defs.time_zone))
    if view.registered_on is not None:
        conditions.append(_on_day(Applicant.confirmed_at, view.registered_on, defs.time_zone))
    return conditions


def _order(defs: Definitions, view: ApplicantFilter) -> list[Any]:
    """ORDER BY of `view`: the key (empty values last either way), then the applicant id.
    Names sort without regard to case; a kecamatan by its name."""
    names = dict(defs.kecamatan_names)
    key: Any = {
        SortKey.NAME: func.lower(Applicant.full_name),
        SortKey.NUMBER: Applicant.registration_number,
        SortKey.REGISTERED_AT: Applicant.confirmed_at,
        SortKey.KECAMATAN: func.lower(
            case(names, value=Applicant.kecamatan, else_=Applicant.kecamatan)
        ),
    }[view.sort]
    ordered = key.desc() if view.descending else key.asc()
    return [ordered.nulls_last(), Applicant.id]


def _local_day(session: AsyncSession, column: Any, time_zone: str) -> ColumnElement[Any]:
    """The day of `column` in the zone: PostgreSQL by the zone's name; SQLite by its offset
    (the zones of Indonesia keep one offset all year)."""
    if session.bind.dialect.name == "postgresql":
        return func.date(func.timezone(time_zone, column))
    offset = ZoneInfo(time_zone).utcoffset(datetime(2000, 1, 1))
    minutes = int(offset.total_seconds() // 60) if offset else 0
    return func.date(column, f"{minutes:+d} minutes")


def _as_date(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


class DeskViews:
    """The funnel and the applicant list over one session."""

    def __init__(self, session: AsyncSession, defs: Definitions) -> None:
        self.session = session
        self.defs = defs

    async def funnel(self, steps: Sequence[str]) -> dict[str, int]:
        """{step: how many applicants it counts}, in one pass over the applicants."""
        columns = [
            func.count().filter(step_condition(self.defs, step)).label(f"s{i}")
            for i, step in enumerate(steps)
        ]
        row = (await self.session.execute(select(*columns).select_from(Applicant))).one()
        return dict(zip(steps, row, strict=True))

    async def per_day(self) -> dict[date, tuple[int, int]]:
        """{day: (started, registered)} over every day one of them happened."""
        days: dict[date, list[int]] = {}
        for index, column in enumerate((Applicant.created_at, Applicant.confirmed_at)):
            day = _local_day(self.session, column, self.defs.time_zone)
            query = select(day, func.count()).where(column.is_not(None)).group_by(day)
            for value, count in (await self.session.execute(query)).all():
                days.setdefault(_as_date(value), [0, 0])[index] = count
        return {day: (started, registered) for day, (started, registered) in days.items()}

    async def registered_per_kecamatan(self) -> dict[str | None, int]:
        """{kecamatan code (None: not answered): how many registered}."""
        query = (
            select(Applicant.kecamatan, func.count())
            .where(step_condition(self.defs, FunnelStep.REGISTERED))
            .group_by(Applicant.kecamatan)
        )
        return {code: count for code, count in (await self.session.execute(query)).all()}

    async def count(self, view: ApplicantFilter) -> int:
        """How many applicants `view` shows over all its pages."""
        query = select(func.count()).select_from(Applicant)
        query = query.where(*filter_conditions(self.defs, view))
        return (await self.session.execute(query)).scalar_one()

    async def rows(
        self, view: ApplicantFilter, offset: int, limit: int
    ) -> list[tuple[Applicant, str]]:
        """(applicant, `SobatState` value) of `limit` applicants of `view` from `offset`, in its
        order. (The page's ids first: the rest is read for those rows only, not for every row
        sorted before them.)"""
        ids_query = (
            select(Applicant.id)
            .where(*filter_conditions(self.defs, view))
            .order_by(*_order(self.defs, view))
            .offset(offset)
            .limit(limit)
        )
        ids = list((await self.session.execute(ids_query)).scalars())
        query = (
            select(Applicant, sobat_state(self.defs.enrolment_steps))
            .where(Applicant.id.in_(ids))
            .options(defer(Applicant.language))  # type: ignore[attr-defined]
        )
        found = {
            applicant.id: (applicant, state)
            for applicant, state in await self.session.execute(query)
        }
        return [found[applicant_id] for applicant_id in ids]

    async def channels_of(self, applicant_ids: Collection[int]) -> dict[int, list[str]]:
        """{applicant id: the channels of their chats, sorted} of these applicants."""
        query = (
            select(ChatIdentity.applicant_id, ChatIdentity.channel)
            .where(ChatIdentity.applicant_id.in_(list(applicant_ids)))
            .distinct()
            .order_by(ChatIdentity.applicant_id, ChatIdentity.channel)
        )
        channels: dict[int, list[str]] = {}
        for applicant_id, channel in (await self.session.execute(query)).all():
            channels.setdefault(applicant_id, []).append(channel)
        return channels
