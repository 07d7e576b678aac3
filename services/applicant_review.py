"""Everything staff review of one applicant, as data (the desk's review page renders it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from core.catalog import Catalog
from core.recruitment import RecruitmentConfig
from services.profile import PROFILE_FIELDS, preferred_status, shown_value
from services.result_report import outcome_label
from services.results import stage_keys, stage_label
from storage.models import SobatReport
from storage.repositories import Applicants, ChatIdentities
from storage.results import Publications, StageResults
from storage.sobat import SobatReports, SobatSteps

STAFF_LANGUAGE = "id"


@dataclass(frozen=True)
class ProfileLine:
    """One profile answer: the field, its label and the value as people read it."""

    field: str
    label: str
    value: str


@dataclass(frozen=True)
class DocumentView:
    """One configured document of the applicant: `status` is received, resend_requested or
    missing (then every file fact is None)."""

    kind: str
    name: str
    status: str
    document_id: int | None = None
    received_at: datetime | None = None
    mime_type: str | None = None
    size: int | None = None
    width: int | None = None
    height: int | None = None
    pages: int | None = None
    resend_reason: str | None = None
    resend_requested_at: datetime | None = None


@dataclass(frozen=True)
class PreferredView:
    """A 'diutamakan' item and whether the profile shows it (None: not answered yet)."""

    text: str
    met: bool | None


@dataclass(frozen=True)
class StageView:
    """The applicant's result at one stage (`outcome` None: nothing recorded)."""

    stage: str
    label: str
    outcome: str | None
    outcome_label: str
    note: str | None
    set_by: str | None
    set_at: datetime | None
    published: bool


@dataclass(frozen=True)
class SobatStepView:
    """One step of the applicant's SOBAT path: done, stuck, or None (not yet)."""

    key: str
    title: str
    state: str | None


@dataclass(frozen=True)
class ChatView:
    """A chat account that speaks for the applicant."""

    channel: str
    external_id: str
    verified_phone: str | None
    last_inbound_at: datetime | None


@dataclass(frozen=True)
class ApplicantReview:
    """One applicant as the review page shows them. Withdrawing consent erases the data, so a
    withdrawn applicant has no review; `consent_at` None means consent was never given."""

    applicant_id: int
    registration_number: str | None
    full_name: str | None
    created_at: datetime
    confirmed_at: datetime | None
    consent_at: datetime | None
    consent_version: str | None
    guardian_consent_at: datetime | None
    reminders_off_at: datetime | None
    language: str
    chats: list[ChatView]
    profile: list[ProfileLine]
    documents: list[DocumentView]
    preferred: list[PreferredView]
    results: list[StageView]
    sobat_path: str | None
    sobat_email: str | None
    sobat_steps: list[SobatStepView]
    sobat_reports: list[SobatReport]


async def applicant_review(
    session: AsyncSession,
    config: RecruitmentConfig,
    catalog: Catalog,
    applicant_id: int,
    now: datetime,
    language: str = STAFF_LANGUAGE,
) -> ApplicantReview | None:
    """What the review page shows of one applicant (labels in `language`); None if no such
    applicant. Reads only: a document's bytes come from `services.documents.read_document`."""
    applicant = await Applicants(session).with_documents_by_id(applicant_id)
    if applicant is None:
        return None
    profile = [
        ProfileLine(
            name,
            catalog.text(language, f"field_{name}"),
            shown_value(config, catalog, language, applicant, name, now),
        )
        for name in PROFILE_FIELDS
    ]
    held = {document.kind: document for document in applicant.documents}
    documents = []
    for spec in config.documents:
        name = spec.name.get(language)
        document = held.get(spec.key)
        if document is None:
            documents.append(DocumentView(spec.key, name, "missing"))
            continue
        documents.append(
            DocumentView(
                spec.key,
                name,
                "resend_requested" if document.needs_resend else "received",
                document.id,
                document.received_at,
                document.mime_type,
                document.size,
                document.width,
                document.height,
                document.pages,
                document.resend_reason,
                document.resend_requested_at,
            )
        )
    results = await StageResults(session).of_applicant(applicant.id)
    published = await Publications(session).all()
    stages = []
    for stage in stage_keys(config):
        result = results.get(stage)
        outcome = result.outcome if result else None
        stages.append(
            StageView(
                stage,
                stage_label(config, catalog, language, stage),
                outcome,
                outcome_label(catalog, language, outcome),
                result.note if result else None,
                result.set_by if result else None,
                result.set_at if result else None,
                stage in published,
            )
        )
    progress = await SobatSteps(session).of_applicant(applicant.id)
    path = config.sobat.path(applicant.sobat_path) if applicant.sobat_path else []
    chats = await ChatIdentities(session).of_applicant(applicant.id)
    return ApplicantReview(
        applicant_id=applicant.id,
        registration_number=applicant.registration_number,
        full_name=applicant.full_name,
        created_at=applicant.created_at,
        confirmed_at=applicant.confirmed_at,
        consent_at=applicant.consent_at,
        consent_version=applicant.consent_version,
        guardian_consent_at=applicant.guardian_consent_at,
        reminders_off_at=applicant.reminders_off_at,
        language=applicant.language,
        chats=[
            ChatView(chat.channel, chat.external_id, chat.verified_phone, chat.last_inbound_at)
            for chat in chats
        ],
        profile=profile,
        documents=documents,
        preferred=[
            PreferredView(item.text.get(language), met)
            for item, met in preferred_status(config, applicant, now)
        ],
        results=stages,
        sobat_path=applicant.sobat_path,
        sobat_email=applicant.sobat_email,
        sobat_steps=[
            SobatStepView(step.key, step.title.get(language), progress.get(step.key))
            for step in path
        ],
        sobat_reports=await SobatReports(session).of_applicant(applicant.id),
    )
