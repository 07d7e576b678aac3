"""The SOBAT guide: both paths step by step, changing answers, stuck reports and staff answers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from core.clock import FrozenClock
from core.recruitment import RecruitmentConfig
from handlers.conversation import Conversation
from services.result_table import read_table
from services.results import plan_results
from storage.models import OutboxMessage, SobatProgress
from tests.chat import Chat, jobs_of
from tests.seeding import TODAY, seed_applicants, seeded_number

STAFF_ID = "900"


async def _consented(conversation: Conversation, user_id: str = "1001") -> Chat:
    chat = Chat(conversation, user_id)
    await chat.start_registration()  # consent given, at the first requirement question
    return chat


async def _outbox(conversation: Conversation) -> list[OutboxMessage]:
    async with conversation.db.transaction() as session:
        rows = await session.execute(select(OutboxMessage).order_by(OutboxMessage.id))
        return list(rows.scalars())


async def test_new_account_path_step_by_step_with_a_checklist(
    conversation: Conversation,
) -> None:
    chat = await _consented(conversation)
    await chat.press("menu:sobat")
    assert "Apakah Anda sudah pernah punya akun SOBAT" in chat.text
    await chat.press("sb:path:new")
    assert "alamat e-mail akun SOBAT" in chat.text
    await chat.send("bukan email")
    assert (await chat.applicant()).sobat_email is None
    assert "alamat e-mail akun SOBAT" in chat.text  # asked again
    await chat.send("Siti.Aminah@example.com")
    assert "Langkah 1 dari 4: Registrasi akun" in chat.text
    assert "0 dari 4 langkah selesai" in chat.text
    assert "⬜ 1. Registrasi akun" in chat.text
    await chat.press("sb:done")
    assert "Langkah 2 dari 4: Aktivasi akun lewat e-mail" in chat.text
    assert "✅ 1. Registrasi akun" in chat.text
    await chat.press("sb:back")
    assert "Langkah 1 dari 4" in chat.text and "1 dari 4 langkah selesai" in chat.text
    await chat.press("sb:done")
    for title in ("Login dan lengkapi profil", "Daftar kegiatan rekrutmen"):
        await chat.press("sb:done")
        assert title in chat.text
    await chat.press("sb:done")
    assert "Semua langkah SOBAT sudah selesai" in chat.text
    assert "Rekrutmen Mitra BPS 2024-Pendaftaran" in chat.text
    assert (await chat.session()).step == "menu"
    await chat.press("menu:sobat")  # coming back shows the finished checklist
    assert "Semua langkah SOBAT sudah selesai" in chat.text


async def test_changing_the_account_answer_keeps_the_shared_steps(
    conversation: Conversation,
) -> None:
    chat = await _consented(conversation)
    await chat.press("menu:sobat")
    await chat.press("sb:path:new")
    await chat.send("siti@example.com")
    for _ in range(3):  # registered, activated, profile done
        await chat.press("sb:done")
    await chat.press("sb:change")
    await chat.press("sb:path:existing")
    assert "langkahnya disesuaikan" in chat.text
    assert "Langkah 2 dari 2: Daftar kegiatan rekrutmen" in chat.text  # profile already done
    assert "✅ 1. Login dan perbarui profil" in chat.text
    await chat.press("sb:change")
    await chat.press("sb:path:new")
    assert "Langkah 4 dari 4" in chat.text
    await chat.press("sb:email")
    await chat.send("siti.baru@example.com")
    assert (await chat.applicant()).sobat_email == "siti.baru@example.com"


async def test_the_registration_email_can_be_reused(conversation: Conversation) -> None:
    chat = Chat(conversation, "1001")
    await chat.register()
    assert "sb:path:existing" in chat.buttons  # the confirmation leads into the guide
    await chat.press("sb:path:existing")
    await chat.press("sb:email:same")
    assert "E-mail SOBAT dicatat: siti.aminah@example.com" in chat.text
    assert "Langkah 1 dari 2: Login dan perbarui profil" in chat.text
    await chat.press("sb:done")
    assert "Langkah 2 dari 2: Daftar kegiatan rekrutmen" in chat.text
    assert "1 dari 2 langkah selesai" in chat.text
    await chat.press("sb:done")
    assert "Semua langkah SOBAT sudah selesai" in chat.text
    assert "✅ 2. Daftar kegiatan rekrutmen" in chat.text


async def test_the_guide_asks_for_consent_first(chat: Chat) -> None:
    await chat.send("/start")
    await chat.press("menu:sobat")
    assert "Persetujuan" in chat.text
    assert (await chat.applicant()).sobat_path is None


async def test_stuck_fixes_then_a_report_staff_see_and_answer(
    conversation: Conversation,
) -> None:
    chat = await _consented(conversation)
    await chat.press("menu:sobat")
    await chat.press("sb:path:new")
    await chat.send("siti@example.com")
    await chat.press("sb:done")
    await chat.press("sb:stuck")
    assert "E-mail aktivasi tidak masuk" in chat.text and "folder Spam" in chat.text
    assert "Foto atau file ditolak" not in chat.text  # that fix is for another step
    await chat.press("sb:fixed")
    assert "Langkah 2 dari 4" in chat.text
    await chat.press("sb:stuck")
    await chat.press("sb:report")
    await chat.send("x" * 501)
    assert "terlalu panjang" in chat.text or "501" in chat.text
    await chat.send("Sudah 2 hari e-mail aktivasi tidak datang, spam juga kosong.")
    assert "Laporan #1 sudah kami terima" in chat.text
    assert "diteruskan ke petugas BPS" in chat.text and "hari kerja" not in chat.text
    assert "🆘 2. Aktivasi akun lewat e-mail" in chat.text

    staff = Chat(conversation, STAFF_ID)
    await staff.send("/start")
    await staff.send("/sobat_rekap")
    assert "Belum punya akun (B.1): 1 orang" in staff.text
    assert "1. Registrasi akun: selesai 1, terkendala 0, belum 0" in staff.text
    assert "2. Aktivasi akun lewat e-mail: selesai 0, terkendala 1, belum 0" in staff.text
    assert "#1 - - - activate: Sudah 2 hari e-mail aktivasi tidak datang" in staff.text
    await staff.send("/sobat_jawab 1 Coba daftar ulang dengan Gmail; alamat itu tidak aktif.")
    assert "dikirim ke pendaftar" in staff.text
    (row,) = await _outbox(conversation)
    assert row.recipient == chat.user_id
    assert "Balasan petugas untuk laporan #1" in row.text
    assert "Coba daftar ulang dengan Gmail" in row.text
    await staff.send("/sobat_rekap")
    assert "belum dijawab: 0" in staff.text
    assert "sobat_report_answered" in await staff.audit_actions()


async def test_applicants_cannot_use_the_staff_sobat_commands(conversation: Conversation) -> None:
    chat = await _consented(conversation)
    for command in ("/sobat_rekap", "/sobat_jawab 1 halo"):
        await chat.send(command)
        assert "khusus untuk petugas BPS" in chat.text
    assert await _outbox(conversation) == []


async def test_a_sobat_reminder_names_exactly_the_next_step(
    conversation: Conversation, clock: FrozenClock
) -> None:
    chats = await seed_applicants(conversation.db, 3, clock.now())
    async with conversation.db.transaction() as session:
        from storage.models import Applicant

        applicants = list(
            (await session.execute(select(Applicant).order_by(Applicant.id))).scalars()
        )
        applicants[0].sobat_path = "new"
        applicants[1].sobat_path = "existing"
        for applicant, steps in (
            (applicants[0], ("register", "activate")),
            (applicants[1], ("profile", "enrol")),
        ):
            for step in steps:
                session.add(
                    SobatProgress(
                        applicant_id=applicant.id, step=step, state="done", updated_at=clock.now()
                    )
                )
    jobs = jobs_of(conversation)
    clock.set(datetime(2023, 11, 25, 9, 0))
    assert await jobs.run("reminder:sobat:5") == 2
    texts = {row.recipient: row for row in await _outbox(conversation)}
    assert set(texts) == {chats[0], chats[2]}  # the second one is enrolled
    assert "berikutnya: 3. Login dan lengkapi profil" in texts[chats[0]].text
    assert "pilih apakah Anda sudah punya akun SOBAT" in texts[chats[2]].text
    assert [b["id"] for b in texts[chats[0]].buttons] == ["menu:sobat", "remind:stop"]


async def test_results_can_be_matched_by_the_sobat_email(
    conversation: Conversation, config: RecruitmentConfig, clock: FrozenClock
) -> None:
    await seed_applicants(conversation.db, 2, clock.now())
    async with conversation.db.transaction() as session:
        from storage.models import Applicant

        first = await session.get(Applicant, 1)
        first.sobat_email = "pendaftar1@example.com"
    content = b"Email,Hasil\nPendaftar1@Example.com,Lulus\nlain@example.com,Lulus\n"
    async with conversation.db.transaction() as session:
        plan = await plan_results(
            session, config, "1", read_table(content, "sobat.csv", today=TODAY)
        )
    assert [(c.number, c.after) for c in plan.changes] == [(seeded_number(1), "passed")]
    assert [p.code for p in plan.unknown] == ["unknown_email"]
