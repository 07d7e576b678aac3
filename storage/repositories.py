"""Repositories: intention-revealing queries over one session (one unit of work)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, func, select, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload

from storage.db import insert_for
from storage.models import (
    Applicant,
    AuditEntry,
    ChatIdentity,
    ChatSession,
    Counter,
    DocumentFile,
    ProcessedUpdate,
    RecruitmentFlag,
    StaffMember,
    chat_address,
)

REGISTRATION_CLOSED = "registration_closed"


class Applicants:
    """Applicants and the chat identities that speak for them."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def by_chat(self, channel: str, external_id: str) -> Applicant | None:
        """The applicant behind a chat account, if that account ever wrote."""
        query = (
            select(Applicant)
            .join(ChatIdentity)
            .where(ChatIdentity.channel == channel, ChatIdentity.external_id == external_id)
            .options(joinedload(Applicant.documents))  # one round trip with the documents
        )
        return (await self.session.execute(query)).unique().scalar_one_or_none()

    async def create_for_chat(self, channel: str, external_id: str, now: datetime) -> Applicant:
        """A fresh applicant owned by this chat account (raises IntegrityError on a race)."""
        applicant = Applicant(created_at=now, updated_at=now, eligibility={}, documents=[])
        applicant.identities.append(
            ChatIdentity(channel=channel, external_id=external_id, created_at=now)
        )
        self.session.add(applicant)
        await self.session.flush()
        return applicant

    async def touch_identity(
        self,
        channel: str,
        external_id: str,
        now: datetime,
        address: str | None,
        verified_phone: str | None,
    ) -> None:
        """Note that the user wrote now (WhatsApp's 24-hour window) and where to answer."""
        values: dict[str, Any] = {"last_inbound_at": now}
        if address:
            values["address"] = address
        if verified_phone:
            values["verified_phone"] = verified_phone
        await self.session.execute(
            update(ChatIdentity)
            .where(ChatIdentity.channel == channel, ChatIdentity.external_id == external_id)
            .values(**values)
        )

    async def get(self, applicant_id: int) -> Applicant | None:
        """The applicant with this id, if any."""
        return await self.session.get(Applicant, applicant_id)

    async def with_documents_by_id(self, applicant_id: int) -> Applicant | None:
        """The applicant with this id, with their documents, if any."""
        return await self._one_with_documents(Applicant.id == applicant_id)

    async def _one_with_documents(self, condition: ColumnElement[bool]) -> Applicant | None:
        query = select(Applicant).where(condition).options(selectinload(Applicant.documents))
        return (await self.session.execute(query)).scalar_one_or_none()

    async def by_ids(self, applicant_ids: Iterable[int]) -> list[Applicant]:
        """The applicants with these ids, by id."""
        query = (
            select(Applicant).where(Applicant.id.in_(list(applicant_ids))).order_by(Applicant.id)
        )
        return list((await self.session.execute(query)).scalars())

    async def claim_nik(self, applicant: Applicant, nik: str) -> bool:
        """Give `applicant` this NIK; False, with nothing changed, when another applicant holds
        it. The unique index decides, also against a transaction saving the same NIK at this
        moment (PostgreSQL waits for it to end), in a savepoint that keeps the rest of the turn.
        """
        try:
            async with self.session.begin_nested():
                await self.session.execute(
                    update(Applicant).where(Applicant.id == applicant.id).values(nik=nik)
                )
        except IntegrityError:
            return False
        return True

    async def by_registration_number(self, number: str) -> Applicant | None:
        """The applicant holding a registration number (with their documents)."""
        return await self._one_with_documents(Applicant.registration_number == number)

    async def with_documents(self) -> list[Applicant]:
        """Every applicant that handed in at least one document, with the documents."""
        query = (
            select(Applicant)
            .where(Applicant.documents.any())
            .options(selectinload(Applicant.documents))
            .order_by(Applicant.id)
        )
        return list((await self.session.execute(query)).scalars())

    async def _forget_sessions(self, applicant: Applicant) -> None:
        """Delete the sessions of the applicant's chats (a chat that writes again starts anew)."""
        chats = select(ChatIdentity.channel, ChatIdentity.external_id).where(
            ChatIdentity.applicant_id == applicant.id
        )
        await self.session.execute(
            delete(ChatSession).where(
                tuple_(ChatSession.channel, ChatSession.external_id).in_(chats)
            )
        )

    async def delete(self, applicant: Applicant) -> None:
        """Erase the applicant, their chat identities (with those chats' sessions) and document
        rows for good."""
        await self._forget_sessions(applicant)
        await self.session.execute(
            delete(ChatIdentity).where(ChatIdentity.applicant_id == applicant.id)
        )
        await self.session.delete(applicant)
        await self.session.flush()

    async def merge(self, keep: Applicant, drop: Applicant, chat: ChatIdentity) -> None:
        """Two applicants are one person: `chat` (of `drop`) moves to `keep`, then `drop` is
        erased with whatever else it held (other chats' identities and sessions included)."""
        chat.applicant_id = keep.id
        await self.session.flush()
        await self._forget_sessions(drop)
        await self.session.refresh(drop, attribute_names=["identities"])
        await self.session.delete(drop)
        await self.session.flush()

    async def idle_since(self, cutoff: datetime) -> list[Applicant]:
        """Applicants whose record has not changed since `cutoff` (retention has run out)."""
        query = (
            select(Applicant)
            .where(Applicant.updated_at < cutoff)
            .options(selectinload(Applicant.documents))
            .order_by(Applicant.id)
        )
        return list((await self.session.execute(query)).scalars())

    async def count_confirmed(self) -> int:
        """How many applicants confirmed their registration."""
        query = select(func.count()).where(Applicant.registration_number.is_not(None))
        return (await self.session.execute(query)).scalar_one()

    async def count_all(self) -> int:
        """How many applicants (confirmed or not) are stored."""
        return (await self.session.execute(select(func.count(Applicant.id)))).scalar_one()

    async def count_reminders_stopped(self) -> int:
        """How many applicants stopped reminders."""
        query = select(func.count()).where(Applicant.reminders_off_at.is_not(None))
        return (await self.session.execute(query)).scalar_one()

    async def reminders_stopped(self) -> list[tuple[str | None, str | None, datetime]]:
        """(registration number, name, since when) of who stopped reminders, earliest first."""
        query = (
            select(Applicant.registration_number, Applicant.full_name, Applicant.reminders_off_at)
            .where(Applicant.reminders_off_at.is_not(None))
            .order_by(Applicant.reminders_off_at)
        )
        rows = (await self.session.execute(query)).all()
        return [(number, name, since) for number, name, since in rows]


class ChatIdentities:
    """Chat accounts (channel + platform user id) and where to send to them."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, identity_id: int) -> ChatIdentity | None:
        """The chat identity with this id, if any."""
        return await self.session.get(ChatIdentity, identity_id)

    async def of_chat(self, channel: str, external_id: str) -> ChatIdentity | None:
        """The identity of one chat account, if it ever wrote."""
        query = select(ChatIdentity).where(
            ChatIdentity.channel == channel, ChatIdentity.external_id == external_id
        )
        return (await self.session.execute(query)).scalar_one_or_none()

    async def of_applicant(self, applicant_id: int) -> list[ChatIdentity]:
        """Every chat account that speaks for an applicant, oldest first."""
        query = (
            select(ChatIdentity)
            .where(ChatIdentity.applicant_id == applicant_id)
            .order_by(ChatIdentity.id)
        )
        return list((await self.session.execute(query)).scalars())

    async def addresses_of(self, applicant_id: int) -> list[tuple[str, str]]:
        """(channel, where to send) of every chat of an applicant."""
        query = select(ChatIdentity.channel, chat_address()).where(
            ChatIdentity.applicant_id == applicant_id
        )
        return [(channel, chat) for channel, chat in (await self.session.execute(query)).all()]

    async def proving_phone(
        self, phone: str, other_channel_than: str, other_applicant_than: int
    ) -> ChatIdentity | None:
        """A chat of another applicant, on another channel, that proved the number `phone`."""
        query = select(ChatIdentity).where(
            ChatIdentity.verified_phone == phone,
            ChatIdentity.channel != other_channel_than,
            ChatIdentity.applicant_id != other_applicant_than,
        )
        return (await self.session.execute(query)).scalars().first()


class Documents:
    """Stored document files."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def paths_in_use(self, paths: list[str]) -> set[str]:
        """Which of `paths` some document row still points to."""
        query = select(DocumentFile.path).where(DocumentFile.path.in_(paths))
        return set((await self.session.execute(query)).scalars())

    async def kinds_by_applicant(self, applicant_ids: Iterable[int]) -> dict[int, set[str]]:
        """{applicant id: the kinds of document they handed in} of these applicants (a
        document staff asked for again counts once it comes again)."""
        query = select(DocumentFile.applicant_id, DocumentFile.kind).where(
            DocumentFile.applicant_id.in_(list(applicant_ids)),
            DocumentFile.resend_requested_at.is_(None),
        )
        kinds: dict[int, set[str]] = {}
        for applicant_id, kind in (await self.session.execute(query)).all():
            kinds.setdefault(applicant_id, set()).add(kind)
        return kinds


def dedup_digest(key: str) -> str:
    """What `processed_updates` keeps of a platform's update id: its SHA-256. A WhatsApp
    message id carries the sender's number (base64 inside the wamid), next to a random part
    that makes the digest impossible to reverse by trying numbers."""
    return hashlib.sha256(key.encode()).hexdigest()


class ProcessedUpdates:
    """The deduplication guard for platform re-deliveries."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def first_time(self, channel: str, key: str, now: datetime) -> bool:
        """Record the update (by its digest); False when it was already recorded (a duplicate
        delivery).

        One INSERT … ON CONFLICT DO NOTHING, inside the caller's transaction: if that
        transaction rolls back, the update counts as not processed.
        """
        key = dedup_digest(key)
        result = await self.session.execute(
            insert_for(self.session)(ProcessedUpdate)
            .values(channel=channel, key=key, processed_at=now)
            .on_conflict_do_nothing(index_elements=["channel", "key"])
        )
        return result.rowcount == 1


class Counters:
    """Named sequences."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def next(self, name: str) -> int:
        """The next value of `name`, starting at 1; safe under concurrent transactions."""
        bumped = await self.session.execute(
            update(Counter)
            .where(Counter.name == name)
            .values(value=Counter.value + 1)
            .returning(Counter.value)
        )
        value = bumped.scalar_one_or_none()
        if value is not None:
            return value
        try:
            async with self.session.begin_nested():
                self.session.add(Counter(name=name, value=1))
        except IntegrityError:
            return await self.next(name)
        return 1


class Staff:
    """Staff members added from the command line (settings may name more)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def is_staff(self, channel: str, external_id: str) -> bool:
        """True when this chat identity was added as staff."""
        query = select(StaffMember.id).where(
            StaffMember.channel == channel, StaffMember.external_id == external_id
        )
        return (await self.session.execute(query)).first() is not None

    async def add(
        self, channel: str, external_id: str, name: str, added_by: str, now: datetime
    ) -> bool:
        """Add a staff member; False when they were already staff (also when added at this
        very moment by someone else: the unique constraint decides)."""
        added = await self.session.execute(
            insert_for(self.session)(StaffMember)
            .values(
                channel=channel, external_id=external_id, name=name, added_at=now, added_by=added_by
            )
            .on_conflict_do_nothing(index_elements=["channel", "external_id"])
        )
        return added.rowcount == 1

    async def remove(self, channel: str, external_id: str) -> bool:
        """Withdraw staff rights; False when the identity was not staff."""
        result = await self.session.execute(
            delete(StaffMember).where(
                StaffMember.channel == channel, StaffMember.external_id == external_id
            )
        )
        return bool(result.rowcount)

    async def all(self) -> list[StaffMember]:
        """Every staff member, oldest first."""
        query = select(StaffMember).order_by(StaffMember.added_at)
        return list((await self.session.execute(query)).scalars())


class Flags:
    """Run-time switches staff can flip."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, key: str) -> dict[str, Any] | None:
        """The value of a flag, or None when never set."""
        flag = await self.row(key)
        return flag.value if flag else None

    async def row(self, key: str) -> RecruitmentFlag | None:
        """The flag's row (its value, when and by whom it was set), or None when never set."""
        return await self.session.get(RecruitmentFlag, key)

    async def set(self, key: str, value: dict[str, Any], by: str, now: datetime) -> None:
        """Set a flag, remembering who set it and when (one row per key, also when two set it
        at once: the last one wins)."""
        statement = insert_for(self.session)(RecruitmentFlag).values(
            key=key, value=value, updated_at=now, updated_by=by
        )
        statement = statement.on_conflict_do_update(
            index_elements=["key"],
            set_={
                "value": statement.excluded.value,
                "updated_at": statement.excluded.updated_at,
                "updated_by": statement.excluded.updated_by,
            },
        )
        await self.session.execute(
            statement.returning(RecruitmentFlag).execution_options(populate_existing=True)
        )


class Audit:
    """The audit log: every deletion, staff action and data access worth answering for."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def record(
        self,
        actor: str,
        action: str,
        now: datetime,
        applicant_id: int | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Append one entry."""
        self.session.add(
            AuditEntry(
                at=now,
                actor=actor,
                action=action,
                applicant_id=applicant_id,
                detail=detail or {},
            )
        )
        await self.session.flush()

    async def recent(self, limit: int = 50) -> list[AuditEntry]:
        """The newest entries first."""
        query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
        return list((await self.session.execute(query)).scalars())
