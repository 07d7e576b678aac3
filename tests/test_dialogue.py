"""Dialogue tests: every step of the registration conversation, including each refusal."""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest

from core.clock import FrozenClock
from core.types import FileKind, IncomingFile
from handlers.conversation import Conversation
from handlers.flow import Dependencies
from storage.db import Database
from tests.chat import ELIGIBLE_CHOICES, PROFILE_ANSWERS, Chat

PERSONAL_FIELDS = (
    "full_name",
    "nik",
    "birth_place",
    "birth_date",
    "sex",
    "address",
    "kecamatan",
    "phone",
    "email",
    "education",
    "experience",
    "gadget",
    "motorbike",
)


async def test_first_message_gets_welcome_and_menu(chat: Chat) -> None:
    await chat.send("halo")
    assert "Selamat datang" in chat.text
    welcome = chat.replies[0].text
    assert welcome.count("BPS Kab. Pamekasan") == 1 and "tahun 2024" in welcome
    assert chat.buttons[0] == "menu:register"
    assert "menu:requirements" in chat.buttons and "menu:mydata" in chat.buttons


async def test_full_registration_issues_a_registration_number(chat: Chat) -> None:
    await chat.register()
    assert "PMK24-00001" in chat.text
    assert "https://mitra.bps.go.id/" in chat.text
    applicant = await chat.applicant()
    assert applicant is not None
    assert applicant.registration_number == "PMK24-00001"
    assert applicant.full_name == "Siti Aminah"
    assert applicant.nik == "3528015708950003"
    assert applicant.phone == "+6281234567890"
    assert applicant.kecamatan == "35.28.01"
    assert applicant.sex == "P" and applicant.motorbike is False and applicant.experience is True
    assert applicant.consent_version == "pamekasan-2024-v2"
    assert "registration_confirmed" in await chat.audit_actions()


async def test_registration_numbers_are_sequential_per_applicant(
    conversation: Conversation,
) -> None:
    first, second = Chat(conversation, "1"), Chat(conversation, "2")
    await first.register()
    await second.start_registration()
    await second.pass_eligibility()
    answers = list(PROFILE_ANSWERS)
    answers[1] = ("text", "3528014708960002")  # another woman's NIK, born 07-08-1996
    answers[3] = ("text", "7 Agustus 1996")
    await second.fill_profile(answers)
    await second.hand_in_documents()
    await second.press("sum:confirm")
    assert "PMK24-00002" in second.text


async def test_nothing_personal_is_asked_or_kept_before_consent(chat: Chat) -> None:
    await chat.send("/start")
    await chat.press("menu:register")
    assert "Persetujuan" in chat.text and chat.buttons == ["consent:yes", "consent:no"]
    await chat.send("Siti Aminah")  # typed before agreeing: not taken as a name
    assert "belum mengerti" in chat.text
    await chat.press("consent:no")
    assert "Tanpa persetujuan" in chat.text
    applicant = await chat.applicant()
    assert applicant is not None and applicant.consent_at is None
    assert all(getattr(applicant, name) is None for name in PERSONAL_FIELDS)


async def test_consent_is_recorded_with_time_and_version(chat: Chat, clock: FrozenClock) -> None:
    await chat.start_registration()
    applicant = await chat.applicant()
    assert applicant is not None
    assert applicant.consent_at == clock.now()
    assert applicant.consent_version == "pamekasan-2024-v2"
    assert "consent_given" in await chat.audit_actions()
    assert "(1 dari 8)" in chat.text


async def test_a_no_to_a_required_item_explains_and_allows_a_correction(chat: Chat) -> None:
    await chat.start_registration()
    await chat.press("elig:met")
    await chat.send("tidak")  # item 2, healthy
    assert "Sehat jasmani/rohani" in chat.text
    assert "belum dapat melanjutkan" in chat.text
    assert chat.buttons == ["inel:retry", "menu:home"]
    await chat.send("Siti")  # cannot sneak into the profile
    applicant = await chat.applicant()
    assert applicant is not None and applicant.full_name is None
    await chat.press("inel:retry")
    assert "(2 dari 8)" in chat.text
    await chat.press("elig:yes")
    assert "(3 dari 8)" in chat.text


async def test_the_asn_question_has_buttons_that_say_what_they_mean(chat: Chat) -> None:
    await chat.start_registration()
    assert "BUKAN" not in chat.text and "Apakah Anda Aparatur Sipil Negara (ASN)" in chat.text
    assert [(b.id, b.label) for b in chat.replies[-1].buttons] == [
        ("elig:met", "Bukan ASN"),
        ("elig:unmet", "Saya ASN (PNS/PPPK)"),
    ]
    await chat.send("ya")  # "yes, I am an ASN"? or "yes, not one"? Not read as either.
    assert "belum mengerti" in chat.text and "(1 dari 8)" in chat.text
    applicant = await chat.applicant()
    assert applicant is not None and applicant.eligibility == {}
    await chat.send("saya asn (pns/pppk)")  # the button's words typed
    assert "Bukan Aparatur Sipil Negara" in chat.text and "belum dapat melanjutkan" in chat.text
    assert "ketik /bantuan" in chat.text
    await chat.press("inel:retry")
    await chat.send("bukan asn")
    assert "(2 dari 8)" in chat.text and chat.buttons == ["elig:yes", "elig:no"]


async def test_ineligible_applicant_returning_later_sees_the_same_explanation(chat: Chat) -> None:
    await chat.start_registration()
    await chat.press("elig:unmet")
    await chat.send("/menu")
    await chat.press("menu:register")
    assert "belum dapat melanjutkan" in chat.text


@pytest.mark.parametrize(
    ("field_index", "bad", "expected"),
    [
        (0, "S", "terlalu pendek"),
        (0, "Siti 123", "tanpa angka"),
        (0, "x" * 81, "paling banyak 80"),
        (1, "3528 0157 0895 00", "yang Anda kirim 14 angka"),
        (1, "35280157089500031", "yang Anda kirim 17 angka"),
        (1, "3528O15708950003", "hanya berisi angka"),
        (1, "9928015708950003", "kode provinsi"),
        (1, "3528015713950003", "tanggal lahir di dalam NIK"),
        (1, "3528015708950000", "0000"),
        (2, "1", "terlalu pendek"),
        (3, "kemarin", "belum bisa membaca tanggal"),
        (3, "31-02-1995", "tidak ada di kalender"),
        (3, "17-08-95", "4 angka"),
        (3, "17-08-2030", "masa depan"),
        (3, "17-08-1900", "lebih dari 100 tahun"),
        (5, "rumah", "terlalu singkat"),
        (7, "0324 123456", "bukan nomor telepon rumah"),
        (7, "0812", "Panjang nomor HP tidak sesuai"),
        (7, "nomor saya", "hanya berisi angka"),
        (8, "siti@", "tidak valid"),
    ],
)
async def test_each_bad_answer_is_refused_with_its_reason_and_changes_nothing(
    chat: Chat, field_index: int, bad: str, expected: str
) -> None:
    await chat.start_registration()
    await chat.pass_eligibility()
    await chat.fill_profile(PROFILE_ANSWERS[:field_index])
    before, at = await chat.applicant(), await chat.session()
    await chat.send(bad)
    assert expected in chat.text, chat.text
    after, now_at = await chat.applicant(), await chat.session()
    assert before is not None and after is not None and at is not None and now_at is not None
    assert now_at.step == at.step and now_at.data == at.data
    assert all(getattr(after, name) == getattr(before, name) for name in PERSONAL_FIELDS)


async def test_dates_are_accepted_in_the_forms_people_type(conversation: Conversation) -> None:
    for n, typed in enumerate(["17-08-1995", "17/8/1995", "17 Agustus 1995", "17 agt 1995"]):
        chat = Chat(conversation, f"date-{n}")
        await chat.start_registration()
        await chat.pass_eligibility()
        nik = f"352801570895000{n + 1}"  # one NIK per applicant
        await chat.fill_profile([PROFILE_ANSWERS[0], ("text", nik), PROFILE_ANSWERS[2]])
        await chat.send(typed)
        assert "17 Agustus 1995 (umur 28 tahun)" in chat.text


async def test_a_nik_used_by_another_applicant_is_refused(conversation: Conversation) -> None:
    await Chat(conversation, "first").register()
    second = Chat(conversation, "second")
    await second.start_registration()
    await second.pass_eligibility()
    await second.fill_profile(PROFILE_ANSWERS[:1])
    await second.send("3528015708950003")
    assert "sudah dipakai" in second.text


async def test_nik_mismatch_is_asked_about_not_rejected(chat: Chat) -> None:
    await chat.start_registration()
    await chat.pass_eligibility()
    answers = list(PROFILE_ANSWERS[:5])
    answers[3] = ("text", "18-08-1995")  # NIK says the 17th
    answers[4] = ("choice", "f:sex:L")  # NIK says female
    await chat.fill_profile(answers)
    assert "tidak cocok dengan NIK" in chat.text
    assert "NIK menunjukkan 17 Agustus 1995, Anda menulis 18 Agustus 1995" in chat.text
    assert "Perempuan" in chat.text
    assert chat.buttons == ["nik:fix_date", "nik:fix_sex", "nik:fix_nik", "nik:ok"]
    await chat.press("nik:fix_date")
    await chat.send("17-08-1995")
    assert "Jenis kelamin: NIK menunjukkan Perempuan" in chat.text  # still the sex mismatch
    await chat.press("nik:ok")
    assert "alamat" in chat.text.lower()
    applicant = await chat.applicant()
    assert applicant is not None and applicant.sex == "L" and applicant.nik_check_ack
    assert "nik_mismatch_confirmed" in await chat.audit_actions()


async def test_fixing_the_nik_clears_the_mismatch(chat: Chat) -> None:
    await chat.start_registration()
    await chat.pass_eligibility()
    answers = list(PROFILE_ANSWERS[:5])
    answers[1] = ("text", "3528011708950003")  # typed the male form by mistake
    await chat.fill_profile(answers)
    assert "tidak cocok" in chat.text
    await chat.press("nik:fix_nik")
    await chat.send("3528015708950003")
    assert "alamat" in chat.text.lower()


async def test_under_eighteen_needs_a_guardians_consent(chat: Chat) -> None:
    await chat.start_registration()
    await chat.pass_eligibility()
    answers = list(PROFILE_ANSWERS[:5])
    answers[1] = ("text", "3528015708080003")  # born 17-08-2008: 15 years old
    answers[3] = ("text", "17-08-2008")
    await chat.fill_profile(answers[:4])
    assert "umur 15 tahun" in chat.text
    assert "orang tua atau wali" in chat.text
    await chat.send("Budi")  # not an answer to this question
    assert "belum mengerti" in chat.text
    await chat.press("guard:yes")
    assert "jenis kelamin" in chat.text.lower()
    applicant = await chat.applicant()
    assert applicant is not None and applicant.guardian_consent_at is not None


async def test_typed_answers_match_buttons_by_number_label_or_alias(chat: Chat) -> None:
    await chat.start_registration()
    await chat.pass_eligibility()
    await chat.fill_profile(PROFILE_ANSWERS[:4])
    await chat.send("perempuan")
    await chat.send(PROFILE_ANSWERS[5][1])
    await chat.send("Batu Marmar")  # alias of Batumarmar
    applicant = await chat.applicant()
    assert applicant is not None and applicant.sex == "P" and applicant.kecamatan == "35.28.11"
    await chat.fill_profile(PROFILE_ANSWERS[7:9])
    await chat.send("5")  # fifth education option: D4/S1
    applicant = await chat.applicant()
    assert applicant is not None and applicant.education == "s1"


async def test_summary_lists_answers_and_preferred_items_without_rejecting(chat: Chat) -> None:
    await chat.start_registration()
    await chat.pass_eligibility()
    await chat.fill_profile()
    await chat.hand_in_documents()
    assert "Ringkasan" in chat.text
    assert "Siti Aminah" in chat.text and "+6281234567890" in chat.text
    assert "Tlanakan" in chat.text and "17 Agustus 1995 (umur 28 tahun)" in chat.text
    assert "➖ Diutamakan memiliki dan mampu mengendarai kendaraan bermotor" in chat.text
    assert "Punya kendaraan bermotor: Tidak" in chat.text and "sepeda motor" not in chat.text
    # The mark is explained where it is shown, without promising more than "diutamakan".
    assert "➖ = tidak terpenuhi; bukan syarat wajib, tetapi pendaftar yang memenuhinya" in (
        chat.text
    )
    assert "menggugurkan" not in chat.text
    assert chat.buttons == ["sum:confirm", "sum:edit", "menu:home"]


async def test_editing_one_field_keeps_the_rest(chat: Chat) -> None:
    await chat.start_registration()
    await chat.pass_eligibility()
    await chat.fill_profile()
    await chat.hand_in_documents()
    await chat.press("sum:edit")
    assert "edit:phone" in chat.buttons
    await chat.press("edit:phone")
    assert "Isian saat ini: +6281234567890" in chat.text
    await chat.send("bukan nomor")
    assert "hanya berisi angka" in chat.text
    await chat.send("+62 857 1111 2222")
    # Only what changed and the next action, not the whole summary again.
    assert chat.text == (
        "✏️ Diubah - Nomor HP: +6281234567890 → +6285711112222\n\n"
        'Periksa kembali. Jika sudah benar, pilih "Kirim pendaftaran".'
    )
    assert chat.buttons == ["sum:confirm", "sum:edit", "sum:show"]
    await chat.press("sum:show")
    assert "Ringkasan" in chat.text and "+6285711112222" in chat.text
    applicant = await chat.applicant()
    assert applicant is not None and applicant.full_name == "Siti Aminah"
    assert applicant.registration_number is None


async def test_cancelling_an_edit_returns_to_the_unchanged_summary(chat: Chat) -> None:
    await chat.start_registration()
    await chat.pass_eligibility()
    await chat.fill_profile()
    await chat.hand_in_documents()
    await chat.press("sum:edit")
    await chat.press("edit:email")
    await chat.send("/batal")
    assert "Perubahan dibatalkan" in chat.text and "Ringkasan" in chat.text
    applicant = await chat.applicant()
    assert applicant is not None and applicant.email == "siti.aminah@example.com"


async def test_confirmed_applicant_can_still_edit_while_registration_is_open(chat: Chat) -> None:
    await chat.register()
    await chat.press("menu:mydata")
    await chat.press("md:edit")
    await chat.press("edit:address")
    await chat.send("Jl. Raya Tlanakan No. 5, RT 01 RW 03")
    assert "tercatat di bot ini dengan nomor registrasi PMK24-00001" in chat.text
    assert "sum:confirm" not in chat.buttons


async def test_cancel_pauses_and_register_resumes_at_the_same_question(chat: Chat) -> None:
    await chat.start_registration()
    await chat.pass_eligibility()
    await chat.fill_profile(PROFILE_ANSWERS[:2])
    await chat.send("/batal")
    assert "tetap tersimpan" in chat.text
    assert "menu:register" in chat.buttons
    await chat.press("menu:schedule")
    await chat.press("menu:register")
    assert "tempat lahir" in chat.text.lower()


async def test_resume_after_a_restart_continues_where_they_were(
    db: Database, deps: Dependencies
) -> None:
    chat = Chat(Conversation(db, deps), "restart")
    await chat.start_registration()
    await chat.pass_eligibility()
    await chat.fill_profile(PROFILE_ANSWERS[:3])
    restarted = Chat(Conversation(db, deps), "restart")  # a new process on the same database
    await restarted.send("/start")
    assert "Selamat datang kembali" in restarted.text and "tanggal lahir" in restarted.text
    await restarted.send("17-08-1995")
    applicant, session = await restarted.applicant(), await restarted.session()
    assert applicant is not None and applicant.birth_place == "Pamekasan"
    assert session is not None and session.data == {"field": "sex"}


STEP_SETUPS = {
    "menu": [],
    "consent": [("send", "/start"), ("press", "menu:register")],
    "eligibility": [("send", "/start"), ("press", "menu:register"), ("press", "consent:yes")],
    "field": [("send", "/start"), ("press", "menu:register"), ("press", "consent:yes")]
    + [("press", choice) for choice in ELIGIBLE_CHOICES],
    "my_data": [("send", "/start"), ("press", "menu:mydata")],
    "delete_confirm": [("send", "/start"), ("press", "menu:mydata"), ("press", "md:delete")],
}


async def _reach(chat: Chat, step: str) -> None:
    await chat.send("/start")
    for action, value in STEP_SETUPS[step]:
        await (chat.send(value) if action == "send" else chat.press(value))


@pytest.mark.parametrize("step", list(STEP_SETUPS))
async def test_menu_and_help_work_at_every_step(chat: Chat, step: str) -> None:
    await _reach(chat, step)
    await chat.send("/bantuan")
    assert "/batal" in chat.text and "Kontak:\nBadan Pusat Statistik Kabupaten" in chat.text
    session = await chat.session()
    assert session is not None and session.step == step  # help does not move them
    await chat.send("/menu")
    assert chat.buttons[0] == "menu:register"
    session = await chat.session()
    assert session is not None and session.step == "menu"


@pytest.mark.parametrize("step", list(STEP_SETUPS))
async def test_stickers_files_and_huge_texts_change_nothing_at_any_step(
    chat: Chat, step: str
) -> None:
    await _reach(chat, step)
    before, at = await chat.applicant(), await chat.session()
    await chat.upload(IncomingFile(kind=FileKind.STICKER, file_id="s"))
    assert "bukan file, foto, atau stiker" in chat.text
    await chat.upload(
        IncomingFile(kind=FileKind.DOCUMENT, file_id="d", mime_type="application/pdf")
    )
    assert "bukan file" in chat.text
    await chat.send("a" * 5000)
    assert "terlalu panjang (5000 karakter" in chat.text
    await chat.send("/hapussemua")
    assert "Perintah /hapussemua tidak dikenal. Perintah yang bisa dipakai: /menu" in chat.text
    after, now_at = await chat.applicant(), await chat.session()
    assert before is not None and after is not None and at is not None and now_at is not None
    assert (now_at.step, now_at.data, after.eligibility) == (
        at.step,
        at.data,
        before.eligibility,
    )


async def test_old_buttons_are_answered_politely(chat: Chat) -> None:
    await chat.start_registration()
    await chat.press("consent:yes")  # pressed again on the old consent message
    assert "sudah tidak berlaku" in chat.text
    assert "(1 dari 8)" in chat.text
    await chat.press("f:sex:P")  # a forged or stale callback
    assert "sudah tidak berlaku" in chat.text


async def test_cancel_with_nothing_to_cancel(chat: Chat) -> None:
    await chat.send("/start")
    await chat.send("/batal")
    assert "Tidak ada yang perlu dibatalkan" in chat.text


async def test_information_pages(chat: Chat) -> None:
    await chat.send("/start")
    await chat.press("menu:requirements")
    assert (
        "Bukan Aparatur Sipil Negara" in chat.text and "Diutamakan (bukan syarat wajib" in chat.text
    )
    assert "pendaftar yang memenuhinya diutamakan" in chat.text
    assert "menggugurkan" not in chat.text
    assert chat.buttons == ["menu:home"]  # one "Menu" button, not the 11-item menu again
    await chat.send("jadwal")  # a menu item typed under a page still opens it
    assert "📅 Jadwal" in chat.text and chat.buttons == ["menu:home"]
    await chat.press("menu:home")
    assert chat.text.startswith("Menu utama") and len(chat.buttons) == 11
    await chat.press("menu:howto")
    assert "Rekrutmen Mitra BPS 2024-Pendaftaran" in chat.text and "Ijazah tertinggi" in chat.text
    await chat.press("menu:schedule")
    assert "sisa 20 hari" in chat.text and "Tahap 2: Tes Kompetensi" in chat.text
    assert "15 Desember 2023" in chat.text
    await chat.press("menu:faq")
    assert "bukan untuk ASN" in chat.text
    await chat.press("menu:help")
    assert "Badan Pusat Statistik Kabupaten Pamekasan" in chat.text


async def test_schedule_counts_down_to_the_last_day(chat: Chat, clock: FrozenClock) -> None:
    await chat.send("/start")
    clock.set(datetime(2023, 10, 29, 12, 0))
    await chat.press("menu:schedule")
    assert "dibuka 3 hari lagi" in chat.text
    clock.set(datetime(2023, 11, 30, 20, 0))
    await chat.press("menu:schedule")
    assert "hari terakhir" in chat.text


async def test_english_is_a_choice_and_applies_everywhere(chat: Chat) -> None:
    await chat.send("/start")
    await chat.press("menu:language")
    assert "Language changed to English" in chat.text and "Main menu" in chat.text
    await chat.press("menu:register")
    assert "Consent to process personal data" in chat.text
    await chat.press("consent:yes")
    assert "Required items check (1 of 8)" in chat.text
    await chat.send("/bahasa")
    assert "Bahasa diubah" in chat.text and "(1 dari 8)" in chat.text


async def test_english_speakers_are_greeted_in_english(chat: Chat) -> None:
    await chat.send("hello", language_hint="en-US")
    assert "Welcome" in chat.text


async def test_registration_closed_before_and_after_the_dates(
    chat: Chat, clock: FrozenClock
) -> None:
    clock.set(datetime(2023, 10, 31, 23, 59))
    await chat.send("/start")
    await chat.press("menu:register")
    assert "belum dibuka" in chat.text and "1 November 2023, 00.00 WIB" in chat.text
    clock.set(datetime(2023, 11, 1, 0, 0))
    await chat.press("menu:register")
    assert "Persetujuan" in chat.text
    await chat.press("consent:yes")
    clock.set(datetime(2023, 12, 1, 0, 0))
    await chat.press("elig:met")
    assert "sudah ditutup pada 30 November 2023" in chat.text
    applicant, session = await chat.applicant(), await chat.session()
    assert applicant is not None and applicant.eligibility == {}
    assert session is not None and session.step == "menu"


async def test_registration_closes_at_the_exact_minute(chat: Chat, clock: FrozenClock) -> None:
    await chat.start_registration()
    await chat.pass_eligibility()
    await chat.fill_profile()
    await chat.hand_in_documents()
    clock.set(datetime(2023, 11, 30, 23, 59, 59))
    await chat.press("sum:confirm")
    assert "PMK24-00001" in chat.text
    clock.set(datetime(2023, 12, 1, 0, 0, 0))
    await chat.press("menu:register")  # a confirmed applicant still sees their registration
    assert "tercatat di bot ini dengan nomor registrasi PMK24-00001" in chat.text


async def test_staff_close_registration_early_and_reopen(conversation: Conversation) -> None:
    staff = Chat(conversation, "900")  # named in settings
    applicant = Chat(conversation, "1001")
    await applicant.start_registration()
    await staff.send("/start")
    await staff.send("/tutup_pendaftaran kuota 300 orang terpenuhi")
    assert "ditutup lebih awal" in staff.text
    await applicant.press("elig:met")
    assert "kuota sudah terpenuhi" in applicant.text
    await staff.send("/status_pendaftaran")
    # The staff chat has a session but is no applicant: only the applicant is counted.
    assert "ditutup lebih awal" in staff.text and "Pendaftar tersimpan: 1" in staff.text
    assert await staff.applicant() is None
    await staff.send("/buka_pendaftaran")
    await applicant.press("menu:register")
    assert "(1 dari 8)" in applicant.text
    actions = await staff.audit_actions()
    assert "registration_closed" in actions and "registration_reopened" in actions


async def test_non_staff_cannot_use_staff_commands(chat: Chat) -> None:
    await chat.send("/start")
    for command in ("/tutup_pendaftaran", "/buka_pendaftaran", "/status_pendaftaran"):
        await chat.send(command)
        assert "khusus untuk petugas BPS" in chat.text
    await chat.press("menu:register")
    assert "Persetujuan" in chat.text  # registration was not closed
    assert (await chat.audit_actions()).count("staff_command_refused") == 3


async def test_staff_added_in_the_database_are_recognised(
    conversation: Conversation, clock: FrozenClock
) -> None:
    from storage.repositories import Staff

    async with conversation.db.transaction() as session:
        await Staff(session).add("telegram", "777", "Erfan", "cli:test", clock.now())
    staff = Chat(conversation, "777")
    await staff.send("/start")
    await staff.send("/status_pendaftaran")
    assert "Status pendaftaran: dibuka" in staff.text


async def test_my_data_shows_what_is_stored(chat: Chat) -> None:
    await chat.register()
    await chat.press("menu:mydata")
    assert "Data Anda yang kami simpan" in chat.text
    assert "3528015708950003" in chat.text and "PMK24-00001" in chat.text
    assert "8 dari 8 syarat wajib" in chat.text and "versi pamekasan-2024-v2" in chat.text
    assert chat.buttons == ["md:edit", "md:link", "md:delete", "menu:home"]


async def test_deleting_my_data_erases_it_and_is_logged(chat: Chat) -> None:
    await chat.register()
    await chat.send("/datasaya")
    await chat.press("md:delete")
    assert "Yakin" in chat.text
    await chat.press("del:no")
    assert await chat.applicant() is not None
    await chat.press("menu:mydata")
    await chat.press("md:delete")
    await chat.press("del:yes")
    assert "sudah dihapus" in chat.text
    assert await chat.applicant() is None
    assert "applicant_deleted" in await chat.audit_actions()
    await chat.send("halo")
    assert "Selamat datang!" in chat.text  # a fresh start, nothing remembered
    applicant = await chat.applicant()
    assert applicant is not None and applicant.full_name is None


async def test_a_redelivered_update_is_ignored(chat: Chat) -> None:
    await chat.start_registration()
    await chat.press("elig:met", dedup_key="update-1")
    assert "(2 dari 8)" in chat.text
    await chat.press("elig:unmet", dedup_key="update-1")  # same update id again
    assert chat.replies == []
    applicant = await chat.applicant()
    assert applicant is not None and applicant.eligibility == {"1": True}


async def test_two_messages_at_once_from_one_user_are_both_applied(chat: Chat) -> None:
    await chat.start_registration()
    await chat.press("elig:met")
    other = Chat(chat.conversation, chat.user_id)
    await asyncio.gather(
        chat.press("elig:yes", dedup_key="u-1"), other.press("elig:yes", dedup_key="u-2")
    )
    assert chat.replies and other.replies  # a retried update is not mistaken for a duplicate
    applicant = await chat.applicant()
    assert applicant is not None
    assert applicant.eligibility == {"1": True, "2": True, "3": True}


async def test_first_messages_at_once_create_one_applicant(conversation: Conversation) -> None:
    chats = [Chat(conversation, "same") for _ in range(4)]
    replies = await asyncio.gather(*(c.send("/start") for c in chats))
    assert all(replies)
    from sqlalchemy import func, select

    from storage.models import Applicant

    async with conversation.db.transaction() as session:
        count = (await session.execute(select(func.count(Applicant.id)))).scalar_one()
    assert count == 1


async def test_typing_a_menu_label_or_number_opens_it(chat: Chat) -> None:
    await chat.send("/start")
    await chat.send("Jadwal")
    assert "Tahap 2: Tes Kompetensi" in chat.text
    await chat.send("5")  # the fifth menu entry: requirements
    assert "Syarat wajib" in chat.text
    await chat.send("daftar")
    assert "Persetujuan" in chat.text
    await chat.send("ya")
    assert "(1 dari 8)" in chat.text


async def test_typing_menu_utama_under_the_summary_goes_to_the_menu(chat: Chat) -> None:
    await chat.start_registration()
    await chat.pass_eligibility()
    await chat.fill_profile()
    await chat.hand_in_documents()
    await chat.send("menu utama")
    assert chat.replies[-1].text.startswith("Menu utama")
    session = await chat.session()
    assert session is not None and session.step == "menu"
