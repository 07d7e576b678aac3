"""WhatsApp through the Cloud API (pywa_async): webhook payloads in, replies out. No flow here.

The webhook payload is read here (our own signature check and database dedup guard it: pywa's
deduplication is in memory, per process); pywa's client sends, uploads and downloads. Generic
replies become WhatsApp's shapes within its limits: up to 3 reply buttons (title ≤ 20), else a
list (≤ 10 rows, title ≤ 24; more options: more lists), interactive bodies ≤ 1024 characters.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
from pydantic import ValidationError
from pywa_async import WhatsApp
from pywa_async.errors import WhatsAppError
from pywa_async.types import Button as WaButton
from pywa_async.types import Section, SectionList, SectionRow
from pywa_async.types.templates import BodyText, TemplateLanguage

from bot.settings import ServeError
from core.catalog import Catalog
from core.failures import invalid_fields
from core.formatting import split_text
from core.recruitment import WhatsAppTemplate
from core.types import (
    Button,
    Channel,
    FileKind,
    FileTooLarge,
    FileUnavailable,
    Incoming,
    IncomingFile,
)
from handlers.applicant.link import normalise_phone
from handlers.conversation import Conversation
from scheduler.delivery import (
    DEFAULT_LEASE,
    Outgoing,
    PermanentFailure,
    RateLimited,
    SendObserver,
    TemporaryFailure,
    TurnDelivery,
    Unreachable,
)
from storage.chat_sessions import ChatSessions
from storage.db import Database
from storage.inbound import InboundPayloads
from storage.outbox import Outbox

if TYPE_CHECKING:
    from bot.app import App

log = logging.getLogger(__name__)

MAX_TEXT = 4096
MAX_BODY = 1024
MAX_BUTTONS = 3
MAX_BUTTON_TITLE = 20
MAX_ROWS = 10
MAX_ROW_TITLE = 24
MAX_ROW_DESCRIPTION = 72
WINDOW = timedelta(hours=24)
THROUGHPUT_CODES = {130429, 131048, 80007, 4}
"""The number's limits (throughput, spam rate): the whole channel pauses, the message waits."""
PAIR_LIMIT_CODES = {131056}
PAIR_RETRY_AFTER = 6.0
"""Seconds a chat waits after 131056: Meta allows about one message per 6 s to one number."""
UNDELIVERABLE_CODES = {131026}
OUTSIDE_WINDOW_CODES = {131047}
HEARD_KEPT = 10_000
"""Chats whose last message this process remembers for the 24-hour window (oldest dropped)."""


def whatsapp_client(
    phone_id: str, token: str, base_url: str, api_version: str, timeout: float = 20.0
) -> WhatsApp:
    """A pywa_async client talking to `base_url` (Meta's Graph API, a proxy, or a test fake)."""
    session = httpx.AsyncClient(timeout=timeout)
    client = WhatsApp(
        phone_id=phone_id,
        token=token,
        session=session,
        api_version=api_version,
        validate_updates=False,
        filter_updates=False,
    )
    # pywa writes https://graph.facebook.com/v<version> into the session; point it elsewhere.
    session.base_url = httpx.URL(f"{base_url.rstrip('/')}/v{api_version}/")
    return client


# --------------------------------------------------------------------------- inbound


@dataclass(frozen=True)
class Status:
    """A delivery report of a message we sent."""

    message_id: str
    status: str
    error: str | None
    code: int | None


class Malformed(ValueError):
    """A part of a webhook payload without WhatsApp's shape (names the part, never its values)."""


def _object(value: object, part: str) -> dict[str, Any]:
    """A JSON object of a payload (missing: empty); anything else is `Malformed`."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Malformed(part)
    return value


def _each(items: object, part: str) -> Iterator[dict[str, Any]]:
    """The objects of a list in a payload; a wrong shape is logged (no values) and skipped."""
    if items is None:
        return
    if not isinstance(items, list):
        log.warning("a WhatsApp payload's %s list is not a list: skipped", part)
        return
    for item in items:
        if isinstance(item, dict):
            yield item
        else:
            log.warning("a WhatsApp payload's %s that is not an object skipped", part)


def _file(message: dict[str, Any], kind: FileKind, key: str) -> IncomingFile:
    media = _object(message.get(key), key)
    return IncomingFile(
        kind=kind,
        file_id=str(media.get("id") or ""),
        mime_type=media.get("mime_type"),
        file_name=media.get("filename"),
    )


def _incoming(message: dict[str, Any], user_id: str, wa_id: str | None) -> Incoming:
    """One WhatsApp message as the conversation reads it (`Malformed` or a pydantic
    `ValidationError` when a part has the wrong shape)."""
    common: dict[str, Any] = {
        "channel": Channel.WHATSAPP,
        "user_id": user_id,
        "dedup_key": str(message.get("id") or ""),
        "address": wa_id,
        "verified_phone": normalise_phone(wa_id) if wa_id and wa_id.isdigit() else None,
    }
    kind = message.get("type")
    if kind == "text":
        return Incoming(**common, text=_object(message.get("text"), "text").get("body") or "")
    if kind == "interactive":
        interactive = _object(message.get("interactive"), "interactive")
        reply = _object(
            interactive.get("button_reply") or interactive.get("list_reply"), "interactive reply"
        )
        return Incoming(**common, choice=str(reply.get("id") or ""))
    if kind == "button":  # a template's quick reply
        button = _object(message.get("button"), "button")
        return Incoming(**common, choice=str(button.get("payload") or button.get("text") or ""))
    if kind == "image":
        caption = _object(message.get("image"), "image").get("caption")
        return Incoming(**common, text=caption, file=_file(message, FileKind.PHOTO, "image"))
    if kind == "document":
        caption = _object(message.get("document"), "document").get("caption")
        return Incoming(**common, text=caption, file=_file(message, FileKind.DOCUMENT, "document"))
    if kind == "sticker":
        return Incoming(**common, file=_file(message, FileKind.STICKER, "sticker"))
    if kind in ("audio", "voice"):
        return Incoming(**common, file=IncomingFile(kind=FileKind.AUDIO))
    if kind == "video":
        return Incoming(**common, file=IncomingFile(kind=FileKind.VIDEO))
    return Incoming(**common, file=IncomingFile(kind=FileKind.OTHER))


def _malformed_part(error: Malformed | ValidationError) -> str:
    """Which part of a message was malformed, without its value (it may be personal)."""
    return invalid_fields(error) if isinstance(error, ValidationError) else str(error)


def _our_values(payload: dict[str, Any], phone_id: str) -> Iterator[dict[str, Any]]:
    """The `value` of every change in a payload addressed to our phone number."""
    for entry in _each(payload.get("entry"), "entry"):
        for change in _each(entry.get("changes"), "change"):
            value = change.get("value")
            if not isinstance(value, dict):
                log.warning("a WhatsApp payload's change without a value object skipped")
                continue
            metadata = value.get("metadata")
            number = metadata.get("phone_number_id") if isinstance(metadata, dict) else None
            if str(number) != phone_id:
                log.warning("WhatsApp payload for another phone number id ignored")
                continue
            yield value


def parse_payload(payload: dict[str, Any], phone_id: str) -> tuple[list[Incoming], list[Status]]:
    """The messages and delivery reports of a webhook POST for our phone number (others: none).

    A part of the wrong shape (a message, a status, a list that is not one) is logged without
    its values and skipped; the rest of the batch is read as usual.
    """
    messages: list[Incoming] = []
    statuses: list[Status] = []
    if payload.get("object") != "whatsapp_business_account":
        return messages, statuses
    for value in _our_values(payload, phone_id):
        users = {
            str(contact.get("wa_id") or contact.get("user_id")): contact
            for contact in _each(value.get("contacts"), "contact")
        }
        for message in _each(value.get("messages"), "message"):
            sender = str(message.get("from") or message.get("from_user_id") or "")
            contact = users.get(sender) or {}
            user_id = str(contact.get("user_id") or message.get("from_user_id") or sender)
            wa_id = contact.get("wa_id") or message.get("from")
            if not (user_id and message.get("id")):
                continue
            try:
                messages.append(_incoming(message, user_id, str(wa_id) if wa_id else None))
            except (Malformed, ValidationError) as error:
                log.warning("a malformed WhatsApp message skipped (%s)", _malformed_part(error))
        for status in _each(value.get("statuses"), "status"):
            error, code = None, None
            first = next(_each(status.get("errors"), "status error"), None)
            if first is not None:
                number = str(first.get("code", ""))
                code = int(number) if number.isascii() and number.isdigit() else None
                error = f"{first.get('code')}: {first.get('title') or first.get('message')}"
            statuses.append(Status(str(status.get("id")), str(status.get("status")), error, code))
    return messages, statuses


class WhatsAppFiles:
    """Downloads what a user sent (media ids expire, so at once) through pywa."""

    def __init__(self, client: WhatsApp) -> None:
        self.client = client

    async def fetch(self, file: IncomingFile, max_bytes: int) -> bytes:
        if not file.file_id:
            raise FileUnavailable("no media id")
        try:
            media = await self.client.get_media_url(file.file_id)
            if media.file_size and media.file_size > max_bytes:
                raise FileTooLarge(file.file_id)
            content = await self.client.get_media_bytes(media.url)
        except (WhatsAppError, httpx.HTTPError, KeyError) as error:
            raise FileUnavailable(file.file_id) from error
        if len(content) > max_bytes:
            raise FileTooLarge(file.file_id)
        return content


# --------------------------------------------------------------------------- outbound


def _shorten(label: str, limit: int) -> str:
    return label if len(label) <= limit else label[: limit - 1].rstrip() + "…"


def _title(button: Button) -> str:
    """What a button is called where space is short: its short title, else its label."""
    return button.title or button.label


def _row(button: Button) -> SectionRow:
    """A list row: the (short) title, and the full label beside it when the title is not it."""
    title = _shorten(_title(button), MAX_ROW_TITLE)
    return SectionRow(
        title=title,
        callback_data=button.id,
        description=_shorten(button.label, MAX_ROW_DESCRIPTION) if title != button.label else None,
    )


def _lists(buttons: list[Button], title: str) -> Iterator[SectionList]:
    for start in range(0, len(buttons), MAX_ROWS):
        rows = [_row(button) for button in buttons[start : start + MAX_ROWS]]
        yield SectionList(
            button_title=_shorten(title, MAX_BUTTON_TITLE),
            sections=[Section(title=_shorten(title, MAX_ROW_TITLE), rows=rows)],
        )


class WhatsAppReplies:
    """Sends generic replies as WhatsApp messages; returns the id of the last one sent."""

    def __init__(self, client: WhatsApp, catalog: Catalog) -> None:
        self.client = client
        self.catalog = catalog

    async def send(self, to: str, text: str, buttons: list[Button]) -> str:
        """Text with buttons in WhatsApp's shapes (long text first, choices under the end)."""
        if not buttons:
            sent = ""
            for part in split_text(text, MAX_TEXT):
                sent = (await self.client.send_message(to=to, text=part)).id
            return sent
        *leading, body = split_text(text or "-", MAX_BODY)
        for part in leading:
            await self.client.send_message(to=to, text=part)
        fits = len(buttons) <= MAX_BUTTONS and all(
            len(_title(button)) <= MAX_BUTTON_TITLE for button in buttons
        )
        if fits:
            choices = [WaButton(title=_title(b), callback_data=b.id) for b in buttons]
            return (await self.client.send_message(to=to, text=body, buttons=choices)).id
        title = self.catalog.text("id", "wa_choose")
        sent = ""
        for number, choice_list in enumerate(_lists(buttons, title)):
            shown = body if number == 0 else self.catalog.text("id", "wa_more_choices")
            sent = (await self.client.send_message(to=to, text=shown, buttons=choice_list)).id
        return sent

    async def send_file(
        self, to: str, content: bytes, name: str, mime_type: str, caption: str
    ) -> str:
        """A photo as an image, anything else as a document."""
        caption = _shorten(caption, MAX_BODY) if caption else ""
        if mime_type.startswith("image/"):
            sent = await self.client.send_image(
                to=to, image=content, caption=caption or None, mime_type=mime_type
            )
        else:
            sent = await self.client.send_document(
                to=to, document=content, filename=name, caption=caption or None, mime_type=mime_type
            )
        return sent.id


class WhatsAppWebhook:
    """What the web app calls with each checked webhook payload: delivery reports recorded, each
    message answered in turn, its replies through the outbox and sent at once."""

    def __init__(
        self,
        conversation: Conversation,
        client: WhatsApp,
        phone_id: str,
        concurrency: int = 8,
        lease: timedelta = DEFAULT_LEASE,
        observe: SendObserver | None = None,
    ) -> None:
        deps = conversation.deps
        self.conversation = conversation
        self.phone_id = phone_id
        self.files = WhatsAppFiles(client)
        self.gate = asyncio.Semaphore(concurrency)
        self.sender = WhatsAppSender(
            client, conversation.db, deps.catalog, deps.config.whatsapp_template, deps.clock.now
        )
        """Sends this number's outbox rows (replies here; the worker's sender too)."""
        self.replies = TurnDelivery(
            conversation.db,
            {Channel.WHATSAPP.value: self.sender},
            deps.clock,
            deps.files,
            lease=lease,
            observe=observe,
        )

    async def __call__(self, payload: dict[str, Any], stored: int | None = None) -> bool:
        """Handle a payload (stored under `stored`): True when the stored copy went with the
        turn of its last message, or with its delivery reports when it has no message (a crash
        before that handles the payload again: the messages already answered are skipped by
        their dedup keys, the reports are recorded in order whatever their number)."""
        messages, statuses = parse_payload(payload, self.phone_id)
        if statuses:
            await self._record(statuses, None if messages else stored)
            if not messages:
                return stored is not None
        clock = self.conversation.deps.clock
        for number, incoming in enumerate(messages, 1):
            last = number == len(messages)
            async with self.gate:
                before = clock.now()
                answered = await self.conversation.handle(
                    incoming,
                    self.files,
                    send_as=self.replies.holder,
                    inbound_id=stored if last else None,
                )
                if answered.queued:  # answered: the chat's message was noted by `before`
                    self.sender.heard_from(answered.queued[0].recipient, before)
                await self.replies.send(answered.queued)
        return bool(messages) and stored is not None

    async def _record(self, statuses: list[Status], stored: int | None) -> None:
        """Delivery reports in order; a late refusal (closed window, undeliverable) acted on.
        With `stored`, the payload they came in is marked handled in the same transaction (if
        it was handled already, nothing more is done)."""
        now = self.conversation.deps.clock.now()
        async with self.conversation.db.transaction() as session:
            if stored is not None and not await InboundPayloads(session).settle(stored, now):
                return
            outbox = Outbox(session)
            for status in statuses:
                await outbox.record_status(status.message_id, status.status, status.error)
                if status.status != "failed" or status.code is None:
                    continue
                if status.code in OUTSIDE_WINDOW_CODES:
                    await outbox.requeue_as_template(status.message_id, now)
                elif status.code in UNDELIVERABLE_CODES:
                    await outbox.unreachable(status.message_id, status.error or "")


# --------------------------------------------------------------------------- the outbox


def _template_text(text: str) -> str:
    """Template parameters allow no newlines, tabs or long runs of spaces."""
    flat = re.sub(r"\s*\n\s*", " · ", text.strip())
    return _shorten(re.sub(r"[ \t]{2,}", " ", flat), MAX_BODY)


class WhatsAppSender:
    """Sends outbox rows; outside the 24-hour window (or on 131047) as the configured template."""

    def __init__(
        self,
        client: WhatsApp,
        db: Database,
        catalog: Catalog,
        template: WhatsAppTemplate,
        now: Callable[[], datetime],
    ) -> None:
        self.client = client
        self.db = db
        self.replies = WhatsAppReplies(client, catalog)
        self.template = template
        self.now = now
        self.heard: dict[str, datetime] = {}
        """When each recipient's last message was noted, as far as this process saw (never
        later than the database's `last_inbound_at`): a turn's replies need no window query."""

    def heard_from(self, recipient: str, at: datetime) -> None:
        """`recipient`'s last message was noted at `at` (a turn handled it, or the database
        said so); an earlier moment than the one known changes nothing."""
        known = self.heard.pop(recipient, None)
        self.heard[recipient] = at if known is None or at > known else known
        if len(self.heard) > HEARD_KEPT:
            del self.heard[next(iter(self.heard))]

    async def _window_open(self, recipient: str) -> bool:
        """Whether the chat wrote in the last 24 hours: known here, else asked of the database."""
        now: datetime = self.now()
        known = self.heard.get(recipient)
        if known is not None and now - known < WINDOW:
            return True
        async with self.db.transaction() as session:
            last = await ChatSessions(session).last_inbound_at(Channel.WHATSAPP.value, recipient)
        if last is None:
            return False
        self.heard_from(recipient, last)
        return now - last < WINDOW

    async def _send_template(self, message: Outgoing) -> str:
        template = self.template
        sent = await self.client.send_template(
            to=message.recipient,
            name=template.name,
            language=TemplateLanguage(template.language),
            params=[BodyText.params(_template_text(message.text))],
        )
        return sent.id

    async def send(self, message: Outgoing) -> str | None:
        try:
            if message.template_only or not await self._window_open(message.recipient):
                return await self._send_template(message)
            try:
                return await self._send_free_form(message)
            except WhatsAppError as error:
                if error.code not in OUTSIDE_WINDOW_CODES:
                    raise
                return await self._send_template(message)
        except WhatsAppError as error:
            raise _delivery_error(error) from error
        except httpx.HTTPError as error:
            raise TemporaryFailure(str(error)) from error

    async def _send_free_form(self, message: Outgoing) -> str:
        if message.file is not None:
            return await self.replies.send_file(
                message.recipient,
                message.file,
                message.file_name or "lampiran",
                message.file_mime_type or "application/octet-stream",
                message.text,
            )
        return await self.replies.send(message.recipient, message.text, list(message.buttons))

    async def edit(self, recipient: str, message_id: str, text: str) -> None:
        """WhatsApp cannot edit a message: no live progress there (the final report comes)."""


def _delivery_error(error: WhatsAppError) -> Exception:
    code = error.code
    if code in THROUGHPUT_CODES:
        return RateLimited(5.0, f"{code}: {error.message}")
    if code in PAIR_LIMIT_CODES:  # this chat only: the others go on
        return RateLimited(PAIR_RETRY_AFTER, f"{code}: {error.message}", chat_only=True)
    if code in UNDELIVERABLE_CODES:
        return Unreachable(f"{code}: {error.message}")
    if getattr(error, "is_transient", False) or code == 131000:
        return TemporaryFailure(f"{code}: {error.message}")
    return PermanentFailure(f"{code}: {error.message}")


def whatsapp_parts(
    app: App, observe: SendObserver | None = None
) -> tuple[WhatsAppWebhook, WhatsAppSender] | None:
    """The WhatsApp webhook handler and outbox sender, when all four secrets are set (each send
    told to `observe`)."""
    settings = app.settings
    needed = (
        settings.whatsapp_phone_id,
        settings.whatsapp_token,
        settings.whatsapp_app_secret,
        settings.whatsapp_verify_token,
    )
    if not settings.whatsapp_configured:
        return None
    if not all(needed) or settings.whatsapp_phone_id is None or settings.whatsapp_token is None:
        raise ServeError(
            "WhatsApp needs all of MITRABOT_WHATSAPP_PHONE_ID, _TOKEN, _APP_SECRET, _VERIFY_TOKEN"
        )
    client = whatsapp_client(
        settings.whatsapp_phone_id,
        settings.whatsapp_token.get_secret_value(),
        settings.whatsapp_base_url,
        settings.whatsapp_api_version,
    )
    webhook = WhatsAppWebhook(
        app.conversation,
        client,
        settings.whatsapp_phone_id,
        settings.whatsapp_concurrency,
        timedelta(seconds=settings.delivery_lease_seconds),
        observe=observe,
    )
    return webhook, webhook.sender
