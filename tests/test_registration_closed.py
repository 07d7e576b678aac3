"""Closed means closed, at once: after the window or an early close, the first message of anyone
in the middle of registering says so and what they can still do; nothing offers to go on."""

from __future__ import annotations

from datetime import datetime

import pytest

from core.clock import FrozenClock
from core.types import FileKind
from handlers.conversation import Conversation
from tests import images
from tests.chat import PROFILE_ANSWERS, Chat

AFTER_THE_END = datetime(2023, 12, 1, 0, 0)  # one minute after 30 November 23:59 WIB
ENDED = "Mohon maaf, pendaftaran sudah ditutup pada 30 November 2023."
UNFINISHED = "belum selesai dan tidak bisa dilanjutkan lagi"
QUESTIONS = ("Tulis alamat", "Tulis ", "Pilih jenis kelamin", "Lanjutkan pendaftaran")
REGISTERING = {"menu:register", "menu:documents"}


async def _halfway(chat: Chat) -> None:
    """Consent, requirements, and the profile up to the sex: next comes the address."""
    await chat.start_registration()
    await chat.pass_eligibility()
    await chat.fill_profile(PROFILE_ANSWERS[:5])
    assert "Tulis alamat" in chat.text


def _assert_closed_notice(chat: Chat, notice: str) -> None:
    assert chat.replies[0].text.startswith(notice)
    assert UNFINISHED in chat.text and '"Data saya"' in chat.text
    assert not any(question in chat.text for question in QUESTIONS)
    assert not REGISTERING & set(chat.buttons)


@pytest.mark.parametrize(
    "message",
    ["address", "button", "photo", "sticker", "/start", "/batal", "/bantuan", "long", "/daftar"],
)
async def test_the_first_message_after_the_end_is_answered_with_the_close(
    chat: Chat, clock: FrozenClock, message: str
) -> None:
    await _halfway(chat)
    clock.set(AFTER_THE_END)
    if message == "address":
        await chat.send("Dusun Krajan RT 02 RW 01, Desa Tlanakan")
    elif message == "button":
        await chat.press("f:kecamatan:35.28.01")
    elif message == "photo":
        await chat.send_file(images.good_photo())
    elif message == "sticker":
        await chat.send_file(b"RIFF0000WEBP", kind=FileKind.STICKER, mime_type="image/webp")
    elif message == "long":
        await chat.send("x" * 5000)
    else:
        await chat.send(message)
    _assert_closed_notice(chat, ENDED)
    applicant, session = await chat.applicant(), await chat.session()
    assert applicant is not None and session is not None and session.step == "menu"
    assert applicant.address is None and applicant.kecamatan is None and not applicant.documents


async def test_a_command_for_what_is_still_possible_is_done_after_the_notice(
    chat: Chat, clock: FrozenClock
) -> None:
    await _halfway(chat)
    clock.set(AFTER_THE_END)
    await chat.send("/datasaya")
    assert chat.replies[0].text.startswith(ENDED)
    assert "Data Anda yang kami simpan" in chat.text and "Siti Aminah" in chat.text
    assert chat.buttons == ["md:link", "md:delete", "menu:home"]  # no "Ubah data" any more


async def test_an_early_close_by_staff_is_told_with_its_date_even_after_the_end(
    conversation: Conversation, clock: FrozenClock
) -> None:
    applicant = Chat(conversation, "1001")
    await applicant.start_registration()
    staff = Chat(conversation, "900")  # named in settings
    await staff.send("/start")
    await staff.send("/tutup_pendaftaran kuota terpenuhi")
    clock.set(datetime(2023, 11, 12, 8, 0))
    await applicant.press("elig:yes")
    early = "Mohon maaf, pendaftaran sudah ditutup lebih awal pada 10 November 2023"
    _assert_closed_notice(applicant, early)
    stored = await applicant.applicant()
    assert stored is not None and stored.eligibility == {}
    clock.set(datetime(2023, 12, 5, 9, 0))
    await applicant.press("menu:status")
    assert "ditutup pada 10 November 2023" in applicant.text
    assert "Lanjutkan" not in applicant.text


async def test_after_the_close_the_menu_and_status_offer_nothing_to_continue(
    chat: Chat, clock: FrozenClock
) -> None:
    await _halfway(chat)
    await chat.send("/menu")
    assert {"menu:register", "menu:documents"} <= set(chat.buttons)
    clock.set(AFTER_THE_END)
    await chat.press("menu:faq")
    assert not REGISTERING & set(chat.buttons)
    await chat.press("menu:status")
    assert "sudah ditutup pada 30 November 2023" in chat.text
    assert "Lanjutkan" not in chat.text
    await chat.press("menu:register")  # an old menu's or reminder's button
    _assert_closed_notice(chat, ENDED)


async def test_a_registered_applicant_keeps_status_and_data_but_cannot_change_them(
    chat: Chat, clock: FrozenClock
) -> None:
    await chat.register()
    await chat.press("menu:register")
    await chat.press("sum:edit")  # about to change a field when registration closes
    clock.set(AFTER_THE_END)
    await chat.press("edit:address")
    assert chat.replies[0].text.startswith(ENDED)
    assert "PMK24-00001" in chat.text and '"Cek status seleksi"' in chat.text
    assert "menu:register" in chat.buttons and "menu:documents" not in chat.buttons
    await chat.press("menu:register")
    assert "nomor registrasi PMK24-00001" in chat.text and "sum:edit" not in chat.buttons
    await chat.press("menu:mydata")
    assert "md:edit" not in chat.buttons
    await chat.press("md:edit")  # an old "Ubah data" button
    assert chat.replies[0].text.startswith(ENDED)


async def test_who_never_consented_is_told_they_can_read_the_information(
    chat: Chat, clock: FrozenClock
) -> None:
    await chat.send("/start")
    await chat.press("menu:register")
    assert "Persetujuan" in chat.text
    clock.set(AFTER_THE_END)
    await chat.press("consent:yes")
    assert chat.replies[0].text.startswith(ENDED)
    assert "membaca informasi rekrutmen" in chat.text
    applicant = await chat.applicant()
    assert applicant is not None and applicant.consent_at is None
