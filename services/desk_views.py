"""What the staff desk shows of the recruitment: the funnel, registrations per day and per
kecamatan, and the applicant list (filtered, sorted, paged, exported to XLSX).

Each funnel step is a list filter (`ApplicantFilter(step=...)`), and both are one SQL condition
(`storage.desk_views.step_condition`), written from the same rules the chat applies: the
profile's fields (`services.profile`), the configured documents and required items, SOBAT's
enrolment steps (`services.sobat`), the stages (`services.results`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.applicant_filter import (
    PAGE_SIZE,
    PASSED_PREFIX,
    ApplicantFilter,
    FunnelStep,
    SobatState,
)
from core.catalog import Catalog
from core.formatting import format_datetime
from core.recruitment import RecruitmentConfig
from services.broadcasts import STAFF_LANGUAGE
from services.profile import OUTSIDE, PROFILE_FIELDS, missing_documents, missing_fields
from services.results import FINAL, stage_keys, stage_label
from services.sobat import enrolment_steps
from services.spreadsheet_export import xlsx_bytes
from storage.desk_views import Definitions, DeskViews
from storage.repositories import Audit, Documents
from storage.results import StageResults

EXPORT_BATCH = 500
"""Applicants read at a time while exporting a whole view."""


class FilterError(ValueError):
    """A filter naming something the recruitment does not have (a stage, a field, ...)."""


def definitions(config: RecruitmentConfig) -> Definitions:
    """The recruitment's terms, as the desk's queries take them."""
    return Definitions(
        required_items=tuple(str(item.number) for item in config.required_items),
        profile_fields=PROFILE_FIELDS,
        documents=tuple(document.key for document in config.documents),
        enrolment_steps=frozenset(enrolment_steps(config)),
        kecamatan_names=tuple((k.code, k.name) for k in config.kecamatan),
        time_zone=config.timezone,
    )


def funnel_steps(config: RecruitmentConfig) -> list[str]:
    """Every funnel step in order: started … SOBAT done, then passed each stage, then final."""
    return [step.value for step in FunnelStep] + [
        f"{PASSED_PREFIX}{stage}" for stage in stage_keys(config)
    ]


def step_label(config: RecruitmentConfig, catalog: Catalog, step: str) -> str:
    """What staff read for a funnel step ("Lulus Tahap 1 Seleksi Administrasi", "Calon mitra")."""
    if not step.startswith(PASSED_PREFIX):
        return catalog.text(STAFF_LANGUAGE, f"desk_funnel_{step}")
    stage = step.removeprefix(PASSED_PREFIX)
    if stage == FINAL:
        return catalog.text(STAFF_LANGUAGE, "desk_funnel_final")
    label = stage_label(config, catalog, STAFF_LANGUAGE, stage)
    return catalog.text(STAFF_LANGUAGE, "desk_funnel_passed", stage=label)


def check_filter(config: RecruitmentConfig, view: ApplicantFilter) -> None:
    """Raise FilterError when `view` names a step, stage, kecamatan, field or document the
    recruitment does not have."""
    stages = stage_keys(config)
    kecamatan = {k.code for k in config.kecamatan} | {OUTSIDE}
    documents = {document.key for document in config.documents}
    wrong = [
        *([view.step] if view.step and view.step not in funnel_steps(config) else []),
        *([view.stage.stage] if view.stage and view.stage.stage not in stages else []),
        *([view.kecamatan] if view.kecamatan and view.kecamatan not in kecamatan else []),
        *(name for name in view.missing_fields if name not in PROFILE_FIELDS),
        *(key for key in view.missing_documents if key not in documents),
    ]
    if wrong:
        raise FilterError(f"unknown in this recruitment: {', '.join(wrong)}")


@dataclass(frozen=True)
class FunnelCount:
    """One step of the funnel: how many, and the list of exactly them."""

    step: str
    label: str
    count: int
    view: ApplicantFilter


async def funnel(
    session: AsyncSession, config: RecruitmentConfig, catalog: Catalog
) -> list[FunnelCount]:
    """Every funnel step with its count, in order (one query)."""
    steps = funnel_steps(config)
    counts = await DeskViews(session, definitions(config)).funnel(steps)
    return [
        FunnelCount(
            step, step_label(config, catalog, step), counts[step], ApplicantFilter(step=step)
        )
        for step in steps
    ]


@dataclass(frozen=True)
class DayCount:
    """Applicants who started, and who registered, on one day (the recruitment's zone)."""

    day: date
    started: int
    registered: int

    @property
    def started_view(self) -> ApplicantFilter:
        return ApplicantFilter(started_on=self.day)

    @property
    def registered_view(self) -> ApplicantFilter:
        return ApplicantFilter(registered_on=self.day)


async def registrations_per_day(session: AsyncSession, config: RecruitmentConfig) -> list[DayCount]:
    """One entry per day from the first to the last day anyone started or registered (days
    without either included, with zeros), oldest first."""
    counted = await DeskViews(session, definitions(config)).per_day()
    if not counted:
        return []
    first, last = min(counted), max(counted)
    days = (first + timedelta(days=n) for n in range((last - first).days + 1))
    return [DayCount(day, *counted.get(day, (0, 0))) for day in days]


@dataclass(frozen=True)
class KecamatanCount:
    """Registered applicants of one kecamatan (`luar`: outside the regency), against its quota."""

    code: str
    name: str
    registered: int
    quota: int | None
    view: ApplicantFilter


@dataclass(frozen=True)
class KecamatanTally:
    """Registrations per kecamatan of the config, then outside the regency; the total against
    the recruitment's quota (when set)."""

    rows: list[KecamatanCount]
    total: int
    quota: int | None


async def registrations_per_kecamatan(
    session: AsyncSession, config: RecruitmentConfig, catalog: Catalog
) -> KecamatanTally:
    """Registered applicants per kecamatan (every kecamatan of the config, zeros too)."""
    counts = await DeskViews(session, definitions(config)).registered_per_kecamatan()
    places = [(k.code, k.name, k.quota) for k in config.kecamatan]
    places.append((OUTSIDE, _kecamatan_name(config, catalog, OUTSIDE), None))
    registered = FunnelStep.REGISTERED.value
    rows = [
        KecamatanCount(
            code, name, counts.get(code, 0), quota, ApplicantFilter(step=registered, kecamatan=code)
        )
        for code, name, quota in places
    ]
    return KecamatanTally(rows, sum(counts.values()), config.quota)


@dataclass(frozen=True)
class ApplicantRow:
    """One line of the list (never a NIK, phone number or e-mail)."""

    applicant_id: int
    name: str | None
    registration_number: str | None
    kecamatan: str | None
    """The kecamatan's name (`luar`'s label outside the regency), None when not answered."""
    channels: list[str]
    missing_fields: list[str]
    """Profile answers not given, in asking order (`field_<name>` in the catalog)."""
    missing_documents: list[str]
    """Document keys not handed in, in the config's order."""
    results: dict[str, str]
    """{stage: passed | not_passed | pending} of the stages with a recorded result."""
    sobat: SobatState
    started_at: datetime
    registered_at: datetime | None


@dataclass(frozen=True)
class ApplicantPage:
    """One page of a view: its rows, how many the whole view has, and how many pages."""

    rows: list[ApplicantRow]
    total: int
    page: int
    pages: int
    view: ApplicantFilter


def _kecamatan_name(config: RecruitmentConfig, catalog: Catalog, code: str) -> str:
    """The kecamatan's name ("Luar Pamekasan" outside the regency)."""
    if code == OUTSIDE:
        return catalog.text(STAFF_LANGUAGE, "kecamatan_outside", regency=config.office.regency_name)
    kecamatan = config.kecamatan_by_code(code)
    return kecamatan.name if kecamatan else code


async def _rows(
    session: AsyncSession,
    config: RecruitmentConfig,
    catalog: Catalog,
    views: DeskViews,
    view: ApplicantFilter,
    offset: int,
    limit: int,
) -> list[ApplicantRow]:
    found = await views.rows(view, offset, limit)
    ids = [applicant.id for applicant, _ in found]
    kinds = await Documents(session).kinds_by_applicant(ids)
    results = await StageResults(session).of_applicants(ids)
    channels = await views.channels_of(ids)
    return [
        ApplicantRow(
            applicant_id=applicant.id,
            name=applicant.full_name,
            registration_number=applicant.registration_number,
            kecamatan=applicant.kecamatan and _kecamatan_name(config, catalog, applicant.kecamatan),
            channels=channels.get(applicant.id, []),
            missing_fields=missing_fields(applicant),
            missing_documents=[
                document.key
                for document in missing_documents(config, kinds.get(applicant.id, set()))
            ],
            results={
                stage: result.outcome for stage, result in results.get(applicant.id, {}).items()
            },
            sobat=SobatState(state),
            started_at=applicant.created_at,
            registered_at=applicant.confirmed_at,
        )
        for applicant, state in found
    ]


async def applicant_page(
    session: AsyncSession, config: RecruitmentConfig, catalog: Catalog, view: ApplicantFilter
) -> ApplicantPage:
    """The page `view.page` of `view` (PAGE_SIZE rows; an empty list past the last page)."""
    check_filter(config, view)
    views = DeskViews(session, definitions(config))
    total = await views.count(view)
    offset = (view.page - 1) * PAGE_SIZE
    rows = await _rows(session, config, catalog, views, view, offset, PAGE_SIZE)
    return ApplicantPage(rows, total, view.page, max(1, math.ceil(total / PAGE_SIZE)), view)


def results_summary(config: RecruitmentConfig, catalog: Catalog, results: dict[str, str]) -> str:
    """'Tahap 1: lulus; Tahap 2: tidak lulus' of the stages with a result, in stage order."""
    return "; ".join(
        f"{stage_label(config, catalog, STAFF_LANGUAGE, stage, short=True)}: "
        + catalog.text(STAFF_LANGUAGE, f"res_outcome_{results[stage]}")
        for stage in stage_keys(config)
        if stage in results
    )


def _export_line(config: RecruitmentConfig, catalog: Catalog, row: ApplicantRow) -> list[Any]:
    tz = config.tz
    missing = [catalog.text(STAFF_LANGUAGE, f"field_{name}") for name in row.missing_fields]
    missing += [
        document.name.get(STAFF_LANGUAGE)
        for document in config.documents
        if document.key in row.missing_documents
    ]
    registered = row.registered_at
    return [
        row.registration_number or "",
        row.name or "",
        row.kecamatan or "",
        ", ".join(row.channels),
        ", ".join(missing),
        results_summary(config, catalog, row.results),
        catalog.text(STAFF_LANGUAGE, f"desk_sobat_{row.sobat.value}"),
        format_datetime(row.started_at.astimezone(tz), STAFF_LANGUAGE),
        format_datetime(registered.astimezone(tz), STAFF_LANGUAGE) if registered else "",
    ]


async def export_xlsx(
    session: AsyncSession, config: RecruitmentConfig, catalog: Catalog, view: ApplicantFilter
) -> tuple[bytes, int]:
    """Every row of `view` (all pages, in its order) as an inert XLSX, and how many rows."""
    check_filter(config, view)
    views = DeskViews(session, definitions(config))
    lines: list[list[Any]] = []
    for offset in range(0, await views.count(view), EXPORT_BATCH):
        batch = await _rows(session, config, catalog, views, view, offset, EXPORT_BATCH)
        lines += [_export_line(config, catalog, row) for row in batch]
    header = catalog.text(STAFF_LANGUAGE, "desk_export_columns").split("|")
    return xlsx_bytes(header, lines), len(lines)


async def export_view(
    session: AsyncSession,
    config: RecruitmentConfig,
    catalog: Catalog,
    view: ApplicantFilter,
    actor: str,
    now: datetime,
) -> tuple[bytes, int]:
    """`export_xlsx` of `view`, audited (`applicants_exported`: who, when, how many rows and
    the filter; a search's text is not kept, it may be a NIK)."""
    content, count = await export_xlsx(session, config, catalog, view)
    conditions = view.model_dump(mode="json", exclude_defaults=True, exclude={"search", "page"})
    detail = {"rows": count, "filter": conditions, "searched": view.search is not None}
    await Audit(session).record(actor, "applicants_exported", now, detail=detail)
    return content, count
