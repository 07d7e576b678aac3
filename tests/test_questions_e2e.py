"""A handed-over question, end to end: the applicant asks on Telegram or WhatsApp, staff are told
in their chat, staff answer with /jawab, and the answer reaches the applicant's chat."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from telegram import Bot

from bot.telegram import TelegramSender
from core.clock import FrozenClock
from handlers.conversation import Conversation
from handlers.flow import Dependencies
from scheduler.delivery import ChannelLimits, DeliveryWorker, Sender
from storage.db import Database
from storage.repositories import Staff
from tests.chat import Chat
from tests.fakes.telegram_api import FakeBotApi
from tests.fakes.whatsapp_webhook import Sender as WhatsAppUser
from tests.test_telegram_e2e import APPLICANT, STAFF, act, running_bot
from tests.test_whatsapp import USER, WhatsAppRig, _choose, _worker, rig

__all__ = ["rig"]  # the WhatsApp rig fixture

QUESTION = "gajinya brp min?"
STAFF_ON_WHATSAPP = WhatsAppUser(user_id="ID.7700112233445566", wa_id="6281700000001")
ANSWER = "Besaran honor diumumkan per kegiatan; petugas akan menghubungi Anda."


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi() as server:
        yield server


def _telegram_worker(
    db: Database, sender: Sender, deps: Dependencies, clock: FrozenClock
) -> DeliveryWorker:
    return DeliveryWorker(
        db,
        {"telegram": sender},
        {"telegram": ChannelLimits(rate=100, per_chat=100)},
        clock,
        deps.config.quiet_hours,
        deps.files,
    )


async def test_a_question_goes_to_staff_and_the_answer_back_on_telegram(
    fake: FakeBotApi, db: Database, deps: Dependencies, clock: FrozenClock
) -> None:
    bot = Bot(fake.token, base_url=fake.base_url, base_file_url=fake.base_file_url)
    async with running_bot(fake, db, deps), bot:
        worker = _telegram_worker(db, TelegramSender(bot), deps, clock)
        await act(fake, STAFF, "text", "/start", 2)
        await act(fake, APPLICANT, "text", "/start", 2)
        unsure, menu = await act(fake, APPLICANT, "text", QUESTION, 2)
        assert "tidak mau menebak" in unsure.text and "menu:register" in menu.callback_data
        handed, _ = await act(fake, APPLICANT, "press", unsure.callback_data[-1], 2)
        assert "Pertanyaan #1 sudah diteruskan" in handed.text

        staff_before = len(fake.messages_to(STAFF))
        assert await worker.drain_once() == 1
        notice = (await fake.wait_for_messages(STAFF, staff_before + 1))[-1]
        assert QUESTION in notice.text and "/jawab 1" in notice.text

        sent, _ = await act(fake, STAFF, "text", f"/jawab 1 {ANSWER}", 2)
        assert "dikirim ke penanya" in sent.text
        before = len(fake.messages_to(APPLICANT))
        assert await worker.drain_once() == 1
        answer = (await fake.wait_for_messages(APPLICANT, before + 1))[-1]
    assert "Jawaban petugas BPS untuk pertanyaan #1" in answer.text
    assert QUESTION in answer.text and ANSWER in answer.text


async def test_a_question_goes_to_staff_and_the_answer_back_on_whatsapp(
    rig: WhatsAppRig, clock: FrozenClock
) -> None:
    async with rig.conversation.db.transaction() as session:  # `mitrabot staff add whatsapp:…`
        await Staff(session).add(
            "whatsapp", STAFF_ON_WHATSAPP.user_id, "Petugas", "cli", clock.now()
        )
    await rig.post(rig.build.text("halo", sender=STAFF_ON_WHATSAPP))
    await rig.post(rig.build.text("/pertanyaan", sender=STAFF_ON_WHATSAPP))
    assert "Pertanyaan menunggu jawaban: 0" in _texts_to(rig, STAFF_ON_WHATSAPP)

    await rig.post(rig.build.text("halo"))
    await rig.post(rig.build.text("/bahasa"))  # in English, so the answer comes in English
    await rig.post(rig.build.text("what is the salary?"))
    assert "no sure answer" in "\n".join(rig.texts()[-3:])
    await _choose(rig, "q:staff")
    assert "Question #1 has been passed to BPS staff" in "\n".join(rig.texts()[-3:])

    worker = _worker(rig, clock)
    before = _texts_to(rig, STAFF_ON_WHATSAPP)
    await worker.drain_once()  # the notice: to the number the staff member writes from
    notice = _texts_to(rig, STAFF_ON_WHATSAPP).removeprefix(before)
    assert "what is the salary?" in notice and "/jawab 1" in notice

    await rig.post(rig.build.text(f"/jawab 1 {ANSWER}", sender=STAFF_ON_WHATSAPP))
    assert "dikirim ke penanya" in _texts_to(rig, STAFF_ON_WHATSAPP)
    await worker.drain_once()
    last = rig.last()
    assert last.to == USER.wa_id
    assert "BPS staff's answer to question #1" in last.text and ANSWER in last.text


def _texts_to(rig: WhatsAppRig, sender: WhatsAppUser) -> str:
    """What the fake Graph API took for `sender`'s phone number (not their user id), as text
    (none as a template: the chat wrote within 24 hours)."""
    sent = [message for message in rig.fake.sent if message.to == sender.wa_id]
    assert all(message.template is None for message in sent)
    return "\n".join(message.text or "" for message in sent)


async def test_staff_answers_are_refused_to_others(conversation: Conversation) -> None:
    chat = Chat(conversation, user_id="4242")
    await chat.send("/start")
    await chat.send("/pertanyaan")
    assert "khusus untuk petugas" in chat.text
    assert "staff_command_refused" in await chat.audit_actions()
