"""Personal data outside the applicant's own rows: found, scrubbed, or past its retention.

Used when an applicant's data is erased (`services.erasure`) and by the daily retention job
(`services.retention`). Every method returns how many rows it changed (logged as counts only).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Text, and_, case, cast, delete, false, func, or_, select
from sqlalchemy import update as sql_update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    Applicant,
    AuditEntry,
    Broadcast,
    ChatSession,
    DocumentFile,
    InboundPayload,
    OutboxMessage,
    ProcessedUpdate,
)

SETTLED = ("sent", "failed", "unreachable", "cancelled")
"""Outbox states after which a message's text is no longer needed."""
ANONYMOUS_ACTOR = "applicant"
"""What an applicant's chat id becomes in the audit log once it is scrubbed."""
AUDIT_DETAIL_KEPT = frozenset(
    {"by", "version", "kind", "kinds", "stage", "before", "after", "step", "path", "fields"}
)
"""Keys of an audit entry's detail that say what happened without saying to whom."""
CHAT_CHANNELS = ("telegram", "whatsapp", "terminal")
"""An actor `channel:id` of these channels is a chat (an applicant's, unless it is staff)."""


def _mentions(column: ColumnElement[Any], values: Collection[str]) -> ColumnElement[bool]:
    """The column's text contains one of `values` (case-insensitive, `%` and `_` literal)."""
    if not values:
        return false()
    return or_(*(column.icontains(value, autoescape=True) for value in values))


def anonymous_detail(detail: dict[str, Any]) -> dict[str, Any]:
    """An audit detail without the keys that could name or single out a person."""
    return {key: value for key, value in detail.items() if key in AUDIT_DETAIL_KEPT}


class PersonalData:
    """Scrubbing and retention over one session."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # ------------------------------------------------------------------ erasure of one person

    async def delete_outbox_to(self, chats: Collection[tuple[str, str]]) -> int:
        """Delete every message to these (channel, recipient) chats, whatever its state."""
        if not chats:
            return 0
        result = await self.session.execute(
            delete(OutboxMessage).where(
                or_(
                    *(
                        and_(OutboxMessage.channel == channel, OutboxMessage.recipient == chat)
                        for channel, chat in chats
                    )
                )
            )
        )
        return result.rowcount or 0

    async def scrub_outbox_mentioning(self, values: Collection[str]) -> int:
        """Blank the text (and buttons) of messages to others that mention one of `values`
        (a staff chat shown the applicant's data); one not sent yet is cancelled."""
        result = await self.session.execute(
            sql_update(OutboxMessage)
            .where(_mentions(OutboxMessage.text, values))
            .values(
                text="",
                buttons=None,
                state=case(
                    (OutboxMessage.state.in_(("queued", "sending")), "cancelled"),
                    else_=OutboxMessage.state,
                ),
            )
        )
        return result.rowcount or 0

    async def delete_sessions_mentioning(self, values: Collection[str]) -> int:
        """Forget the conversation state of any chat (a staff draft) that holds one of
        `values`; that chat starts anew."""
        result = await self.session.execute(
            delete(ChatSession).where(_mentions(cast(ChatSession.data, Text), values))
        )
        return result.rowcount or 0

    async def delete_inbound_matching(self, pattern: re.Pattern[str]) -> int:
        """Delete the stored payloads whose body matches `pattern` (the person's messages and
        delivery reports still waiting)."""
        rows = await self.session.execute(select(InboundPayload.id, InboundPayload.body))
        matched = [stored for stored, body in rows.all() if pattern.search(body)]
        if matched:
            await self.session.execute(delete(InboundPayload).where(InboundPayload.id.in_(matched)))
        return len(matched)

    async def anonymise_audit_of(self, applicant_id: int, actors: Collection[str]) -> int:
        """Audit entries about the applicant or by one of their chats keep what happened and
        when, not to or by whom."""
        query = select(AuditEntry).where(
            or_(AuditEntry.applicant_id == applicant_id, AuditEntry.actor.in_(list(actors)))
        )
        entries = list((await self.session.execute(query)).scalars())
        for entry in entries:
            if entry.actor in actors:
                entry.actor = ANONYMOUS_ACTOR
            entry.applicant_id = None
            entry.detail = anonymous_detail(entry.detail)
        await self.session.flush()
        return len(entries)

    # ------------------------------------------------------------------ retention

    async def delete_dedup_keys_before(self, cutoff: datetime) -> int:
        """Forget the keys of updates handled before `cutoff` (no platform retries that late),
        and the emptied rows of payloads handled then."""
        keys = await self.session.execute(
            delete(ProcessedUpdate).where(ProcessedUpdate.processed_at < cutoff)
        )
        handled = await self.session.execute(
            delete(InboundPayload).where(InboundPayload.handled_at < cutoff)
        )
        return (keys.rowcount or 0) + (handled.rowcount or 0)

    async def delete_inbound_before(self, cutoff: datetime) -> int:
        """Drop accepted payloads still not handled since before `cutoff` (given up)."""
        result = await self.session.execute(
            delete(InboundPayload).where(
                InboundPayload.received_at < cutoff, InboundPayload.handled_at.is_(None)
            )
        )
        return result.rowcount or 0

    async def blank_settled_text_before(self, cutoff: datetime) -> int:
        """Blank the text and buttons of messages settled (sent, failed, …) and queued before
        `cutoff`; the row stays (progress counts, "sent once" keys)."""
        result = await self.session.execute(
            sql_update(OutboxMessage)
            .where(
                OutboxMessage.state.in_(SETTLED),
                OutboxMessage.created_at < cutoff,
                or_(OutboxMessage.text != "", OutboxMessage.buttons.is_not(None)),
            )
            .values(text="", buttons=None)
        )
        return result.rowcount or 0

    async def outbox_files_done_before(self, cutoff: datetime) -> list[str]:
        """Stored files (broadcast attachments, failure CSVs) only settled messages queued
        before `cutoff` point to, and no document."""
        pending = func.sum(case((OutboxMessage.state.in_(SETTLED), 0), else_=1))
        query = (
            select(OutboxMessage.file_path)
            .where(
                OutboxMessage.file_path.is_not(None),
                OutboxMessage.file_path.not_in(select(DocumentFile.path)),
            )
            .group_by(OutboxMessage.file_path)
            .having(func.max(OutboxMessage.created_at) < cutoff, pending == 0)
        )
        return [path for path in (await self.session.execute(query)).scalars() if path]

    async def detach_files(self, paths: Sequence[str]) -> int:
        """Messages and broadcasts no longer point to these stored files (about to be
        deleted)."""
        if not paths:
            return 0
        gone = {"file_path": None, "file_name": None, "file_mime_type": None}
        result = await self.session.execute(
            sql_update(OutboxMessage).where(OutboxMessage.file_path.in_(paths)).values(**gone)
        )
        await self.session.execute(
            sql_update(Broadcast).where(Broadcast.file_path.in_(paths)).values(**gone)
        )
        return result.rowcount or 0

    async def anonymise_audit_before(self, cutoff: datetime, staff: Collection[str]) -> int:
        """Entries older than `cutoff` by an applicant's chat (not staff), and any about an
        applicant no longer stored (erased before this rule existed), keep what happened and
        when, not by or to whom."""
        by_chat = or_(*(AuditEntry.actor.startswith(f"{name}:") for name in CHAT_CHANNELS))
        gone = and_(
            AuditEntry.applicant_id.is_not(None),
            AuditEntry.applicant_id.not_in(select(Applicant.id)),
        )
        query = select(AuditEntry).where(
            or_(and_(AuditEntry.at < cutoff, by_chat, AuditEntry.actor.not_in(list(staff))), gone)
        )
        entries = list((await self.session.execute(query)).scalars())
        living = set(
            (
                await self.session.execute(
                    select(Applicant.id).where(
                        Applicant.id.in_(
                            [
                                entry.applicant_id
                                for entry in entries
                                if entry.applicant_id is not None
                            ]
                        )
                    )
                )
            ).scalars()
        )
        for entry in entries:
            channel = entry.actor.partition(":")[0]
            if channel in CHAT_CHANNELS and entry.actor not in staff and entry.at < cutoff:
                entry.actor = ANONYMOUS_ACTOR
            if entry.applicant_id not in living:
                entry.applicant_id = None
            entry.detail = anonymous_detail(entry.detail)
        await self.session.flush()
        return len(entries)
