"""Chat sessions: where each chat's conversation stands, apart from any applicant's data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, bindparam, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, joinedload

from storage.models import Applicant, ChatIdentity, ChatSession, RecruitmentFlag


def some_chat_at(step: str) -> ColumnElement[bool]:
    """True for an applicant one of whose chats is at `step` (for queries on `Applicant`)."""
    identity = aliased(ChatIdentity)
    at_step = (
        select(ChatSession.id)
        .join(
            identity,
            (identity.channel == ChatSession.channel)
            & (identity.external_id == ChatSession.external_id),
        )
        .where(identity.applicant_id == Applicant.id, ChatSession.step == step)
        .correlate_except(ChatSession, identity)
    )
    return at_step.exists()


@dataclass(frozen=True)
class ChatState:
    """What a turn starts from, read in one query: the chat's session, the applicant it speaks
    for (with their documents), and a flag's row (None when never set)."""

    chat: ChatSession
    applicant: Applicant | None
    flag: RecruitmentFlag | None


_CHAT_STATE = (
    select(ChatSession, Applicant, RecruitmentFlag)
    .outerjoin(
        ChatIdentity,
        (ChatIdentity.channel == ChatSession.channel)
        & (ChatIdentity.external_id == ChatSession.external_id),
    )
    .outerjoin(Applicant, Applicant.id == ChatIdentity.applicant_id)
    .outerjoin(RecruitmentFlag, RecruitmentFlag.key == bindparam("flag"))
    .where(
        ChatSession.channel == bindparam("channel"),
        ChatSession.external_id == bindparam("external_id"),
    )
    .options(joinedload(Applicant.documents))
)
"""Built once: a turn only binds its values (no statement built, its cache key computed once)."""


class ChatSessions:
    """The conversation state of chat accounts (applicants' and staff's alike)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def of_chat(self, channel: str, external_id: str) -> ChatSession | None:
        """The session of one chat account, if it ever wrote."""
        query = select(ChatSession).where(
            ChatSession.channel == channel, ChatSession.external_id == external_id
        )
        return (await self.session.execute(query)).scalar_one_or_none()

    async def state_of(self, channel: str, external_id: str, flag: str) -> ChatState | None:
        """The chat's session with its applicant and the `flag` row, in one query; None when
        the chat has no session yet."""
        parameters = {"channel": channel, "external_id": external_id, "flag": flag}
        row = (await self.session.execute(_CHAT_STATE, parameters)).unique().one_or_none()
        return None if row is None else ChatState(*row)

    async def start(
        self, channel: str, external_id: str, language: str, now: datetime
    ) -> ChatSession:
        """A new conversation at its first step (raises IntegrityError on a race)."""
        chat = ChatSession(
            channel=channel,
            external_id=external_id,
            language=language,
            step="new",
            data={},
            created_at=now,
            updated_at=now,
        )
        self.session.add(chat)
        await self.session.flush()
        return chat

    async def address_of(self, channel: str, external_id: str) -> str:
        """Where the platform delivers to this chat: the address noted when it last wrote (a
        WhatsApp user's wa_id; its session's, else its identity's), else the id itself. Used
        for every message to a chat named by its id (staff chats: `channel:id` in settings)."""
        noted = [
            select(model.address)
            .where(model.channel == channel, model.external_id == external_id)
            .scalar_subquery()
            for model in (ChatSession, ChatIdentity)
        ]
        query = select(func.coalesce(*noted, literal(external_id)))
        return (await self.session.execute(query)).scalar_one()

    async def last_inbound_at(self, channel: str, address: str) -> datetime | None:
        """When the chat reached at `address` (its address or its id) last wrote, if known: as
        its session noted it, or its identity (an applicant's chat, before sessions noted it)."""
        noted = [
            select(func.max(model.last_inbound_at))
            .where(
                model.channel == channel,
                or_(model.address == address, model.external_id == address),
            )
            .scalar_subquery()
            for model in (ChatSession, ChatIdentity)
        ]
        moments = (await self.session.execute(select(*noted))).one()
        return max((moment for moment in moments if moment), default=None)

    async def move(self, channel: str, external_id: str, step: str) -> None:
        """The conversation of a chat goes to `step`, forgetting what its step kept."""
        chat = await self.of_chat(channel, external_id)
        if chat is not None:
            chat.step, chat.data = step, {}
