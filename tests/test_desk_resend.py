"""Staff ask an applicant to send a document again (the desk's "ask to resend"), end to end:
the request reaches the applicant's chat through the outbox in their language, and their
conversation takes the new file for that document, also after registration closed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from core.clock import FrozenClock
from handlers.conversation import Conversation
from services.documents import Resend, request_resend
from storage.models import AuditEntry, DocumentFile
from tests import images
from tests.chat import Chat
from tests.test_turn_delivery import ScriptedSender, _worker

AFTER_CLOSING = datetime(2023, 12, 4, 10, 0)
REASON = "Foto KTP buram, NIK tidak terbaca"


async def _ktp(chat: Chat) -> DocumentFile:
    applicant = await chat.applicant()
    assert applicant is not None
    return next(d for d in applicant.documents if d.kind == "ktp")


async def _ask_again(conversation: Conversation, applicant_id: int, kind: str) -> Resend:
    deps = conversation.deps
    async with conversation.db.transaction() as session:
        return await request_resend(
            session,
            deps.config,
            deps.catalog,
            applicant_id,
            kind,
            REASON,
            "desk:ani",
            deps.clock.now(),
        )


async def test_a_resend_request_reaches_the_chat_and_the_new_file_replaces_the_old(
    chat: Chat, conversation: Conversation, clock: FrozenClock
) -> None:
    await chat.register()
    old = await _ktp(chat)
    clock.set(AFTER_CLOSING)  # staff review after registration closed
    assert await _ask_again(conversation, old.applicant_id, "ktp") is Resend.REQUESTED

    sender = ScriptedSender()
    assert await _worker(conversation, sender).drain_once() == 1
    (notice,) = sender.messages
    assert notice.recipient == chat.user_id
    assert "mengirim ulang Kartu Tanda Penduduk (KTP)" in notice.text and REASON in notice.text
    assert [button.id for button in notice.buttons] == ["menu:documents"]

    await chat.press("menu:status")
    assert "Panitia meminta Anda mengirim ulang: Kartu Tanda Penduduk (KTP)" in chat.text
    await chat.press(notice.buttons[0].id)
    assert f"🔁 Kartu Tanda Penduduk (KTP): mohon kirim ulang ({REASON})" in chat.text
    assert "Sekarang kirim: Kartu Tanda Penduduk (KTP)" in chat.text
    await chat.send_file(images.png(images._document_picture(1280, 800)))
    assert "✅ Kartu Tanda Penduduk (KTP) diterima." in chat.text
    assert "Semua dokumen lengkap" in chat.text

    new = await _ktp(chat)
    assert new.sha256 != old.sha256 and new.mime_type == "image/png"
    assert not new.needs_resend and new.resend_reason is None
    await chat.press("menu:status")
    assert "mengirim ulang" not in chat.text
    async with conversation.db.transaction() as session:
        entries = (await session.execute(select(AuditEntry).order_by(AuditEntry.id))).scalars()
        actions = [(entry.actor, entry.action) for entry in entries]
    assert ("desk:ani", "document_resend_requested") in actions
    assert ("telegram:1001", "document_replaced") in actions


async def test_the_request_is_in_the_applicants_language(
    chat: Chat, conversation: Conversation
) -> None:
    await chat.register()
    await chat.send("/bahasa")
    old = await _ktp(chat)
    await _ask_again(conversation, old.applicant_id, "ktp")
    sender = ScriptedSender()
    await _worker(conversation, sender).drain_once()
    (notice,) = sender.messages
    assert "The committee asks you to send Identity card (KTP) again" in notice.text


async def test_a_document_never_handed_in_cannot_be_asked_again(
    chat: Chat, conversation: Conversation
) -> None:
    await chat.start_registration()
    applicant = await chat.applicant()
    assert applicant is not None
    assert await _ask_again(conversation, applicant.id, "ktp") is Resend.NO_DOCUMENT
    assert await _ask_again(conversation, applicant.id + 100, "ktp") is Resend.NO_APPLICANT
