"""An applicant's documents as staff handle them: which are still to be sent, asking for one
again (the applicant is told in their chat), and reading one (every view audited)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from core.callbacks import MenuButton, MenuItem
from core.catalog import Catalog
from core.recruitment import Document, RecruitmentConfig
from services.profile import missing_documents
from storage.files import FileStore, export_name
from storage.models import DocumentFile
from storage.outbox import Outbox
from storage.repositories import Applicants, Audit, ChatIdentities

MAX_REASON_LENGTH = 300


def documents_to_send(
    config: RecruitmentConfig, documents: Iterable[DocumentFile]
) -> list[Document]:
    """The configured documents still to be sent, in order: not handed in yet, or asked for
    again by staff."""
    return missing_documents(config, {d.kind for d in documents if not d.needs_resend})


class Resend(StrEnum):
    """What asking for a document again did."""

    REQUESTED = "requested"
    NO_APPLICANT = "no_applicant"
    NO_DOCUMENT = "no_document"
    """The applicant has no file of that kind (nothing to send again: it is simply missing)."""
    NO_REASON = "no_reason"


async def request_resend(
    session: AsyncSession,
    config: RecruitmentConfig,
    catalog: Catalog,
    applicant_id: int,
    kind: str,
    reason: str,
    actor: str,
    now: datetime,
) -> Resend:
    """Mark the applicant's `kind` document as to be sent again, and queue (in this
    transaction) a message to each of their chats, in their language, with `reason` and how
    to send it; audited. The old file stays until the new one replaces it."""
    reason = " ".join(reason.split())[:MAX_REASON_LENGTH]
    if not reason:
        return Resend.NO_REASON
    applicant = await Applicants(session).with_documents_by_id(applicant_id)
    if applicant is None:
        return Resend.NO_APPLICANT
    document = next((d for d in applicant.documents if d.kind == kind), None)
    spec = config.document_by_key(kind)
    if document is None or spec is None:
        return Resend.NO_DOCUMENT
    document.resend_requested_at, document.resend_reason = now, reason
    language = applicant.language
    name = spec.name.get(language)
    text = catalog.text(language, "documents_resend_notice", name=name, reason=reason)
    button = {
        "id": MenuButton(MenuItem.DOCUMENTS).pack(),
        "label": catalog.text(language, "summary_documents"),
    }
    await Outbox(session).enqueue(
        [
            {
                "dedup_key": f"resend:{document.id}:{int(now.timestamp())}:{channel}",
                "applicant_id": applicant.id,
                "channel": channel,
                "recipient": chat,
                "text": text,
                "buttons": [button],
                "urgent": False,
                "state": "queued",
                "attempts": 0,
                "not_before": config.quiet_hours.next_allowed(now),
                "created_at": now,
            }
            for channel, chat in await ChatIdentities(session).addresses_of(applicant.id)
        ]
    )
    await Audit(session).record(
        actor, "document_resend_requested", now, applicant.id, {"kind": kind, "reason": reason}
    )
    return Resend.REQUESTED


@dataclass(frozen=True)
class DocumentContent:
    """A stored document's bytes, for staff to look at (serve it with `no-store`)."""

    kind: str
    content: bytes
    mime_type: str
    file_name: str


async def read_document(
    session: AsyncSession, files: FileStore, applicant_id: int, kind: str, actor: str, now: datetime
) -> DocumentContent | None:
    """The applicant's `kind` document, read for staff, with the view in the audit log (who,
    which, when); None when there is no such document."""
    applicant = await Applicants(session).with_documents_by_id(applicant_id)
    document = next((d for d in applicant.documents if d.kind == kind), None) if applicant else None
    if applicant is None or document is None:
        return None
    content = await asyncio.to_thread(files.read, document.path)
    await Audit(session).record(
        actor, "document_viewed", now, applicant.id, {"kind": kind, "sha256": document.sha256}
    )
    owner = applicant.registration_number or f"pendaftar-{applicant.id}"
    return DocumentContent(
        kind, content, document.mime_type, export_name(owner, kind, document.path)
    )
