"""Logs never hold a NIK, a phone number, a name or an e-mail, even from malformed webhooks."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from telegram import Update

from bot import telegram as telegram_adapter
from bot.intake import BackgroundWork
from bot.logs import QUIET, RedactPersonal, quiet_libraries, redact
from bot.telegram import build_application, telegram_intake
from bot.web import TELEGRAM_PATH, build_web_app
from core.failures import private_traceback
from core.types import Incoming
from handlers.conversation import Conversation
from tests.fakes.telegram_api import FakeBotApi, text_update
from tests.fakes.whatsapp_webhook import Sender
from tests.test_web_refusals import CHUNK, HANG_GUARD, LIMIT, Body
from tests.test_whatsapp import WhatsAppRig, rig  # noqa: F401 (the fixture)

NIK = "3528015708950003"
PLANTED = (NIK, "Siti Aminah", "siti.aminah@example.com", "81234567890")
SITI = Sender(user_id="ID.1349120865530274", wa_id="6281234567890", name="Siti Aminah")


def _clean(text: str) -> list[str]:
    joined = re.sub(r"(?<=\d)[\s.-](?=\d)", "", text).casefold()
    return [value for value in PLANTED if value.casefold() in joined]


def _malformed(hooks: WhatsAppRig) -> list[dict]:
    """Signed payloads of the wrong shape, each carrying personal values."""
    text = hooks.build.text(f"NIK saya {NIK}", sender=SITI)
    value = text["entry"][0]["changes"][0]["value"]
    message = value["messages"][0]
    cases = []
    for part, wrong in (
        ("text", {"body": {"nik": NIK, "email": "siti.aminah@example.com"}}),
        ("text", [f"Siti Aminah {NIK}"]),
        ("interactive", {"button_reply": [NIK]}),
        ("type", {"phone": "+62 812-3456-7890"}),
        ("timestamp", {"name": "Siti Aminah"}),
        ("from", {"wa_id": "6281234567890"}),
    ):
        payload = hooks.build.text("x", sender=SITI)
        changed = payload["entry"][0]["changes"][0]["value"]["messages"][0]
        changed.update({k: v for k, v in message.items() if k != part})
        changed[part] = wrong
        cases.append(payload)
    contacts = hooks.build.text("halo", sender=SITI)
    contacts["entry"][0]["changes"][0]["value"]["contacts"] = [["Siti Aminah", NIK]]
    statuses = hooks.build.text("halo", sender=SITI)
    statuses["entry"][0]["changes"][0]["value"]["statuses"] = [
        {"id": "x", "recipient_id": "6281234567890", "errors": [{"code": NIK, "title": [NIK]}]}
    ]
    return [*cases, contacts, statuses]


async def test_malformed_signed_whatsapp_payloads_log_no_personal_value(
    rig: WhatsAppRig,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    quiet_libraries()
    caplog.set_level(logging.DEBUG)
    for payload in _malformed(rig):
        response = await rig.post(payload)
        assert response.status_code == 200
    assert caplog.records, "the malformed parts are logged"
    assert _clean(caplog.text) == []


def test_the_filter_masks_what_reached_a_log_line_anyway() -> None:
    record = logging.LogRecord(
        "x", logging.ERROR, __file__, 1, "input_value=%r from %s", (NIK, "siti@example.com"), None
    )
    try:
        raise ValueError("0812-3456-7890 and +62 812 3456 7890")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    RedactPersonal().filter(record)
    line = logging.Formatter().format(record)
    assert NIK not in line and "siti@example.com" not in line and "3456" not in line
    assert "[NIK]" in line and "[e-mail]" in line and "[phone]" in line
    assert redact("tanggal 17-08-1995, 20 MB") == "tanggal 17-08-1995, 20 MB"


SECRET_TOKEN = "rahasia-webhook"
PHONES = ("+62 812-3456-7890", "081234567890", "6281234567890", "0812.3456.7890")


def _update(update_id: int, **message: Any) -> dict[str, Any]:
    """A private message from Siti (her name in the profile), with `message` fields changed."""
    update = text_update(update_id, 5123456789, f"NIK {NIK}")
    update["message"]["from"].update(first_name="Siti", last_name="Aminah")
    update["message"].update(message)
    return update


def _telegram_bodies() -> list[tuple[bytes | Body, dict[str, str], int]]:
    """Webhook posts (body, headers, the status expected), each carrying personal values."""
    personal = f"Siti Aminah {NIK} siti.aminah@example.com {' '.join(PHONES)} "
    wrong = {"X-Telegram-Bot-Api-Secret-Token": NIK}
    right = {"X-Telegram-Bot-Api-Secret-Token": SECRET_TOKEN}
    deep = b"[" * 20_000 + json.dumps(personal).encode() + b"]" * 20_000
    huge = personal.encode() * (LIMIT // len(personal) + 1)
    siti = {"id": 5123456789, "is_bot": False, "first_name": "Siti Aminah"}
    odd_updates = [  # an `Update` to python-telegram-bot, odd to the adapter
        _update(1, text={"nik": NIK, "email": "siti.aminah@example.com"}),
        _update(2, text=[f"Siti Aminah {NIK}"]),
        _update(3, chat={"id": 5123456789, "type": {"name": "Siti Aminah"}}),
        _update(4, contact={"phone_number": {"nomor": PHONES[0]}, "first_name": "Siti Aminah"}),
        _update(5, contact={"phone_number": PHONES[1], "first_name": "S", "user_id": NIK}),
        _update(
            6, text=None, photo=[{"file_id": NIK, "file_unique_id": "u", "width": 1, "height": 1}]
        ),
        _update(7, text=None, document={"file_id": [NIK], "file_unique_id": "u"}),
        _update(8, **{"from": {**siti, "id": PHONES[2]}}),
        _update(9, **{"from": {**siti, "language_code": ["siti.aminah@example.com"]}}),
        {
            "update_id": 10,
            "callback_query": {
                "id": NIK,
                "from": siti,
                "chat_instance": PHONES[3],
                "data": ["siti.aminah@example.com"],
                "message": _update(10)["message"],
            },
        },
    ]
    not_updates = [  # refused by python-telegram-bot
        _update(11, contact={"phone_number": PHONES[1], "user_id": "Siti Aminah"}),
        _update(12, photo=[f"{NIK}.jpg"], text=None, caption="siti.aminah@example.com"),
        _update(13, **{"from": {"id": PHONES[2], "first_name": "Siti Aminah"}}),
        {"update_id": 14, "callback_query": {"id": NIK, "data": [PHONES[3]], "from": 7}},
    ]
    return [
        (json.dumps(_update(20)).encode(), wrong, 403),
        (huge, right, 413),
        (Body(4 * CHUNK, stall_after=CHUNK), right, 408),
        (f"{{nik: {personal}".encode(), right, 400),
        (deep, right, 400),
        (json.dumps(personal.split()).encode(), right, 400),
        (json.dumps({"update_id": NIK, "message": personal}).encode(), right, 400),
        (json.dumps({"update_id": 21, "message": personal}).encode(), right, 400),
        (json.dumps({"update_id": 22, "message": {"chat": PHONES[0]}}).encode(), right, 400),
        *[(json.dumps(update).encode(), right, 400) for update in not_updates],
        *[(json.dumps(update).encode(), right, 200) for update in odd_updates],
    ]


def _capture_everything(caplog: pytest.LogCaptureFixture) -> None:
    """DEBUG for every logger but the libraries `mitrabot` quiets (as it runs)."""
    quiet_libraries()
    caplog.set_level(logging.DEBUG)
    for name in list(logging.root.manager.loggerDict):
        if name.split(".")[0] not in QUIET:
            caplog.set_level(logging.DEBUG, logger=name)


def _logged(caplog: pytest.LogCaptureFixture) -> str:
    """Everything captured: the lines and every traceback."""
    tracebacks = [record.exc_text or "" for record in caplog.records]
    return "\n".join(
        [caplog.text, *(record.getMessage() for record in caplog.records), *tracebacks]
    )


async def test_refused_and_malformed_telegram_webhooks_log_no_personal_value(
    conversation: Conversation, caplog: pytest.LogCaptureFixture
) -> None:
    _capture_everything(caplog)
    async with telegram_webhook(conversation) as (_, post):
        for body, headers, status in _telegram_bodies():
            response = await post(body.chunks() if isinstance(body, Body) else body, headers)
            assert response.status_code == status
    assert "Telegram webhook POST that is not an update refused" in caplog.text
    assert "a malformed Telegram update skipped (text)" in caplog.text
    assert _clean(_logged(caplog)) == []


TYPED = [NIK, *PHONES, "siti.aminah@example.com", "Siti Aminah"]


def _bug(incoming: Incoming | Update, *args: Any) -> None:
    """A bug whose error message repeats what was typed (as `int()`'s does)."""
    text = incoming.text if isinstance(incoming, Incoming) else incoming.effective_message.text
    raise ValueError(f"not a number: {text!r}")


@pytest.mark.parametrize("text", TYPED)
async def test_a_message_that_breaks_the_conversation_logs_no_personal_value(
    conversation: Conversation,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    text: str,
) -> None:
    async def broken(self: Conversation, incoming: Incoming, *args: Any) -> None:
        _bug(incoming)

    monkeypatch.setattr(Conversation, "_answer", broken)
    _capture_everything(caplog)
    async with telegram_webhook(conversation) as (telegram, post):
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET_TOKEN}
        assert (await post(json.dumps(_update(30, text=text)).encode(), headers)).status_code == 200
        (apology,) = await telegram.wait_for_messages(5123456789, 1, timeout=10)
    assert "Maaf" in (apology.text or "")
    assert "error while handling a telegram message" in caplog.text
    assert "ValueError" in _logged(caplog)  # the kind of failure and where it happened stay
    assert "in _bug" in _logged(caplog)
    assert _clean(_logged(caplog)) == []


@pytest.mark.parametrize("text", TYPED)
async def test_an_update_that_breaks_the_adapter_logs_no_personal_value(
    conversation: Conversation,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    text: str,
) -> None:
    monkeypatch.setattr(telegram_adapter, "to_incoming", _bug)
    _capture_everything(caplog)
    async with telegram_webhook(conversation) as (_, post):
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET_TOKEN}
        assert (await post(json.dumps(_update(31, text=text)).encode(), headers)).status_code == 200
    assert "an accepted telegram payload failed; it stays for the sweep" in caplog.text
    assert "ValueError" in _logged(caplog) and "in _bug" in _logged(caplog)
    assert _clean(_logged(caplog)) == []


Post = Callable[[Any, dict[str, str]], Awaitable[httpx.Response]]


@asynccontextmanager
async def telegram_webhook(conversation: Conversation) -> AsyncIterator[tuple[FakeBotApi, Post]]:
    """The web app's Telegram webhook over the real intake and conversation, sending to a fake
    Bot API; yields the fake and a `post(body, headers)` that waits for the work it started."""
    async with FakeBotApi() as telegram:
        telegram.add_user(5123456789)
        application = build_application(
            conversation, telegram.token, telegram.base_url, telegram.base_file_url, 1
        )
        await application.initialize()
        background = BackgroundWork()
        web = build_web_app(
            conversation.db,
            now=conversation.deps.clock.now,
            telegram=application,
            telegram_secret=SECRET_TOKEN,
            telegram_intake=telegram_intake(application, background),
            background=background,
            max_body_bytes=LIMIT,
            body_timeout=0.05,
        )
        transport = httpx.ASGITransport(app=web, raise_app_exceptions=False)

        async def post(content: Any, headers: dict[str, str]) -> httpx.Response:
            async with asyncio.timeout(HANG_GUARD):
                response = await http.post(TELEGRAM_PATH, content=content, headers=headers)
                await background.drain()
            return response

        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://bot.test") as http:
                yield telegram, post
        finally:
            await application.shutdown()


def test_a_private_traceback_keeps_the_chain_and_where_but_no_message() -> None:
    try:
        try:
            raise KeyError(f"Key (nik)=({NIK}) already exists")
        except KeyError as error:
            raise RuntimeError(PLANTED[2]) from error
    except RuntimeError as error:
        text = private_traceback(error)
    assert text.index("builtins.KeyError") < text.index("builtins.RuntimeError")
    assert text.count("test_a_private_traceback_keeps_the_chain") == 2
    assert _clean(text) == []
