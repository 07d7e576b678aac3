"""End to end: the real python-telegram-bot Application polling a fake Bot API on loopback."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from telegram.ext import Application

from bot.telegram import MAX_TEXT, build_application, start_polling, stop_polling
from core.formatting import split_text
from handlers.conversation import Conversation
from handlers.flow import Dependencies
from storage.db import Database
from storage.repositories import Applicants
from tests import images
from tests.chat import ELIGIBLE_CHOICES, PROFILE_ANSWERS
from tests.fakes.telegram_api import FakeBotApi, SentMessage

APPLICANT = 5001
OTHER = 5002
STAFF = 900  # named as staff in the test settings

# (kind, value, replies the bot sends) for a whole registration after /start.
SCRIPT: list[tuple[str, str, int]] = [
    ("press", "menu:register", 1),
    ("press", "consent:yes", 2),
    *[("press", choice, 1) for choice in ELIGIBLE_CHOICES],
    *[
        ("text" if kind == "text" else "press", value, 2 if value == "17-08-1995" else 1)
        for kind, value in PROFILE_ANSWERS
    ],
    ("photo", "photo", 2),
    ("photo", "ktp", 2),
    ("document", "diploma", 2),
    ("press", "sum:confirm", 2),
]
PICTURES = {"photo": images.good_photo, "ktp": images.good_ktp, "diploma": images.pdf}


@asynccontextmanager
async def running_bot(
    fake: FakeBotApi, db: Database, deps: Dependencies
) -> AsyncIterator[Application]:
    """The bot as `mitrabot run` starts it: polling, bounded concurrency."""
    application = build_application(
        Conversation(db, deps), fake.token, fake.base_url, fake.base_file_url, concurrency=4
    )
    polling = await start_polling(application, poll_timeout=1)
    try:
        yield application
    finally:
        await asyncio.wait_for(stop_polling(polling), 10)


async def act(
    fake: FakeBotApi, user: int, kind: str, value: str, replies: int
) -> list[SentMessage]:
    """Do one thing as the user and wait for the expected number of bot messages."""
    before = len(fake.messages_to(user))
    if kind == "press":
        fake.push_callback(user, value)
    elif kind == "photo":
        fake.push_photo(user, PICTURES[value]())
    elif kind == "document":
        fake.push_document(user, PICTURES[value](), "ijazah.pdf", "application/pdf")
    else:
        fake.push_text(user, value)
    messages = await fake.wait_for_messages(user, before + replies)
    return messages[before:]


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi() as server:
        yield server


async def test_an_applicant_registers_on_telegram_and_survives_a_restart(
    fake: FakeBotApi, tmp_path: Path, deps: Dependencies
) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")
    await db.upgrade()
    half = 14  # consent, eligibility and the first profile answers
    async with running_bot(fake, db, deps):
        welcome = await act(fake, APPLICANT, "text", "/start", 2)
        assert "Selamat datang" in welcome[0].text
        assert welcome[1].callback_data[0] == "menu:register"
        for kind, value, replies in SCRIPT[:half]:
            await act(fake, APPLICANT, kind, value, replies)
    assert any(method == "setMyCommands" for method, _ in fake.calls)

    async with running_bot(fake, db, deps):  # a new process, same database
        resumed = (await act(fake, APPLICANT, "text", "/start", 2))[-1]
        assert "jenis kelamin" in resumed.text.lower()
        for kind, value, replies in SCRIPT[half:]:
            last = await act(fake, APPLICANT, kind, value, replies)
        assert "PMK24-00001" in last[0].text
        assert last[1].callback_data[0] == "sb:path:new"  # straight into the SOBAT guide
        await fake.wait_until_idle()
    async with db.transaction() as session:
        applicant = await Applicants(session).by_registration_number("PMK24-00001")
        assert applicant is not None
        stored = {document.kind: document for document in applicant.documents}
    assert stored["diploma"].mime_type == "application/pdf" and stored["diploma"].pages == 1
    assert stored["ktp"].width == 1280 and stored["ktp"].source == "telegram"
    assert deps.files.read(stored["ktp"].path) == images.good_ktp()
    await db.dispose()


async def test_staff_fetch_documents_in_chat(
    fake: FakeBotApi, db: Database, deps: Dependencies
) -> None:
    async with running_bot(fake, db, deps):
        await act(fake, APPLICANT, "text", "/start", 2)
        for kind, value, replies in SCRIPT:
            await act(fake, APPLICANT, kind, value, replies)
        await act(fake, STAFF, "text", "/start", 2)
        answer = await act(fake, STAFF, "text", "/dokumen pmk24-00001", 5)
        assert "Dokumen PMK24-00001 (Siti Aminah): 3 file" in answer[0].text
        sent = [m for m in answer if m.method in ("sendPhoto", "sendDocument")]
        assert [m.file_content for m in sent] == [
            images.good_photo(),
            images.good_ktp(),
            images.pdf(),
        ]
        await act(fake, OTHER, "text", "/start", 2)
        refused = await act(fake, OTHER, "text", "/dokumen PMK24-00001", 2)
        assert "khusus untuk petugas BPS" in refused[0].text
        assert not [m for m in fake.messages_to(OTHER) if m.method in ("sendPhoto", "sendDocument")]


async def test_redelivered_updates_are_answered_once(
    fake: FakeBotApi, db: Database, deps: Dependencies
) -> None:
    async with running_bot(fake, db, deps):
        await act(fake, APPLICANT, "text", "/start", 2)
        update_id = fake.push_text(APPLICANT, "/menu")
        await fake.wait_for_messages(APPLICANT, 3)
        person = {"id": APPLICANT, "is_bot": False, "first_name": "Tester"}
        again = {
            "update_id": update_id,
            "message": {
                "message_id": 4242,
                "from": person,
                "date": int(time.time()),
                "text": "/menu",
                "chat": {"id": APPLICANT, "type": "private", "first_name": "Tester"},
            },
        }
        fake.push_update(again)  # Telegram re-sends the same update
        fake.push_update(again)
        await fake.wait_until_idle()
        assert len(fake.messages_to(APPLICANT)) == 3


async def test_a_chats_updates_are_answered_in_the_order_they_were_sent(
    fake: FakeBotApi, db: Database, deps: Dependencies
) -> None:
    """A button press whose acknowledgement is slow is not overtaken by the text typed after
    it: the press is answered first, whatever the Bot API's round trip."""
    async with running_bot(fake, db, deps):
        await act(fake, APPLICANT, "text", "/start", 2)
        fake.response_delay = 0.3  # every call, answerCallbackQuery included
        fake.push_callback(APPLICANT, "menu:register")
        fake.push_text(APPLICANT, "/bantuan")
        answers = (await fake.wait_for_messages(APPLICANT, 4))[2:]
        assert "consent:yes" in answers[0].callback_data  # the press's answer comes first
        assert "consent:yes" not in answers[-1].callback_data
        await fake.wait_until_idle()
        assert fake.internal_errors == []


async def test_one_users_trouble_never_stops_the_bot_for_others(
    fake: FakeBotApi, db: Database, deps: Dependencies
) -> None:
    async with running_bot(fake, db, deps):
        await act(fake, OTHER, "text", "/start", 2)
        fake.block_user(OTHER)  # every send to OTHER now fails with 403
        fake.push_sticker(OTHER)
        fake.push_text(OTHER, "x" * 4000)
        await act(fake, APPLICANT, "text", "/start", 2)
        for kind, value, replies in SCRIPT[:4]:
            await act(fake, APPLICANT, kind, value, replies)
        fake.push_sticker(APPLICANT)
        answers = await fake.wait_for_messages(APPLICANT, len(fake.messages_to(APPLICANT)) + 2)
        assert "bukan file, foto, atau stiker" in answers[-2].text
        assert "(3 dari 8)" in answers[-1].text  # the question is asked again
        await fake.wait_until_idle()
        assert fake.internal_errors == []


def test_long_texts_are_split_at_line_breaks_within_telegram_limits() -> None:
    text = "\n".join(f"baris {n} " + "x" * 90 for n in range(200))
    parts = split_text(text, MAX_TEXT)
    assert len(parts) > 1 and all(len(part) <= 4096 for part in parts)
    assert "\n".join(parts) == text
    assert split_text("y" * 9000, MAX_TEXT) == ["y" * 4096, "y" * 4096, "y" * 808]


def test_one_splitter_serves_every_platform_limit() -> None:
    """WhatsApp's 1024-character bodies and Telegram's 4096 are cut by the same rule: at a line
    break, else between words, never leaving a part under a third full."""
    words = " ".join(["kata"] * 300)  # 1499 characters, no line break
    parts = split_text(words, 1024)
    assert all(len(part) <= 1024 and not part.endswith(" ") for part in parts)
    assert " ".join(parts) == words
    assert split_text("a\n" + "b" * 2000, 1024) == ["a\n" + "b" * 1022, "b" * 978]
    assert split_text("", MAX_TEXT) == [""]
