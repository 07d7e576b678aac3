"""Fuzz: thousands of random inputs at every step; nothing escapes, everything gets an answer."""

from __future__ import annotations

import logging
import random
import re

import pytest

from bot.logs import quiet_libraries
from core.types import FileKind, IncomingFile
from core.validation import parse_nik
from handlers.conversation import Conversation
from handlers.profile import FIELDS
from handlers.steps import FLOW
from storage.models import Applicant, ChatSession
from tests.chat import PROFILE_ANSWERS, Chat

MESSAGES = 2000
USERS = 8

PLAIN = [
    "",
    " ",
    "ya",
    "tidak",
    "1",
    "2",
    "14",
    "99",
    "0",
    "-1",
    "Siti Aminah",
    "3528015708950003",
    "17-08-1995",
    "17 Agustus 1995",
    "31/02/2000",
    "0812 3456 7890",
    "+1 202 555 0100",
    "siti@example.com",
    "Pamekasan",
    "palenggaan",
    "Dusun Krajan RT 02 RW 01, Desa Tlanakan",
    "👍",
    "🙏🙏🙏",
    "ok",
    "/start",
    "/menu",
    "/batal",
    "/bantuan",
    "/bahasa",
    "/datasaya",
    "/daftar",
    "/tutup_pendaftaran",
    "/status_pendaftaran",
    "/",
    "//",
    "/start@mitra_test_bot",
    "'; DROP TABLE applicants; --",
    "{nama}",
    "{0}",
    "%s",
    "\x00",
    "\u202e\u200b",
    "ﷺ",
    "null",
    "NaN",
    "9" * 40,
    "a" * 5000,
    "Ya. " * 300,
]
FILES = [
    IncomingFile(kind=FileKind.STICKER, file_id="s"),
    IncomingFile(kind=FileKind.PHOTO, file_id="p", size=2_000_000),
    IncomingFile(kind=FileKind.DOCUMENT, file_id="d", mime_type="application/pdf"),
    IncomingFile(kind=FileKind.DOCUMENT, file_id="x", size=30_000_000, file_name="a.exe"),
    IncomingFile(kind=FileKind.AUDIO),
    IncomingFile(kind=FileKind.OTHER),
]
STALE_CHOICES = [
    "consent:yes",
    "elig:no",
    "f:sex:X",
    "edit:nik",
    "del:yes",
    "menu:nope",
    "",
    "x" * 64,
]
VALID_ANSWERS = {spec.name: value for spec, (_, value) in zip(FIELDS, PROFILE_ANSWERS, strict=True)}


def _random_text(rng: random.Random) -> str:
    alphabet = "abcXYZ019 -/.:@+😀\u0000\n\t"
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60)))


async def _valid_answer(chat: Chat, rng: random.Random) -> str:
    """The right answer to the current question when it is a profile field (often)."""
    session = await chat.session()
    if session is None or session.step != "field":
        return rng.choice(PLAIN)
    name = session.data["field"]
    if name == "nik":  # one NIK per user: another user's NIK is refused
        return f"35280157089500{chat.user_id[-1]}{rng.randint(1, 9)}"
    return VALID_ANSWERS[name]


def _assert_valid(session: ChatSession, applicant: Applicant) -> None:
    assert session.step in FLOW
    assert session.language in ("id", "en")
    if applicant.nik is not None:
        assert parse_nik(applicant.nik).value == applicant.nik
    if applicant.phone is not None:
        assert re.fullmatch(r"\+628\d{8,11}", applicant.phone)
    if applicant.sex is not None:
        assert applicant.sex in ("L", "P")
    if applicant.full_name is not None:
        assert "\x00" not in applicant.full_name and len(applicant.full_name) <= 80
    if applicant.registration_number is not None:
        assert all(getattr(applicant, spec.name) is not None for spec in FIELDS)
        assert applicant.consent_at is not None


@pytest.mark.parametrize("seed", [1, 2])
async def test_random_input_at_every_step(
    conversation: Conversation, caplog: pytest.LogCaptureFixture, seed: int
) -> None:
    rng = random.Random(seed)
    chats = [Chat(conversation, f"fuzz-{seed}-{n}") for n in range(USERS)]
    steps_seen: set[str] = set()
    internal_error = conversation.deps.catalog.text("id", "internal_error")
    quiet_libraries()  # as `mitrabot` sets logging up
    with caplog.at_level(logging.DEBUG):
        for _ in range(MESSAGES):
            chat = rng.choice(chats)
            roll = rng.random()
            if roll < 0.45 and chat.buttons:
                await chat.press(rng.choice(chat.buttons))
            elif roll < 0.65:
                await chat.send(await _valid_answer(chat, rng))
            elif roll < 0.75:
                await chat.send(rng.choice(PLAIN))
            elif roll < 0.85:
                await chat.send(_random_text(rng))
            elif roll < 0.93:
                await chat.upload(rng.choice(FILES))
            else:
                await chat.press(rng.choice(STALE_CHOICES) or "?")
            assert chat.replies, "every input gets a reply"
            assert all(reply.text.strip() for reply in chat.replies)
            assert internal_error not in chat.text
            session, applicant = await chat.session(), await chat.applicant()
            if session is not None and applicant is not None:  # None after deleting one's data
                _assert_valid(session, applicant)
                steps_seen.add(session.step)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    logged = re.sub(r"(?<=\d)[\s.-](?=\d)", "", caplog.text).casefold()
    for planted in ("3528015708950", "81234567890", "siti aminah", "siti.aminah@", "siti@exam"):
        assert planted not in logged, f"{planted!r} reached the log"
    assert {"menu", "consent", "eligibility", "field", "summary"} <= steps_seen
