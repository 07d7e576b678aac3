"""One applicant on two apps: chats are linked only when both proved the same number."""

from __future__ import annotations

from sqlalchemy import func, select
from telegram import Bot, ReplyKeyboardMarkup, Update

from bot.telegram import keyboard, to_incoming
from core.types import Button, Channel
from handlers.conversation import Conversation
from storage.models import Applicant, ChatIdentity
from tests.chat import Chat

PHONE = "+6281234567890"


def _whatsapp(conversation: Conversation) -> Chat:
    return Chat(conversation, "ID.1349120865530274", channel=Channel.WHATSAPP)


async def _share_number(chat: Chat, phone: str | None = PHONE) -> None:
    await chat.press("menu:mydata")
    await chat.press("md:link")
    assert any(button.share_phone for reply in chat.replies for button in reply.buttons)
    await chat.press("link:phone", verified_phone=phone)


async def _owners(conversation: Conversation) -> dict[str, int]:
    async with conversation.db.transaction() as session:
        rows = await session.execute(select(ChatIdentity.channel, ChatIdentity.applicant_id))
        return {channel: applicant for channel, applicant in rows.all()}


async def test_a_telegram_registration_is_linked_from_whatsapp(conversation: Conversation) -> None:
    telegram = Chat(conversation, "1001")
    await telegram.register()
    await _share_number(telegram)
    assert f"Belum ada chat lain yang membuktikan nomor {PHONE}" in telegram.text
    whatsapp = _whatsapp(conversation)
    await whatsapp.send("halo", verified_phone=PHONE, address=PHONE[1:])
    assert "juga dipakai chat bot ini di Telegram" in whatsapp.text
    await whatsapp.press("link:yes", verified_phone=PHONE)
    assert "Terhubung" in whatsapp.text
    owners = await _owners(conversation)
    assert owners["whatsapp"] == owners["telegram"]
    async with conversation.db.transaction() as session:
        assert (await session.execute(select(func.count(Applicant.id)))).scalar_one() == 1
    await whatsapp.press("menu:mydata")
    assert "PMK24-00001" in whatsapp.text  # the same registration, seen from WhatsApp
    assert "chats_linked" in await whatsapp.audit_actions()


async def test_linking_from_telegram_after_whatsapp_wrote(conversation: Conversation) -> None:
    whatsapp = _whatsapp(conversation)
    await whatsapp.send("halo", verified_phone=PHONE, address=PHONE[1:])
    await whatsapp.start_registration()  # the registration is on WhatsApp
    telegram = Chat(conversation, "1001")
    await telegram.send("/start")
    await _share_number(telegram)
    assert "juga dipakai chat bot ini di WhatsApp" in telegram.text
    await telegram.press("link:yes")
    owners = await _owners(conversation)
    assert owners["whatsapp"] == owners["telegram"]
    assert (await telegram.applicant()).consent_at is not None


async def test_someone_elses_contact_proves_nothing(conversation: Conversation) -> None:
    telegram = Chat(conversation, "1001")
    await telegram.send("/start")
    await _share_number(telegram, phone=None)
    assert "bukan kontak orang lain" in telegram.text
    assert (await telegram.session()).step == "link_phone"


async def test_two_registrations_are_never_merged_and_no_means_no(
    conversation: Conversation,
) -> None:
    telegram = Chat(conversation, "1001")
    await telegram.register()
    await _share_number(telegram)
    whatsapp = _whatsapp(conversation)
    await whatsapp.send("halo", verified_phone=PHONE, address=PHONE[1:])
    await whatsapp.press("link:no")
    assert "tetap terpisah" in whatsapp.text
    await whatsapp.start_registration()
    await whatsapp.press("menu:mydata")
    await whatsapp.press("md:link")
    await whatsapp.press("link:yes")
    assert "tidak kami gabungkan otomatis" in whatsapp.text
    owners = await _owners(conversation)
    assert owners["whatsapp"] != owners["telegram"]


def test_telegram_asks_for_the_contact_with_a_reply_keyboard() -> None:
    markup = keyboard([Button(id="link:phone", label="📱 Bagikan nomor saya", share_phone=True)])
    assert isinstance(markup, ReplyKeyboardMarkup)
    assert markup.keyboard[0][0].request_contact is True
    bot = Bot("1:fake")
    own = {
        "update_id": 7,
        "message": {
            "message_id": 1,
            "date": 0,
            "chat": {"id": 1001, "type": "private"},
            "from": {"id": 1001, "is_bot": False, "first_name": "Siti"},
            "contact": {"phone_number": "6281234567890", "first_name": "Siti", "user_id": 1001},
        },
    }
    incoming = to_incoming(Update.de_json(own, bot))
    assert incoming is not None and incoming.verified_phone == PHONE
    own["message"]["contact"]["user_id"] = 2002  # someone else's card
    other = to_incoming(Update.de_json(own, bot))
    assert other is not None and other.choice == "link:phone" and other.verified_phone is None
