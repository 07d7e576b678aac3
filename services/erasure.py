"""Erasing one applicant: every personal value about them, in every table and stored file.

One implementation for the applicant's own "hapus data", `mitrabot data purge` and the daily
retention job. What stays is an audit entry saying that an applicant's data was erased, when
and by whom (the applicant, retention, or a named staff member), without any identifier.
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.broadcasts import refresh_failure_reports
from storage.files import FileStore
from storage.models import Applicant, ChatIdentity
from storage.privacy import ANONYMOUS_ACTOR, PersonalData
from storage.repositories import Applicants, Audit, ChatIdentities

MIN_MENTION = 6
"""Shorter values (a short name, a small chat id) are not searched for in others' texts."""


def phone_forms(phone: str) -> set[str]:
    """The ways a stored number (+628…, or a wa_id 628…) is written: +628…, 628…, 08…."""
    digits = re.sub(r"\D", "", phone)
    if not digits.startswith("62"):
        return {digits} if digits else set()
    national = digits[2:]
    return {digits, f"+{digits}", f"0{national}"}


def personal_values(applicant: Applicant, identities: list[ChatIdentity]) -> set[str]:
    """What identifies the applicant in a text: name, NIK, e-mails, phone numbers in every
    form, registration number and chat ids."""
    values = {
        applicant.full_name,
        applicant.nik,
        applicant.email,
        applicant.sobat_email,
        applicant.registration_number,
    }
    phones = [applicant.phone] + [i.verified_phone or i.address for i in identities]
    for phone in phones:
        values |= phone_forms(phone or "")
    values |= {identity.external_id for identity in identities}
    return {value for value in values if value and len(value) >= MIN_MENTION}


def payload_pattern(identities: list[ChatIdentity], values: set[str]) -> re.Pattern[str]:
    """What finds the person in a raw webhook body: one of `values` as a whole word, or a
    chat id as a JSON string or as the number of an `"id"` (a Telegram user)."""
    ids = {i.external_id for i in identities} | {i.address for i in identities if i.address}
    parts = [rf"(?<![\w.]){re.escape(value)}(?!\w)" for value in sorted(values)]
    parts += [rf'"{re.escape(chat)}"|"id":\s*{re.escape(chat)}(?!\d)' for chat in sorted(ids)]
    return re.compile("|".join(parts), re.IGNORECASE)


async def erase_applicant(
    session: AsyncSession,
    applicant: Applicant,
    *,
    actor: str,
    by: str,
    now: datetime,
    files: FileStore,
) -> list[str]:
    """Erase the applicant and every trace of them (see the module); the stored files to
    delete once the transaction is committed (`storage.files.forget_unreferenced`).

    `actor` is who asked (a staff member or operator; the applicant is written as
    "applicant"), `by` why: applicant, staff or retention.
    """
    identities = await ChatIdentities(session).of_applicant(applicant.id)
    values = personal_values(applicant, identities)
    chats = {(i.channel, i.external_id) for i in identities}
    chats |= {(i.channel, i.address) for i in identities if i.address}
    actors = {f"{i.channel}:{i.external_id}" for i in identities}
    paths = [document.path for document in applicant.documents]
    privacy = PersonalData(session)
    await privacy.delete_outbox_to(chats)
    await privacy.scrub_outbox_mentioning(values)
    await privacy.delete_sessions_mentioning(values)
    await privacy.delete_inbound_matching(payload_pattern(identities, values))
    await privacy.anonymise_audit_of(applicant.id, actors)
    await Applicants(session).delete(applicant)
    paths += await refresh_failure_reports(session, files)
    who = ANONYMOUS_ACTOR if actor in actors else actor
    await Audit(session).record(who, "applicant_deleted", now, detail={"by": by})
    return paths
