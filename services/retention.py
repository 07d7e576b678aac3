"""Retention: what is kept only for a while, removed by the daily job (and `mitrabot data purge`).

Periods come from the recruitment config (`consent.retention_months`, `retention.*`). Running it
twice, or in two processes, removes nothing more the second time. It reports counts only.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from core.recruitment import RecruitmentConfig
from services.erasure import erase_applicant
from storage.db import Database
from storage.files import FileStore, forget_unreferenced
from storage.privacy import PersonalData
from storage.repositories import Applicants, Staff

RETENTION_ACTOR = "system:retention"


async def purge_expired(
    session: AsyncSession,
    config: RecruitmentConfig,
    now: datetime,
    files: FileStore,
    *,
    actor: str,
    apply: bool,
) -> tuple[int, list[str]]:
    """Applicants unchanged for longer than `consent.retention_months`: how many, and (with
    `apply`) erase them; the stored files to delete after the commit."""
    expired = await Applicants(session).idle_since(config.consent.applicant_cutoff(now))
    paths: list[str] = []
    if apply:
        for applicant in expired:
            paths += await erase_applicant(
                session, applicant, actor=actor, by="retention", now=now, files=files
            )
    return len(expired), paths


async def run_retention(
    db: Database,
    config: RecruitmentConfig,
    files: FileStore,
    now: datetime,
    staff: frozenset[str] = frozenset(),
) -> dict[str, int]:
    """Remove everything past its period; how many of each kind were removed."""
    periods = config.retention
    async with db.transaction() as session:
        privacy = PersonalData(session)
        applicants, paths = await purge_expired(
            session, config, now, files, actor=RETENTION_ACTOR, apply=True
        )
        stored_files = await privacy.outbox_files_done_before(
            now - timedelta(days=periods.files_days)
        )
        await privacy.detach_files(stored_files)
        members = {f"{m.channel}:{m.external_id}" for m in await Staff(session).all()}
        audit_cutoff = now - timedelta(days=round(periods.audit_months * 30.44))
        counts = {
            "applicants": applicants,
            "dedup_keys": await privacy.delete_dedup_keys_before(
                now - timedelta(days=periods.dedup_days)
            ),
            "inbound_payloads": await privacy.delete_inbound_before(
                now - timedelta(days=periods.inbound_days)
            ),
            "message_texts": await privacy.blank_settled_text_before(
                now - timedelta(days=periods.sent_text_days)
            ),
            "files": len(stored_files),
            "audit_entries": await privacy.anonymise_audit_before(audit_cutoff, staff | members),
        }
    await forget_unreferenced(db, files, paths + stored_files)
    await db.forget_history()
    return counts
