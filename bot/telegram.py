"""Telegram through python-telegram-bot: updates in, replies out. No flow logic here."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from datetime import timedelta
from typing import TYPE_CHECKING, Any

os.environ.setdefault("PTB_TIMEDELTA", "1")  # RetryAfter.retry_after as a timedelta (PTB 22.2+)

from pydantic import ValidationError
from telegram import (
    Bot,
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    Update,
)
from telegram.constants import MessageLimit
from telegram.error import BadRequest, Forbidden, InvalidToken, RetryAfter, TelegramError
from telegram.ext import Application, ApplicationBuilder
from telegram.request import HTTPXRequest

from bot.intake import ORPHAN_AFTER, SWEEP_EVERY, BackgroundWork, DurableIntake
from bot.settings import TELEGRAM_CONCURRENCY
from core.callbacks import LinkAction, LinkButton
from core.failures import invalid_fields
from core.formatting import split_text
from core.keyed_locks import KeyedLocks
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

if TYPE_CHECKING:
    from bot.metrics import Metrics

log = logging.getLogger(__name__)

ALLOWED_UPDATES = [Update.MESSAGE, Update.CALLBACK_QUERY]
POLL_READ_TIMEOUT = 5.0
"""Seconds a long poll's answer may take beyond its own timeout (PTB's default read timeout)."""
MAX_TEXT = MessageLimit.MAX_TEXT_LENGTH
"""A text message's limit (4096 characters); longer texts go out in parts."""
COMMANDS = {
    "id": [
        ("menu", "Menu utama"),
        ("batal", "Batalkan langkah sekarang"),
        ("bantuan", "Bantuan dan kontak"),
        ("bahasa", "Ganti bahasa / change language"),
        ("datasaya", "Lihat atau hapus data saya"),
    ],
    "en": [
        ("menu", "Main menu"),
        ("cancel", "Cancel the current step"),
        ("help", "Help and contact"),
        ("language", "Change language"),
        ("mydata", "See or delete my data"),
    ],
}


def build_application(
    conversation: Conversation,
    token: str,
    base_url: str,
    base_file_url: str,
    concurrency: int = TELEGRAM_CONCURRENCY,
    lease: timedelta = DEFAULT_LEASE,
    observe: SendObserver | None = None,
) -> Application:
    """A python-telegram-bot Application: its Bot (sending, files) and the conversation.

    Updates do not go through its queue (held only in memory): the durable intake stores each
    one, webhook and polling alike, and hands it to `handle_update`. `concurrency` bounds the
    updates handled at once and sizes the connection pool for their replies, which go through
    the outbox and are sent at once by this process (`TurnDelivery`, under the delivery
    worker's `lease`) through `sending_bots` of the same token, in pools of their own (the
    Application's bot answers button presses and fetches files). `start_polling` and
    `start_webhook` open those bots, `stop_polling` and `stop_webhook` close them.
    """
    application = (
        ApplicationBuilder()
        .token(token)
        .base_url(base_url)
        .base_file_url(base_file_url)
        .connection_pool_size(concurrency * 2)
        .updater(None)
        .build()
    )
    deps = conversation.deps
    senders = sending_bots(token, base_url, base_file_url, concurrency)
    application.bot_data["senders"] = senders
    application.bot_data["conversation"] = conversation
    application.bot_data["concurrency"] = concurrency
    application.bot_data["chats"] = KeyedLocks()
    application.bot_data["replies"] = TurnDelivery(
        conversation.db,
        {Channel.TELEGRAM.value: TelegramSender(*senders)},
        deps.clock,
        deps.files,
        lease=lease,
        observe=observe,
    )
    return application


async def _open(application: Application) -> None:
    """Initialise the Application and its sending bots."""
    await application.initialize()
    await asyncio.gather(*(bot.initialize() for bot in application.bot_data["senders"]))


async def _close(application: Application) -> None:
    """Close the connections of the Application and of its sending bots."""
    await application.shutdown()
    await asyncio.gather(*(bot.shutdown() for bot in application.bot_data["senders"]))


def telegram_intake(
    application: Application,
    background: BackgroundWork,
    *,
    orphan_after: timedelta = ORPHAN_AFTER,
    sweep_every: float = SWEEP_EVERY,
    metrics: Metrics | None = None,
) -> DurableIntake:
    """The durable intake of Telegram updates (stored under their `update_id`), handled by
    `handle_update`, at most the application's `concurrency` at once."""
    conversation: Conversation = application.bot_data["conversation"]

    async def handle(payload: dict[str, Any], stored: int) -> bool:
        return await handle_update(application, payload, stored)

    return DurableIntake(
        conversation.db,
        Channel.TELEGRAM.value,
        handle,
        background,
        conversation.deps.clock.now,
        max_in_flight=application.bot_data["concurrency"],
        orphan_after=orphan_after,
        sweep_every=sweep_every,
        metrics=metrics,
    )


class Polling:
    """Long polling through the durable intake (`mitrabot run`).

    `getUpdates` confirms the updates of the previous call by its `offset`, so the offset moves
    past an update only once it is stored: a process killed after that loses nothing (the
    sweep of the next start handles it), one killed before gets it again from Telegram (stored
    once, by its `update_id`).
    """

    RETRY_CAP = 30.0
    """Seconds at most between two tries while Telegram or the database fails."""

    def __init__(self, application: Application, intake: DurableIntake, poll_timeout: int) -> None:
        self.application = application
        self.intake = intake
        self.poll_timeout = poll_timeout
        self.offset: int | None = None
        """The next `getUpdates` offset: one past the last update stored."""
        self.stopping = asyncio.Event()
        self.tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Initialise, publish the command list, drop any webhook, and start polling and the
        sweep (which first takes what a killed process left)."""
        await _open(self.application)
        await _set_commands(self.application)
        await self.application.bot.delete_webhook()
        self.tasks = [
            asyncio.create_task(self._poll()),
            asyncio.create_task(self.intake.sweep_forever(self.stopping)),
        ]

    async def stop(self, grace: float | None = None) -> None:
        """Stop fetching, finish the updates in hand within `grace` seconds (what waits, or is
        cut, stays stored), confirm what was stored, and close connections."""
        self.stopping.set()
        self.intake.closing = True
        await asyncio.gather(*self.tasks)
        left = await self.intake.background.drain(grace)
        if left:
            log.warning("stopping: %d updates left for the next process", left)
        if self.offset is not None:
            with contextlib.suppress(TelegramError):
                await self.application.bot.get_updates(offset=self.offset, limit=1, timeout=0)
        await _close(self.application)

    async def _poll(self) -> None:
        failures = 0
        while not self.stopping.is_set():
            try:
                updates = await self._fetch()
                if updates is None:
                    return
                if updates:
                    await self.intake.accept_all(
                        [(json.dumps(raw).encode(), raw, str(raw["update_id"])) for raw in updates]
                    )
                    self.offset = updates[-1]["update_id"] + 1
                failures = 0
            except InvalidToken:
                raise
            except Exception:
                failures += 1
                log.exception("polling Telegram failed (try %d); trying again", failures)
                with contextlib.suppress(TimeoutError):
                    wait = min(self.RETRY_CAP, 2.0 ** (failures - 1))
                    await asyncio.wait_for(self.stopping.wait(), wait)

    async def _fetch(self) -> list[dict[str, Any]] | None:
        """The next updates (a long poll) as Telegram sent them, or None when stopping
        interrupted it. Raw: each is parsed once, by the turn that handles it (`get_updates`
        would parse them here too, only for the intake to serialise them again; its public
        raw form, `do_api_request`, warns on every call to use `get_updates` instead)."""
        arguments: dict[str, Any] = {
            "timeout": self.poll_timeout,
            "allowed_updates": ALLOWED_UPDATES,
        }
        if self.offset is not None:
            arguments["offset"] = self.offset
        fetch = asyncio.ensure_future(
            self.application.bot._post(
                "getUpdates", arguments, read_timeout=POLL_READ_TIMEOUT + self.poll_timeout
            )
        )
        stopping = asyncio.ensure_future(self.stopping.wait())
        done, _ = await asyncio.wait({fetch, stopping}, return_when=asyncio.FIRST_COMPLETED)
        for task in (fetch, stopping):
            if task not in done:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, TelegramError):
                    await task
        return fetch.result() if fetch in done else None


async def start_polling(
    application: Application,
    poll_timeout: int = 10,
    *,
    orphan_after: timedelta = ORPHAN_AFTER,
    sweep_every: float = SWEEP_EVERY,
) -> Polling:
    """Start durable long polling (as `mitrabot run` does); `stop_polling` ends it."""
    intake = telegram_intake(
        application, BackgroundWork(), orphan_after=orphan_after, sweep_every=sweep_every
    )
    polling = Polling(application, intake, poll_timeout)
    await polling.start()
    return polling


async def stop_polling(polling: Polling, grace: float | None = None) -> None:
    """Stop polling, finish the updates in hand (within `grace` seconds), close connections."""
    await polling.stop(grace)


async def start_webhook(application: Application, url: str, secret: str | None) -> None:
    """Initialise, publish the command list, and register the webhook (the web app's intake
    handles what it posts)."""
    await _open(application)
    await _set_commands(application)
    await application.bot.set_webhook(url=url, secret_token=secret, allowed_updates=ALLOWED_UPDATES)


async def stop_webhook(application: Application) -> None:
    """Close connections (the webhook stays registered)."""
    await _close(application)


async def _set_commands(application: Application) -> None:
    for language, commands in COMMANDS.items():
        await application.bot.set_my_commands(
            [BotCommand(name, description) for name, description in commands],
            language_code=None if language == "id" else language,
        )


def to_incoming(update: Update) -> Incoming | None:
    """Translate a Telegram update; None when it carries nothing a user said."""
    user = update.effective_user
    if user is None or user.is_bot:
        return None
    common = {
        "channel": Channel.TELEGRAM,
        "user_id": str(user.id),
        "language_hint": user.language_code,
    }
    if update.callback_query is not None:
        return Incoming(**common, choice=update.callback_query.data or "")
    message = update.message
    if message is None:
        return None
    if message.text is not None:
        return Incoming(**common, text=message.text)
    if message.contact is not None:  # the "share my number" button
        own = message.contact.user_id == user.id
        phone = message.contact.phone_number if own else None
        return Incoming(
            **common,
            choice=LinkButton(LinkAction.PHONE).pack(),
            verified_phone=normalise_phone(phone or ""),
        )
    return Incoming(**common, text=message.caption, file=_file_of(message))


def _file_of(message: Message) -> IncomingFile:
    group = message.media_group_id
    if message.photo:
        largest = message.photo[-1]
        return IncomingFile(
            kind=FileKind.PHOTO,
            file_id=largest.file_id,
            size=largest.file_size,
            media_group_id=group,
        )
    if message.document is not None:
        document = message.document
        return IncomingFile(
            kind=FileKind.DOCUMENT,
            file_id=document.file_id,
            mime_type=document.mime_type,
            size=document.file_size,
            file_name=document.file_name,
            media_group_id=group,
        )
    if message.sticker is not None:
        return IncomingFile(kind=FileKind.STICKER, file_id=message.sticker.file_id)
    if message.voice is not None or message.audio is not None:
        return IncomingFile(kind=FileKind.AUDIO)
    if message.video is not None or message.video_note is not None:
        return IncomingFile(kind=FileKind.VIDEO, media_group_id=group)
    return IncomingFile(kind=FileKind.OTHER)


class TelegramFiles:
    """Fetches what a user sent through getFile and the file download URL."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def fetch(self, file: IncomingFile, max_bytes: int) -> bytes:
        if file.size is not None and file.size > max_bytes:
            raise FileTooLarge(file.file_id)
        try:
            telegram_file = await self.bot.get_file(file.file_id)
            if telegram_file.file_size is not None and telegram_file.file_size > max_bytes:
                raise FileTooLarge(file.file_id)
            content = bytes(await telegram_file.download_as_bytearray())
        except BadRequest as error:
            if "too big" in error.message.lower():
                raise FileTooLarge(file.file_id) from error
            raise FileUnavailable(file.file_id) from error
        except (TelegramError, OSError) as error:
            raise FileUnavailable(file.file_id) from error
        if len(content) > max_bytes:
            raise FileTooLarge(file.file_id)
        return content


CONNECTIONS_PER_BOT = 16
"""Sends in flight per Bot in `sending_bots`: httpcore rescans every connection of a pool for
each request it starts or ends, so 64 sends in flight through one pool cost about twice the CPU
per message of four pools of 16 (bench/README.md, `outbox.py`)."""


def sending_bots(token: str, base_url: str, base_file_url: str, in_flight: int) -> list[Bot]:
    """Bots (one token) for a `TelegramSender` with up to `in_flight` sends at once: one per
    `CONNECTIONS_PER_BOT` of them, each its own connection pool (any one may still open
    `in_flight` connections: chats need not spread evenly, and none waits for a connection)."""
    return [
        Bot(
            token,
            base_url=base_url,
            base_file_url=base_file_url,
            request=HTTPXRequest(connection_pool_size=in_flight),
        )
        for _ in range(-(-in_flight // CONNECTIONS_PER_BOT))
    ]


class TelegramSender:
    """Sends outbox messages through the Bot API, translating its errors for the worker; with
    several bots (of one token), each chat always through the same one."""

    def __init__(self, bot: Bot, *more: Bot) -> None:
        self.bot = bot
        self.bots = (bot, *more)

    async def send(self, message: Outgoing) -> str | None:
        chat_id = int(message.recipient)
        bot = self.bots[chat_id % len(self.bots)]
        try:
            markup = keyboard(list(message.buttons))
            if message.file is None:
                *first, last = split_text(message.text, MAX_TEXT)
                for part in first:
                    await bot.send_message(chat_id, part)
                sent = await bot.send_message(chat_id, last, reply_markup=markup)
                return str(sent.message_id)
            caption = message.text if len(message.text) <= MessageLimit.CAPTION_LENGTH else None
            upload = InputFile(message.file, filename=message.file_name or "lampiran")
            if (message.file_mime_type or "").startswith("image/"):
                sent_file = await bot.send_photo(chat_id, upload, caption=caption)
            else:
                sent_file = await bot.send_document(chat_id, upload, caption=caption)
            if caption is None and message.text:
                for part in split_text(message.text, MAX_TEXT):
                    await bot.send_message(chat_id, part)
            return str(sent_file.message_id)
        except TelegramError as error:
            raise _delivery_error(error) from error

    async def edit(self, recipient: str, message_id: str, text: str) -> None:
        try:
            await self.bot.edit_message_text(
                text, chat_id=int(recipient), message_id=int(message_id)
            )
        except BadRequest as error:
            if "not modified" not in error.message:
                raise _delivery_error(error) from error
        except TelegramError as error:
            raise _delivery_error(error) from error


def _delivery_error(error: TelegramError) -> Exception:
    if isinstance(error, RetryAfter):
        wait = error.retry_after
        seconds = wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
        return RateLimited(seconds, error.message, unscoped=True)  # no scope in the answer
    if isinstance(error, Forbidden):
        return Unreachable(error.message)
    if isinstance(error, BadRequest):
        if "chat not found" in error.message.lower() or "user is deactivated" in error.message:
            return Unreachable(error.message)
        return PermanentFailure(error.message)
    return TemporaryFailure(error.message)


def keyboard(buttons: list[Button]) -> InlineKeyboardMarkup | ReplyKeyboardMarkup | None:
    """Inline buttons: two per row when the labels are short, otherwise one per row.

    A reply asking for the user's own number gets a one-time reply keyboard with Telegram's
    "share contact" button instead (inline buttons cannot request a contact).
    """
    if not buttons:
        return None
    sharing = [button for button in buttons if button.share_phone]
    if sharing:
        return ReplyKeyboardMarkup(
            [[KeyboardButton(button.label, request_contact=True)] for button in sharing],
            one_time_keyboard=True,
            resize_keyboard=True,
        )
    per_row = 2 if max(len(button.label) for button in buttons) <= 16 else 1
    rows = [
        [InlineKeyboardButton(b.label, callback_data=b.id) for b in buttons[i : i + per_row]]
        for i in range(0, len(buttons), per_row)
    ]
    return InlineKeyboardMarkup(rows)


async def handle_update(application: Application, payload: dict[str, Any], inbound_id: int) -> bool:
    """Answer one stored update: a new private message, or a button pressed (the press is
    acknowledged, and answered when it was under a private message). Anything else is ignored.

    The replies go to the outbox in the turn's transaction, which also marks the stored update
    (`inbound_id`, stored once per `update_id`: the record that it was handled) handled, and
    are sent at once. True when the update reached the conversation (settled with the turn),
    False when it was ignored.

    Updates of one private chat are handled one at a time, in the order they were handed over
    (the intake starts them in `update_id` order), each with its replies sent before the next
    begins: a button press whose acknowledgement is slow is not overtaken by the text after it.
    """
    update = Update.de_json(payload, application.bot)
    chat = update.effective_chat
    if chat is None or chat.type != "private":
        return await _handle_update(application, update, inbound_id)
    chats: KeyedLocks = application.bot_data["chats"]
    async with chats.hold(chat.id):  # taken before any await: in the order they arrived
        return await _handle_update(application, update, inbound_id)


async def _handle_update(application: Application, update: Update, inbound_id: int) -> bool:
    query = update.callback_query
    if query is not None:
        try:
            await query.answer()
        except TelegramError as error:
            log.info("could not answer a callback query: %s", error)
        message = query.message
    else:
        message = update.message
    if message is None or message.chat.type != "private":
        return False
    try:
        incoming = to_incoming(update)
    except ValidationError as error:  # a part of the wrong shape: skipped, named, never shown
        log.warning("a malformed Telegram update skipped (%s)", invalid_fields(error))
        return False
    if incoming is None:
        return False
    conversation: Conversation = application.bot_data["conversation"]
    replies: TurnDelivery = application.bot_data["replies"]
    answered = await conversation.handle(
        incoming, TelegramFiles(application.bot), send_as=replies.holder, inbound_id=inbound_id
    )
    await replies.send(answered.queued)
    return True
