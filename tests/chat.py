"""A scripted applicant talking to the conversation core, with helpers to read the answers."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from core.clock import Clock
from core.recruitment import RecruitmentConfig
from core.types import (
    Channel,
    FileKind,
    FileTooLarge,
    FileUnavailable,
    Incoming,
    IncomingFile,
    Reply,
)
from handlers.conversation import Conversation
from scheduler.jobs import Jobs
from storage.chat_sessions import ChatSessions
from storage.models import Applicant, AuditEntry, ChatIdentity, ChatSession
from tests import images

ELIGIBLE_ANSWERS = 8
# The answer that meets each required item: item 1 (not ASN) has its own buttons, not Ya/Tidak.
ELIGIBLE_CHOICES = ["elig:met"] + ["elig:yes"] * (ELIGIBLE_ANSWERS - 1)

PROFILE_ANSWERS: list[tuple[str, str]] = [
    ("text", "Siti Aminah"),
    ("text", "3528015708950003"),  # 17-08-1995, female (day + 40), Tlanakan
    ("text", "Pamekasan"),
    ("text", "17-08-1995"),
    ("choice", "f:sex:P"),
    ("text", "Dusun Krajan RT 02 RW 01, Desa Tlanakan"),
    ("choice", "f:kecamatan:35.28.01"),
    ("text", "0812-3456-7890"),
    ("text", "siti.aminah@example.com"),
    ("choice", "f:education:sma"),
    ("choice", "f:experience:yes"),
    ("choice", "f:gadget:yes"),
    ("choice", "f:motorbike:no"),
]


class MemoryFiles:
    """A FileSource holding what the test 'uploaded', by file id."""

    def __init__(self) -> None:
        self.contents: dict[str, bytes] = {}
        self.fetched: list[str] = []

    async def fetch(self, file: IncomingFile, max_bytes: int) -> bytes:
        self.fetched.append(file.file_id)
        content = self.contents.get(file.file_id)
        if content is None:
            raise FileUnavailable(file.file_id)
        if len(content) > max_bytes:
            raise FileTooLarge(file.file_id)
        return content


class Chat:
    """One user of one channel; `replies` holds the answers to the last message sent."""

    def __init__(
        self, conversation: Conversation, user_id: str, channel: Channel = Channel.TELEGRAM
    ) -> None:
        self.conversation = conversation
        self.user_id = user_id
        self.channel = channel
        self.replies: list[Reply] = []
        self.files = MemoryFiles()

    async def send(self, text: str, **extra: Any) -> list[Reply]:
        """Type a text (or a command)."""
        return await self._handle(
            Incoming(channel=self.channel, user_id=self.user_id, text=text, **extra)
        )

    async def press(self, choice: str, **extra: Any) -> list[Reply]:
        """Press a button."""
        return await self._handle(
            Incoming(channel=self.channel, user_id=self.user_id, choice=choice, **extra)
        )

    async def upload(self, file: IncomingFile) -> list[Reply]:
        """Send a file, photo or sticker."""
        return await self._handle(Incoming(channel=self.channel, user_id=self.user_id, file=file))

    async def send_file(
        self,
        content: bytes,
        kind: FileKind = FileKind.PHOTO,
        mime_type: str | None = None,
        file_name: str | None = None,
        media_group_id: str | None = None,
    ) -> list[Reply]:
        """Send these bytes as a photo (or a document), as a platform would hand them over."""
        file_id = f"file-{len(self.files.contents) + 1}"
        self.files.contents[file_id] = content
        file = IncomingFile(
            kind=kind,
            file_id=file_id,
            mime_type=mime_type,
            size=len(content),
            file_name=file_name,
            media_group_id=media_group_id,
        )
        return await self.upload(file)

    async def _handle(self, incoming: Incoming) -> list[Reply]:
        self.replies = (await self.conversation.handle(incoming, self.files)).replies
        return self.replies

    @property
    def text(self) -> str:
        """All reply texts of the last answer, joined."""
        return "\n\n".join(reply.text for reply in self.replies)

    @property
    def buttons(self) -> list[str]:
        """The button ids of the last reply that has buttons."""
        for reply in reversed(self.replies):
            if reply.buttons:
                return [button.id for button in reply.buttons]
        return []

    async def applicant(self) -> Applicant | None:
        """The stored applicant behind this chat."""
        async with self.conversation.db.transaction() as session:
            query = (
                select(Applicant)
                .join(ChatIdentity)
                .where(
                    ChatIdentity.channel == self.channel.value,
                    ChatIdentity.external_id == self.user_id,
                )
                .options(selectinload(Applicant.documents))
            )
            return (await session.execute(query)).scalar_one_or_none()

    async def session(self) -> ChatSession | None:
        """This chat's conversation state (step, step data, language)."""
        async with self.conversation.db.transaction() as session:
            return await ChatSessions(session).of_chat(self.channel.value, self.user_id)

    async def audit_actions(self) -> list[str]:
        """Every audit action recorded so far, oldest first."""
        async with self.conversation.db.transaction() as session:
            query = select(AuditEntry.action).order_by(AuditEntry.id)
            return list((await session.execute(query)).scalars())

    async def start_registration(self) -> None:
        """From nothing to the first eligibility question (consent given)."""
        await self.send("/start")
        await self.press("menu:register")
        await self.press("consent:yes")

    async def pass_eligibility(self) -> None:
        for choice in ELIGIBLE_CHOICES:
            await self.press(choice)

    async def fill_profile(self, answers: list[tuple[str, str]] = PROFILE_ANSWERS) -> None:
        for kind, value in answers:
            if kind == "text":
                await self.send(value)
            else:
                await self.press(value)

    async def hand_in_documents(self) -> None:
        """Good pictures of the photo, the KTP and the diploma, in the order asked."""
        for content in (images.good_photo(), images.good_ktp(), images.good_diploma()):
            await self.send_file(content)

    async def register(self) -> None:
        """All the way to a confirmed registration."""
        await self.start_registration()
        await self.pass_eligibility()
        await self.fill_profile()
        await self.hand_in_documents()
        await self.press("sum:confirm")


def jobs_of(
    conversation: Conversation,
    config: RecruitmentConfig | None = None,
    clock: Clock | None = None,
) -> Jobs:
    """The scheduler's jobs over what the conversation uses (database, texts, clock, staff
    named in settings, file store); `config` or `clock` replace its own."""
    deps = conversation.deps
    return Jobs(
        conversation.db,
        config or deps.config,
        deps.catalog,
        clock or deps.clock,
        deps.staff_identities,
        files=deps.files,
    )
