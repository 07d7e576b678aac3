"""Reminders: who a reminder is for, and the receipts that let each go out once per applicant."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Select, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.broadcasts import Recipient, audience_query
from storage.chat_sessions import some_chat_at
from storage.db import insert_for
from storage.models import (
    Applicant,
    ChatIdentity,
    ReminderReceipt,
    StaffMember,
    chat_address,
)
from storage.sobat import enrolled


@dataclass(frozen=True)
class ReminderTarget:
    """Who one reminder is for, in the database's terms (before the once-only check).

    - `audience`: everyone in a broadcast audience (`audience_kind`, `audience_value`);
    - `not_enrolled`: registered (or started the SOBAT guide) but none of `enrolment_steps`
      done;
    - `unregistered`: no registration number and not ineligible; with `silent_since`, only
      those whose record has not changed since.

    Nobody without consent, nobody who stopped reminders, no staff chat (added as staff, or
    named `channel:id` in `staff`), nobody who has the receipt `key` already.
    """

    key: str
    group: Literal["audience", "not_enrolled", "unregistered"]
    audience_kind: str = "all"
    audience_value: str | None = None
    enrolment_steps: Collection[str] = ()
    silent_since: datetime | None = None
    staff: frozenset[str] = frozenset()


def _candidates(target: ReminderTarget, after: int = 0) -> Select[Any]:
    """Recipient rows of `target` with an applicant id above `after` (one page; the bound is
    repeated where PostgreSQL's planner needs it)."""
    if target.group == "audience":
        query = audience_query(target.audience_kind, target.audience_value)
    else:
        query = select(
            Applicant.id,
            ChatIdentity.channel,
            chat_address(),
            Applicant.full_name,
            Applicant.registration_number,
        ).join(ChatIdentity, ChatIdentity.applicant_id == Applicant.id)
        if target.group == "not_enrolled":
            query = query.where(
                Applicant.registration_number.is_not(None) | Applicant.sobat_path.is_not(None),
                ~enrolled(target.enrolment_steps),
            )
        else:
            query = query.where(
                Applicant.registration_number.is_(None), ~some_chat_at("ineligible")
            )
        if target.silent_since is not None:
            query = query.where(Applicant.updated_at < target.silent_since)
    received = select(ReminderReceipt.id).where(
        ReminderReceipt.applicant_id == Applicant.id,
        ReminderReceipt.applicant_id > after,
        ReminderReceipt.key == target.key,
    )
    staff_chat = select(StaffMember.id).where(
        StaffMember.channel == ChatIdentity.channel,
        StaffMember.external_id == ChatIdentity.external_id,
    )
    query = query.where(
        Applicant.id > after,
        ChatIdentity.applicant_id > after,
        Applicant.consent_at.is_not(None),
        Applicant.reminders_off_at.is_(None),
        ~received.exists(),
        ~staff_chat.exists(),
    )
    for identity in target.staff:
        channel, _, external_id = identity.partition(":")
        query = query.where(
            ~and_(ChatIdentity.channel == channel, ChatIdentity.external_id == external_id)
        )
    return query


class Reminders:
    """Reminder candidates and receipts over one session."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def candidates(self, target: ReminderTarget, after: int, limit: int) -> list[Recipient]:
        """The next page of chats `target` is for: applicant id above `after`, by id."""
        query = _candidates(target, after).order_by(Applicant.id).limit(limit)
        return [Recipient(*row) for row in (await self.session.execute(query)).all()]

    async def count_reach(self, target: ReminderTarget) -> int:
        """How many applicants `target` is for now."""
        ids = _candidates(target).with_only_columns(Applicant.id).distinct().subquery()
        query = select(func.count()).select_from(ids)
        return (await self.session.execute(query)).scalar_one()

    async def claim_receipts(
        self, applicant_ids: Sequence[int], key: str, now: datetime
    ) -> set[int]:
        """Add (applicant, key) receipts; the applicants for whom it was new (unique
        constraint)."""
        if not applicant_ids:
            return set()
        statement = (
            insert_for(self.session)(ReminderReceipt.__table__)
            .on_conflict_do_nothing(index_elements=["applicant_id", "key"])
            .returning(ReminderReceipt.applicant_id)
        )
        rows = [{"applicant_id": a, "key": key, "at": now} for a in applicant_ids]
        # An executemany: compiled once, still sent as multi-row INSERT … RETURNING batches.
        return set((await self.session.execute(statement, rows)).scalars())
