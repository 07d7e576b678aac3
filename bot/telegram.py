"""Telegram through python-telegram-bot: updates in, replies out. No flow logic here."""

from __future__ import annotations

import asyncio
import logging
import os
from datetime import timedelta
from pathlib import Path

os.environ.setdefault("PTB_TIMEDELTA", "1")  # RetryAfter.retry_after as a timedelta (PTB 22.2+)

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
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from core.callbacks import LinkAction, LinkButton
from core.formatting import split_text
from core.types import (
    Button,
    Channel,
    FileKind,
    FileTooLarge,
    FileUnavailable,
    Incoming,
    IncomingFile,
    Reply,
)
from handlers.applicant.link import normalise_phone
from handlers.conversation import Conversation
from scheduler.delivery import (
    Outgoing,
    PermanentFailure,
    RateLimited,
    TemporaryFailure,
    Unreachable,
)

log = logging.getLogger(__name__)

ALLOWED_UPDATES = [Update.MESSAGE, Update.CALLBACK_QUERY]
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
    concurrency: int = 8,
    polling: bool = True,
) -> Application:
    """A python-telegram-bot Application that feeds every private message to the conversation.

    With `polling=False` it has no updater: a web app puts webhook updates on its queue.
    """
    builder = (
        ApplicationBuilder()
        .token(token)
        .base_url(base_url)
        .base_file_url(base_file_url)
        .concurrent_updates(concurrency)
        .connection_pool_size(concurrency * 2)
    )
    if not polling:
        builder = builder.updater(None)
    application = builder.build()
    application.bot_data["conversation"] = conversation
    private = filters.ChatType.PRIVATE
    application.add_handler(CallbackQueryHandler(_on_callback))
    application.add_handler(MessageHandler(private & ~filters.UpdateType.EDITED, _on_message))
    application.add_error_handler(_on_error)
    return application


async def start_polling(application: Application, poll_timeout: int = 10) -> None:
    """Initialise, publish the command list, and start long polling (as `mitrabot run` does)."""
    await application.initialize()
    await _set_commands(application)
    await application.start()
    await application.updater.start_polling(
        poll_interval=0, timeout=poll_timeout, allowed_updates=ALLOWED_UPDATES
    )


async def start_webhook(application: Application, url: str, secret: str | None) -> None:
    """Initialise, publish the command list, register the webhook, and start handling."""
    await application.initialize()
    await _set_commands(application)
    await application.bot.set_webhook(url=url, secret_token=secret, allowed_updates=ALLOWED_UPDATES)
    await application.start()


async def stop_webhook(application: Application) -> None:
    """Finish the updates in hand and close connections (the webhook stays registered)."""
    await application.stop()
    await application.shutdown()


async def stop_polling(application: Application) -> None:
    """Stop polling, finish the updates in hand, and close connections."""
    await application.updater.stop()
    await application.stop()
    await application.shutdown()


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
        "dedup_key": str(update.update_id),
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


class TelegramSender:
    """Sends outbox messages through the Bot API, translating its errors for the worker."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def send(self, message: Outgoing) -> str | None:
        chat_id = int(message.recipient)
        try:
            markup = keyboard(list(message.buttons))
            if message.file is None:
                *first, last = split_text(message.text, MAX_TEXT)
                for part in first:
                    await self.bot.send_message(chat_id, part)
                sent = await self.bot.send_message(chat_id, last, reply_markup=markup)
                return str(sent.message_id)
            caption = message.text if len(message.text) <= MessageLimit.CAPTION_LENGTH else None
            upload = InputFile(message.file, filename=message.file_name or "lampiran")
            if (message.file_mime_type or "").startswith("image/"):
                sent_file = await self.bot.send_photo(chat_id, upload, caption=caption)
            else:
                sent_file = await self.bot.send_document(chat_id, upload, caption=caption)
            if caption is None and message.text:
                for part in split_text(message.text, MAX_TEXT):
                    await self.bot.send_message(chat_id, part)
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
        return RateLimited(seconds, error.message)
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


async def send_replies(
    application: Application, chat_id: int, replies: list[Reply], conversation: Conversation
) -> None:
    """Send replies in order; buttons go under the last part of a split text, files after it."""
    for reply in replies:
        parts = split_text(reply.text, MAX_TEXT)
        for index, part in enumerate(parts):
            markup = keyboard(reply.buttons) if index == len(parts) - 1 else None
            sent = await application.bot.send_message(chat_id, part, reply_markup=markup)
        if reply.track:
            await conversation.remember_sent(
                reply.track, Channel.TELEGRAM.value, str(chat_id), str(sent.message_id)
            )
        for file in reply.files:
            content = await asyncio.to_thread(Path(file.path).read_bytes)
            await application.bot.send_document(
                chat_id, InputFile(content, filename=file.file_name), caption=file.caption
            )


async def _on_message(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await _answer(update, context)


async def _on_callback(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None
    try:
        await query.answer()
    except TelegramError as error:
        log.info("could not answer a callback query: %s", error)
    if query.message is not None and query.message.chat.type == "private":
        await _answer(update, context)


async def _answer(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    incoming = to_incoming(update)
    chat = update.effective_chat
    if incoming is None or chat is None:
        return
    conversation: Conversation = context.application.bot_data["conversation"]
    replies = await conversation.handle(incoming, TelegramFiles(context.bot))
    try:
        await send_replies(context.application, chat.id, replies, conversation)
    except Forbidden:
        log.info("chat %s blocked the bot; reply dropped", chat.id)


async def _on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    log.error("error while processing a Telegram update", exc_info=context.error)
