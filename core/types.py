"""The small types every channel adapter speaks: one incoming message, a list of replies."""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel, Field


class Channel(StrEnum):
    """A chat platform an applicant can write from."""

    TELEGRAM = "telegram"
    WHATSAPP = "whatsapp"
    TERMINAL = "terminal"


class FileKind(StrEnum):
    """What sort of attachment arrived (as the platform labelled it)."""

    PHOTO = "photo"
    DOCUMENT = "document"
    STICKER = "sticker"
    AUDIO = "audio"
    VIDEO = "video"
    OTHER = "other"


class IncomingFile(BaseModel):
    """A reference to a file the user sent; the content is fetched by the adapter on demand."""

    kind: FileKind
    file_id: str = ""
    mime_type: str | None = None
    size: int | None = None
    file_name: str | None = None
    media_group_id: str | None = None


class Incoming(BaseModel):
    """One message from a user: exactly one of text, choice or file is normally set."""

    channel: Channel
    user_id: str = Field(min_length=1, max_length=128)
    text: str | None = None
    choice: str | None = None
    file: IncomingFile | None = None
    dedup_key: str | None = None
    """A platform id (Telegram update_id, WhatsApp wamid) that makes a re-delivery a no-op."""
    language_hint: str | None = None
    address: str | None = Field(default=None, max_length=32)
    """Where to answer when it differs from `user_id` (a WhatsApp user's wa_id)."""
    verified_phone: str | None = Field(default=None, max_length=16)
    """A phone number the platform vouches for (WhatsApp's sender, Telegram's own contact)."""


class OutgoingFile(BaseModel):
    """A stored file to send (staff fetching an applicant's documents)."""

    path: str
    """Where it is in the file store (relative to its root)."""
    file_name: str
    mime_type: str
    caption: str = ""


class Button(BaseModel):
    """One choice offered to the user; `id` comes back as `Incoming.choice`."""

    id: str
    label: str
    title: str | None = None
    """A shorter label for platforms with tight limits (WhatsApp: list rows 24 characters);
    the full `label` is then shown beside it."""
    share_phone: bool = False
    """Telegram: a button that shares the user's own contact (it proves their number)."""


class Reply(BaseModel):
    """One message to send back: text, optionally with choices."""

    text: str
    buttons: list[Button] = Field(default_factory=list)
    files: list[OutgoingFile] = Field(default_factory=list)
    track: str | None = None
    """Set when the bot will later edit this message (e.g. `broadcast:12` live progress): once
    sent, the platform's message id is noted there."""


class FileTooLarge(Exception):
    """The platform says (or the download shows) the file is larger than allowed."""


class FileUnavailable(Exception):
    """The file could not be fetched from the platform."""


class FileSource(Protocol):
    """How a channel fetches the content of a file a user sent (given to the conversation)."""

    async def fetch(self, file: IncomingFile, max_bytes: int) -> bytes:
        """The file's bytes; FileTooLarge past `max_bytes`, FileUnavailable when it cannot."""
        ...
