"""Staff broadcasts: composing in chat, audiences, rights on every step, delivery and report."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime

import pytest
from sqlalchemy import select
from telegram import Bot

from bot.telegram import TelegramSender
from core.clock import FrozenClock
from core.types import Channel, FileKind, Incoming
from handlers.conversation import Conversation
from scheduler.delivery import ChannelLimits, DeliveryWorker, TurnDelivery
from scheduler.progress import BroadcastProgress
from storage.models import Broadcast, OutboxMessage
from storage.repositories import Staff
from tests import images
from tests.chat import Chat
from tests.fakes.telegram_api import FakeBotApi

STAFF_ID = "900"  # named as staff in the test settings


async def _applicants(conversation: Conversation, complete: int, started: int) -> list[Chat]:
    chats = []
    for n in range(complete):
        chat = Chat(conversation, str(2000 + n))
        await chat.start_registration()
        await chat.pass_eligibility()
        answers = [
            ("text", f"Pendaftar Nomor {chr(65 + n)}"),
            ("text", f"35280157089500{n + 1:02d}"),
        ]
        from tests.chat import PROFILE_ANSWERS

        await chat.fill_profile(answers + PROFILE_ANSWERS[2:])
        await chat.hand_in_documents()
        await chat.press("sum:confirm")
        chats.append(chat)
    for n in range(started):
        chat = Chat(conversation, str(3000 + n))
        await chat.start_registration()  # consented, nothing more
        chats.append(chat)
    return chats


async def _outbox(conversation: Conversation) -> list[OutboxMessage]:
    async with conversation.db.transaction() as session:
        rows = await session.execute(select(OutboxMessage).order_by(OutboxMessage.id))
        return list(rows.scalars())


async def test_staff_compose_choose_audience_preview_and_send(conversation: Conversation) -> None:
    await _applicants(conversation, complete=2, started=3)
    staff = Chat(conversation, STAFF_ID)
    await staff.send("/start")
    await staff.send("/siaran")
    assert "Siaran baru" in staff.text and "{nama}" in staff.text
    await staff.send("Halo {nama}, nomor Anda {nomor}. Tes kompetensi 5 Desember.")
    labels = [b.label for b in staff.replies[-1].buttons]
    assert labels[:3] == ["Semua (5)", "Belum lengkap (3)", "Sudah lengkap (2)"]
    await staff.press("bca:complete")
    # The preview is the first real recipient's message, not an invented example.
    assert "Halo Pendaftar Nomor A, nomor Anda PMK24-00001" in staff.text
    assert "2 orang" in staff.text and staff.buttons[0] == "bc:send"
    await staff.press("bc:send")
    assert "Siaran #1 masuk antrean untuk 2 penerima" in staff.text
    assert staff.replies[0].track == "broadcast:1"
    rows = await _outbox(conversation)
    assert [row.text for row in rows] == [
        "Halo Pendaftar Nomor A, nomor Anda PMK24-00001. Tes kompetensi 5 Desember.",
        "Halo Pendaftar Nomor B, nomor Anda PMK24-00002. Tes kompetensi 5 Desember.",
    ]
    assert {row.recipient for row in rows} == {"2000", "2001"}
    assert "broadcast_created" in await staff.audit_actions()


async def test_kecamatan_and_channel_audiences(conversation: Conversation) -> None:
    await _applicants(conversation, complete=2, started=1)
    staff = Chat(conversation, STAFF_ID)
    await staff.send("/start")
    await staff.send("/siaran")
    await staff.send("Info untuk Tlanakan")
    await staff.press("bca:kecamatan")
    assert "bck:35.28.01" in staff.buttons and "bck:luar" in staff.buttons
    await staff.press("bck:35.28.01")
    assert "2 orang" in staff.text
    await staff.press("bc:rewrite")
    await staff.send("Info Telegram")
    await staff.press("bca:channel")
    await staff.press("bcc:whatsapp")
    assert "0 orang" in staff.text
    await staff.press("bc:cancel")
    assert "Siaran dibatalkan" in staff.text
    assert await _outbox(conversation) == []


async def test_a_photo_with_a_caption_is_sent_with_every_message(
    conversation: Conversation,
) -> None:
    await _applicants(conversation, complete=1, started=1)
    staff = Chat(conversation, STAFF_ID)
    await staff.send("/start")
    await staff.send("/siaran")
    await staff.send_file(images.good_photo(), kind=FileKind.PHOTO)
    assert "Kirim ke siapa?" in staff.text
    await staff.press("bca:all")
    assert "Lampiran: lampiran.jpg" in staff.text
    await staff.press("bc:send")
    rows = await _outbox(conversation)
    assert len(rows) == 2 and all(row.file_mime_type == "image/jpeg" for row in rows)
    assert conversation.deps.files.read(rows[0].file_path or "") == images.good_photo()


async def test_only_staff_may_broadcast_and_rights_are_checked_at_every_step(
    conversation: Conversation, clock: FrozenClock
) -> None:
    outsider = Chat(conversation, "1234")
    await outsider.send("/start")
    await outsider.send("/siaran")
    assert "khusus untuk petugas BPS" in outsider.text
    await outsider.press("bc:send")
    assert "sudah tidak berlaku" in outsider.text
    async with conversation.db.transaction() as session:
        await Staff(session).add("telegram", "777", "Erfan", "cli:test", clock.now())
    staff = Chat(conversation, "777")
    await staff.send("/start")
    await staff.send("/siaran")
    await staff.send("Pesan yang tidak jadi")
    async with conversation.db.transaction() as session:
        await Staff(session).remove("telegram", "777")
    await staff.press("bca:all")
    assert "khusus untuk petugas BPS" in staff.text
    assert await _outbox(conversation) == []
    async with conversation.db.transaction() as session:
        assert (await session.execute(select(Broadcast))).first() is None


async def test_broadcast_in_quiet_hours_waits_for_the_morning(
    conversation: Conversation, clock: FrozenClock
) -> None:
    await _applicants(conversation, complete=0, started=2)
    clock.set(datetime(2023, 11, 10, 22, 15))
    staff = Chat(conversation, STAFF_ID)
    await staff.send("/start")
    await staff.send("/siaran")
    await staff.send("Selamat pagi")
    await staff.press("bca:all")
    await staff.press("bc:send")
    rows = await _outbox(conversation)
    morning = datetime(2023, 11, 11, 6, 0, tzinfo=clock.tz)
    assert rows and all(row.not_before == morning for row in rows)


async def test_status_and_cancel(conversation: Conversation) -> None:
    await _applicants(conversation, complete=0, started=3)
    staff = Chat(conversation, STAFF_ID)
    await staff.send("/start")
    await staff.send("/siaran")
    await staff.send("Pesan")
    await staff.press("bca:all")
    await staff.press("bc:send")
    await staff.send("/siaran_status")
    assert "Siaran #1 (berjalan)" in staff.text and "Terkirim 0 dari 3" in staff.text
    await staff.send("/siaran_batal 1")
    assert "3 pesan yang belum terkirim dibatalkan" in staff.text
    await staff.send("/siaran_status 1")
    assert "(dibatalkan)" in staff.text
    assert {row.state for row in await _outbox(conversation)} == {"cancelled"}


async def test_deleting_my_data_removes_my_queued_messages(conversation: Conversation) -> None:
    [applicant] = await _applicants(conversation, complete=0, started=1)
    staff = Chat(conversation, STAFF_ID)
    await staff.send("/start")
    await staff.send("/siaran")
    await staff.send("Pesan")
    await staff.press("bca:all")
    await staff.press("bc:send")
    assert {row.recipient for row in await _outbox(conversation)} == {"3000"}
    await applicant.press("menu:mydata")
    await applicant.press("md:delete")
    await applicant.press("del:yes")
    assert await _outbox(conversation) == []


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi() as server:
        yield server


async def test_delivery_edits_the_progress_message_and_reports_failures(
    conversation: Conversation, fake: FakeBotApi, clock: FrozenClock
) -> None:
    chats = await _applicants(conversation, complete=0, started=4)
    for chat in [*chats, Chat(conversation, STAFF_ID)]:
        fake.add_user(int(chat.user_id))
    fake.block_user(3001)
    staff = Chat(conversation, STAFF_ID)
    await staff.send("/start")
    await staff.send("/siaran")
    await staff.send("Halo {nama}")
    await staff.press("bca:incomplete")
    bot = Bot(fake.token, base_url=fake.base_url, base_file_url=fake.base_file_url)
    async with bot:
        senders = {"telegram": TelegramSender(bot)}
        deps = conversation.deps
        # the staff's answer goes out through the outbox: once sent, it is the progress message
        replies = TurnDelivery(conversation.db, senders, clock, deps.files)
        press = Incoming(channel=Channel.TELEGRAM, user_id=STAFF_ID, choice="bc:send")
        await replies.send((await conversation.handle(press, send_as=replies.holder)).queued)
        quiet = deps.config.quiet_hours
        reporter = BroadcastProgress(
            conversation.db, senders, deps.catalog, clock, deps.files, every=0
        )
        worker = DeliveryWorker(
            conversation.db,
            senders,
            {"telegram": ChannelLimits(rate=100, per_chat=100)},
            clock,
            quiet,
            deps.files,
            idle_wait=0.01,
            report=reporter,
        )
        for _ in range(5):
            await worker.drain_once()
            await asyncio.sleep(0.01)
    edits = [m for m in fake.sent if m.method == "editMessageText"]
    assert edits and "Terkirim 3 dari 4" in edits[-1].text and "(selesai)" in edits[-1].text
    report = [m for m in fake.messages_to(int(STAFF_ID)) if m.method == "sendDocument"]
    assert len(report) == 1 and "tidak terjangkau 1" in (report[0].params.get("caption") or "")
    assert b"3001" in (report[0].file_content or b"")
    delivered = [m.chat_id for m in fake.sent if m.method == "sendMessage" and "Halo" in m.text]
    assert sorted(delivered) == [3000, 3002, 3003]
