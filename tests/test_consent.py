"""Consent names everything stored, "Data saya" shows all of it, and a refusal is honoured: who
declined (or never answered) gets no reminder and is in no broadcast audience."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from core.clock import FrozenClock
from core.recruitment import RecruitmentConfig
from handlers.conversation import Conversation
from services.broadcasts import Audience, count_recipients, create_broadcast
from storage.models import OutboxMessage
from tests.chat import PROFILE_ANSWERS, Chat, jobs_of

STORED_ID = (
    "nama lengkap",
    "nik",
    "tempat dan tanggal lahir",
    "jenis kelamin",
    "alamat",
    "kecamatan",
    "nomor hp",
    "alamat e-mail",
    "pendidikan terakhir",
    "pengalaman sensus/survei bps",
    "komputer/smartphone",
    "kendaraan bermotor",
    "syarat wajib",
    "orang tua/wali",
    "e-mail akun sobat",
    "laporan kendala",
    "akun chat",
    "nomor whatsapp",
    "hasil seleksi",
)


async def test_the_consent_names_every_item_stored(chat: Chat, config: RecruitmentConfig) -> None:
    await chat.send("/start")
    await chat.press("menu:register")
    consent = chat.text.casefold()
    missing = [item for item in STORED_ID if item not in consent]
    assert not missing, missing
    for document in config.documents:  # the three pictures, by the names in the config
        assert document.name.get("id").casefold() in consent
    assert "pamekasan-2024-v2" in consent
    await chat.send("/bahasa")
    english = chat.text
    assert "the e-mail of that account" in english and "problems you report" in english
    assert all(document.name.get("en") in english for document in config.documents)


async def test_my_data_shows_the_sobat_email_reports_and_chat_accounts(
    conversation: Conversation,
) -> None:
    chat = Chat(conversation, "1001")
    await chat.start_registration()
    await chat.pass_eligibility()
    await chat.fill_profile(PROFILE_ANSWERS[:2])
    await chat.press("menu:mydata")
    assert "Panduan SOBAT: belum dimulai" in chat.text
    await chat.press("menu:sobat")
    await chat.press("sb:path:new")
    await chat.send("siti.sobat@example.com")
    await chat.press("sb:done")
    await chat.press("sb:stuck")
    await chat.press("sb:report")
    await chat.send("Email aktivasi tidak pernah masuk")
    await chat.press("menu:mydata")
    text = chat.text
    assert "Panduan SOBAT (belum punya akun)" in text
    assert "✅ 1. Registrasi akun" in text and "🆘 2. Aktivasi akun lewat e-mail" in text
    assert "E-mail akun SOBAT: siti.sobat@example.com" in text
    assert 'Laporan kendala SOBAT #1 (10 November 2023, 09.00 WIB): "Email aktivasi' in text
    assert "• Telegram (ID 1001)" in text
    assert "3528015708950003" in text


async def test_who_never_consented_sees_the_chat_account_that_is_kept(chat: Chat) -> None:
    await chat.send("/start")
    await chat.press("menu:mydata")
    assert "Kami belum menyimpan data pendaftaran Anda" in chat.text
    assert "• Telegram (ID 1001)" in chat.text


async def test_who_declined_or_never_answered_gets_no_reminder_and_no_broadcast(
    conversation: Conversation, clock: FrozenClock
) -> None:
    halfway = Chat(conversation, "101")
    await halfway.start_registration()
    declined = Chat(conversation, "102")
    await declined.send("/start")
    await declined.press("menu:register")
    await declined.press("consent:no")
    assert "tidak mengirimi Anda pengingat atau siaran" in declined.text
    never = Chat(conversation, "103")
    await never.send("/start")
    await never.press("menu:register")  # reads the consent, answers nothing
    deps = conversation.deps
    jobs = jobs_of(conversation)
    clock.set(datetime(2023, 11, 23, 9, 0))  # D-7, and all three silent for long enough
    assert await jobs.run("reminder:registration:7") == 1
    assert await jobs.run("silent") == 1
    quiet = deps.config.quiet_hours
    async with conversation.db.transaction() as session:
        for audience in ("all", "incomplete", "channel:telegram"):
            assert await count_recipients(session, Audience.parse(audience, set())) == 1
            await create_broadcast(
                session,
                text="Halo {nama}",
                audience=Audience.parse(audience, set()),
                created_by="cli:test",
                now=clock.now(),
                quiet_hours=quiet,
            )
    async with conversation.db.transaction() as session:
        recipients = (await session.execute(select(OutboxMessage.recipient))).scalars().all()
    assert len(recipients) == 5 and set(recipients) == {"101"}
