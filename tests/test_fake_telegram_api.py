"""The fake Telegram Bot API (tests/fakes/telegram_api.py) against the REAL python-telegram-bot."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, Forbidden, InvalidToken
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from tests.fakes.telegram_api import DEFAULT_JPEG, FakeBotApi

USER = 4242


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi() as api:
        yield api


def make_bot(fake: FakeBotApi) -> Bot:
    return Bot(fake.token, base_url=fake.base_url, base_file_url=fake.base_file_url)


@contextlib.asynccontextmanager
async def running_app(fake: FakeBotApi, *handlers: object) -> AsyncIterator[Application]:
    app = (
        ApplicationBuilder()
        .token(fake.token)
        .base_url(fake.base_url)
        .base_file_url(fake.base_file_url)
        .build()
    )
    for handler in handlers:
        app.add_handler(handler)  # type: ignore[arg-type]
    async with asyncio.timeout(5):
        await app.initialize()
        await app.start()
        await app.updater.start_polling(poll_interval=0, timeout=1)
    try:
        yield app
    finally:
        async with asyncio.timeout(5):
            if app.updater.running:
                await app.updater.stop()
            if app.running:
                await app.stop()
            await app.shutdown()


async def test_bot_get_me_send_message_and_get_updates_offsets(fake: FakeBotApi) -> None:
    async with make_bot(fake) as bot:
        me = await bot.get_me()
        assert (me.id, me.username, me.is_bot) == (fake.bot_id, fake.username, True)

        first = fake.push_text(USER, "halo", first_name="Sari")
        updates = await bot.get_updates(timeout=1)
        assert [u.update_id for u in updates] == [first]
        message = updates[0].message
        assert message is not None
        assert (message.text, message.chat.id, message.chat.type) == ("halo", USER, "private")
        assert message.from_user is not None
        assert (message.from_user.first_name, message.from_user.language_code) == ("Sari", "id")

        # Not confirmed yet: delivered again.  Confirmed by a higher offset: gone.
        assert [u.update_id for u in await bot.get_updates(timeout=0)] == [first]
        assert await bot.get_updates(offset=first + 1, timeout=0) == ()

        markup = InlineKeyboardMarkup([[InlineKeyboardButton("Ya", callback_data="consent:yes")]])
        sent = await bot.send_message(USER, "Setuju?", reply_markup=markup)
        assert sent.message_id == message.message_id + 1
        assert sent.text == "Setuju?"
        assert sent.reply_markup == markup
        assert sent.from_user is not None and sent.from_user.id == fake.bot_id

        [recorded] = fake.messages_to(USER)
        assert (recorded.method, recorded.text, recorded.message_id) == (
            "sendMessage",
            "Setuju?",
            sent.message_id,
        )
        assert recorded.callback_data == ["consent:yes"]
        method, params = fake.calls[-1]
        assert method == "sendMessage"
        assert params["chat_id"] == USER  # form value "4242" decoded to int
        assert params["reply_markup"] == markup.to_dict()  # JSON string decoded to dict

        press = fake.push_callback(USER, "consent:yes")
        [update] = await bot.get_updates(offset=first + 1, timeout=1)
        assert update.update_id == press
        query = update.callback_query
        assert query is not None and query.data == "consent:yes"
        assert query.message is not None and query.message.message_id == sent.message_id
        assert await bot.answer_callback_query(query.id) is True

        edited = await bot.edit_message_text(
            "Terima kasih", chat_id=USER, message_id=sent.message_id
        )
        assert isinstance(edited, type(sent)) and edited.text == "Terima kasih"
        assert edited.reply_markup is None  # omitting reply_markup removes the keyboard
        assert [m.method for m in fake.messages_to(USER)] == ["sendMessage", "editMessageText"]

        await bot.get_updates(offset=press + 1, timeout=0)
        await fake.wait_until_idle(timeout=2)


async def test_get_file_downloads_pushed_document_and_photo(fake: FakeBotApi) -> None:
    pdf = b"%PDF-1.4\r\n\x00\xff binary \n\r--boundary\r\n" * 50
    fake.push_document(USER, pdf, "ktp scan.pdf", "application/pdf")
    fake.push_photo(USER, caption="foto")
    async with make_bot(fake) as bot:
        doc_update, photo_update = await bot.get_updates(timeout=1)
        assert doc_update.message is not None and photo_update.message is not None
        document = doc_update.message.document
        assert document is not None
        assert (document.file_name, document.mime_type, document.file_size) == (
            "ktp scan.pdf",
            "application/pdf",
            len(pdf),
        )
        tg_file = await bot.get_file(document.file_id)
        assert tg_file.file_path is not None and tg_file.file_path.startswith(fake.base_file_url)
        assert bytes(await tg_file.download_as_bytearray()) == pdf

        photo = photo_update.message.photo
        assert photo_update.message.caption == "foto"
        assert (photo[-1].width, photo[-1].height) == (16, 16)
        photo_file = await photo[-1].get_file()
        assert bytes(await photo_file.download_as_bytearray()) == DEFAULT_JPEG

        # Upload (multipart) and re-send by file_id.
        await bot.send_document(USER, pdf, filename="copy.pdf", caption="salinan")
        await bot.send_photo(USER, photo[-1].file_id)
        uploaded, by_id = fake.messages_to(USER)
        assert (uploaded.method, uploaded.text, uploaded.file_content) == (
            "sendDocument",
            "salinan",
            pdf,
        )
        assert uploaded.params["chat_id"] == USER
        assert (by_id.method, by_id.file_content) == ("sendPhoto", DEFAULT_JPEG)


async def test_other_update_kinds_parse(fake: FakeBotApi) -> None:
    fake.push_sticker(USER)
    fake.push_contact(USER, "+6281234567890")
    fake.push_text(USER, "/start ref42")
    async with make_bot(fake) as bot:
        sticker, contact, command = await bot.get_updates(timeout=1)
    assert sticker.message is not None and sticker.message.sticker is not None
    assert sticker.message.sticker.type == "regular"
    assert contact.message is not None and contact.message.contact is not None
    assert contact.message.contact.phone_number == "+6281234567890"
    assert contact.message.contact.user_id == USER
    assert command.message is not None
    assert command.message.parse_entities(["bot_command"]) != {}


async def test_api_errors_match_telegram(fake: FakeBotApi) -> None:
    fake.push_text(USER, "hai")
    async with make_bot(fake) as bot:
        with pytest.raises(BadRequest, match="too long"):
            await bot.send_message(USER, "x" * 4097)
        with pytest.raises(BadRequest, match="text is empty"):
            await bot.send_message(USER, "   ")
        with pytest.raises(BadRequest, match=r"[Cc]hat not found"):
            await bot.send_message(999, "siapa?")
        too_long = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="d" * 65)]])
        with pytest.raises(BadRequest, match="Button_data_invalid"):
            await bot.send_message(USER, "pilih", reply_markup=too_long)
        sent = await bot.send_message(USER, "sama")
        with pytest.raises(BadRequest, match="not modified"):
            await bot.edit_message_text("sama", chat_id=USER, message_id=sent.message_id)
        fake.block_user(USER)
        with pytest.raises(Forbidden, match="blocked"):
            await bot.send_message(USER, "hai")
    assert [m.text for m in fake.sent] == ["sama"]

    with pytest.raises(InvalidToken, match="rejected by the server"):
        async with Bot("999:WRONG", base_url=fake.base_url):  # initialize() calls getMe
            pass

    async with httpx.AsyncClient() as client:
        response = await client.post(f"{fake.base_url}{fake.token}/sendDice", data={"chat_id": 1})
    assert response.status_code == 404
    assert response.json() == {
        "ok": False,
        "error_code": 404,
        "description": "Not Found: method not found",
    }


async def test_raw_http_json_body_and_query_string(fake: FakeBotApi) -> None:
    fake.push_text(USER, "hai")
    api = f"{fake.base_url}{fake.token}"
    async with httpx.AsyncClient() as client:
        markup = '{"inline_keyboard": [[{"text": "a", "callback_data": "x"}]]}'
        response = await client.post(
            f"{api}/sendMessage", json={"chat_id": str(USER), "text": "123", "reply_markup": markup}
        )
        assert response.status_code == 200
        result = response.json()["result"]
        assert result["text"] == "123"  # free text is never JSON-decoded
        assert result["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "x"
        response = await client.get(f"{api}/getme")  # method names are case-insensitive
        assert response.json()["result"]["username"] == fake.username
    assert fake.sent[0].chat_id == USER
    assert fake.sent[0].callback_data == ["x"]


async def test_application_polling_echo_and_buttons(fake: FakeBotApi) -> None:
    seen_update_ids: list[int] = []

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        keyboard = InlineKeyboardMarkup(
            [
                [InlineKeyboardButton("A", callback_data="pick:a")],
                [InlineKeyboardButton("B", callback_data="pick:b")],
            ]
        )
        await update.effective_message.reply_text(f"args={context.args}", reply_markup=keyboard)

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None and update.effective_message.text
        seen_update_ids.append(update.update_id)
        await update.effective_message.reply_text(f"echo: {update.effective_message.text}")

    async def button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer()
        await query.edit_message_text(f"chosen {query.data}")

    async with running_app(
        fake,
        CommandHandler("start", start),
        MessageHandler(filters.TEXT & ~filters.COMMAND, echo),
        CallbackQueryHandler(button, pattern=r"^pick:"),
    ):
        fake.push_text(USER, "/start ref42")
        [menu] = await fake.wait_for_messages(USER, 1, timeout=3)
        assert menu.text == "args=['ref42']"
        assert menu.callback_data == ["pick:a", "pick:b"]

        fake.push_callback(USER, "pick:b")
        messages = await fake.wait_for_messages(USER, 2, timeout=3)
        assert (messages[-1].method, messages[-1].text) == ("editMessageText", "chosen pick:b")
        assert messages[-1].message_id == menu.message_id
        assert any(method == "answerCallbackQuery" for method, _ in fake.calls)

        update_id = fake.push_text(USER, "halo")
        second = fake.push_text(2, "dua", first_name="Budi")
        assert [m.text for m in await fake.wait_for_messages(2, 1, timeout=3)] == ["echo: dua"]
        await fake.wait_for_messages(USER, 3, timeout=3)

        # Re-deliver an already confirmed update (same update_id), e.g. to test idempotency.
        await fake.wait_until_idle(timeout=3)
        duplicate = {
            "update_id": update_id,
            "message": {
                "message_id": 99,
                "from": {"id": USER, "is_bot": False, "first_name": "Tester"},
                "chat": {"id": USER, "type": "private", "first_name": "Tester"},
                "date": 1_700_000_000,
                "text": "halo",
            },
        }
        assert fake.push_update(duplicate) == update_id
        await fake.wait_for_messages(USER, 4, timeout=3)
        await fake.wait_until_idle(timeout=3)

    assert seen_update_ids == [update_id, second, update_id]
    assert [m.text for m in fake.messages_to(USER)] == [
        "args=['ref42']",
        "chosen pick:b",
        "echo: halo",
        "echo: halo",
    ]
    assert not fake.internal_errors


async def test_wait_for_messages_times_out_with_details(fake: FakeBotApi) -> None:
    with pytest.raises(TimeoutError, match="expected 1 message"):
        await fake.wait_for_messages(USER, 1, timeout=0.1)
