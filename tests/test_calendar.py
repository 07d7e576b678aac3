"""What the bot says at each point of the calendar: only announced facts, no past date as to come,
and the bot's registration number never passed off as the official (SOBAT) registration."""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import select

from core.catalog import Catalog
from core.clock import FrozenClock
from core.formatting import MONTHS
from core.recruitment import DEFAULT_CONFIG_PATH, RecruitmentConfig, load_recruitment
from handlers.conversation import Conversation
from handlers.flow import Dependencies
from storage.db import Database
from storage.files import FileStore
from storage.models import OutboxMessage
from tests.chat import Chat, jobs_of

STAFF_ID = "900"  # named as staff in the test settings

# Facts the announcement never gave: none of them may appear in anything the bot says.
INVENTED = (
    "perkiraan",
    "lambat 1 Desember",
    "lambat 6 Desember",
    "lambat 8 Desember",
    "09.00",
    "bps3528@bps.go.id",
    "pamekasankab.bps.go.id",
    "08.00-15.30",
    "hari kerja",
    "dihubungi bila dibutuhkan",
)
# Words that put a date ahead of the reader: "pada 15 Desember 2023", "paling lambat …", "sampai …".
AHEAD = re.compile(r"(?:pada|paling lambat|berlangsung sampai) (\d{1,2}) ([A-Z][a-z]+) (\d{4})")


def _dates_ahead(text: str) -> list[date]:
    months = MONTHS["id"]
    return [
        date(int(year), months.index(month) + 1, int(day))
        for day, month, year in AHEAD.findall(text)
    ]


def _reads_true(text: str, today: date) -> None:
    for fact in INVENTED:
        assert fact not in text, fact
    for day in _dates_ahead(text):
        assert day >= today, (day, text)


async def _pages(chat: Chat) -> dict[str, str]:
    """Status, schedule and help, as the applicant reads them now."""
    pages = {}
    for item in ("status", "schedule", "help"):
        await chat.press(f"menu:{item}")
        pages[item] = chat.text
    return pages


async def _publish(staff: Chat, stage: str) -> None:
    await staff.send(f"/hasil PMK24-00001 {stage} lulus")
    await staff.send(f"/umumkan {stage}")
    await staff.press("res:publish")


async def test_a_walk_through_the_calendar_reads_true(
    conversation: Conversation, clock: FrozenClock
) -> None:
    chat = Chat(conversation, "1001")
    staff = Chat(conversation, STAFF_ID)
    await staff.send("/start")

    # 10 November: registration open; the bot's number is not the registration.
    await chat.register()
    _reads_true(chat.text, clock.now().date())
    assert chat.replies[0].text.startswith("⚠️ Anda BELUM terdaftar secara resmi.")
    assert "Apakah Anda sudah pernah punya akun SOBAT" in chat.replies[-1].text
    pages = await _pages(chat)
    for text in pages.values():
        _reads_true(text, date(2023, 11, 10))
    assert pages["status"].startswith("⚠️ Nomor PMK24-00001 adalah nomor di bot ini")
    assert "⏳ Tahap 1 Seleksi Administrasi: belum diumumkan\n" in pages["status"]
    assert "diumumkan pada 15 Desember 2023" in pages["status"]
    assert "Seleksi berlangsung sampai 8 Desember 2023" in pages["status"]
    assert "sisa 20 hari" in pages["schedule"] and "Seleksi: 1 November 2023" in pages["schedule"]
    assert "15 Desember 2023 — 35 hari lagi" in pages["schedule"]
    assert "ditutup sewaktu-waktu jika kuota" in pages["schedule"]
    assert pages["help"].rstrip().endswith("Kontak:\nBadan Pusat Statistik Kabupaten Pamekasan")

    # 1 December: registration over, selection under way.
    clock.set(datetime(2023, 12, 1, 10, 0))
    pages = await _pages(chat)
    for text in pages.values():
        _reads_true(text, date(2023, 12, 1))
    assert "— sudah ditutup" in pages["schedule"] and "— sedang berlangsung" in pages["schedule"]
    assert "14 hari lagi" in pages["schedule"]
    assert "kuota" not in pages["schedule"]  # no "may close early" once it has closed

    # 5 December: stage 1 published, the next stage still within the selection period.
    clock.set(datetime(2023, 12, 5, 10, 0))
    await _publish(staff, "1")
    pages = await _pages(chat)
    for text in pages.values():
        _reads_true(text, date(2023, 12, 5))
    assert "✅ Tahap 1 Seleksi Administrasi: LULUS" in pages["status"]
    assert "bukan pendaftaran resmi" not in pages["status"]  # staff have the SOBAT registration
    assert "Tahap berikutnya adalah Tes Kompetensi." in pages["status"]
    assert (
        "Tunggu pengumuman Tahap 2 Tes Kompetensi. Seleksi berlangsung sampai 8 Desember"
        in (pages["status"])
    )

    # 15 December: the selection is over; stages 2 and 3 were never published; the day is here.
    clock.set(datetime(2023, 12, 15, 10, 0))
    pages = await _pages(chat)
    for text in pages.values():
        _reads_true(text, date(2023, 12, 15))
    assert "⏳ Tahap 2 Tes Kompetensi: sedang diproses, belum diumumkan" in pages["status"]
    assert "⏳ Hasil akhir (calon mitra): diumumkan hari ini" in pages["status"]
    assert "Seleksi berlangsung" not in pages["status"]
    assert (
        "— sudah selesai" in pages["schedule"]
        and "15 Desember 2023 — hari ini" in (pages["schedule"])
    )

    # 16 December, nothing published: processing, not a date that has passed.
    clock.set(datetime(2023, 12, 16, 10, 0))
    pages = await _pages(chat)
    for text in pages.values():
        _reads_true(text, date(2023, 12, 16))
    assert "⏳ Hasil akhir (calon mitra): sedang diproses, belum diumumkan" in pages["status"]
    assert "15 Desember 2023 — sedang diproses" in pages["schedule"]
    for stage in ("2", "3", "final"):
        await _publish(staff, stage)
    await chat.press("menu:schedule")
    assert "15 Desember 2023 — sudah diumumkan" in chat.text
    await chat.press("menu:status")
    assert "Selamat, Anda dinyatakan lolos" in chat.text
    _reads_true(chat.text, date(2023, 12, 16))


def _office_config(tmp_path: Path) -> RecruitmentConfig:
    """The shipped file, with the optional facts an office may add once it has announced them."""
    source = DEFAULT_CONFIG_PATH.read_text(encoding="utf-8")
    for old, new in {
        "  announcement: 2023-12-15\n": "  announcement: 2023-12-15T09:00:00\n",
        "    name: {id: Seleksi Administrasi, en: Administrative selection}\n": (
            "    name: {id: Seleksi Administrasi, en: Administrative selection}\n"
            "    results_by: 2023-12-01\n"
        ),
        "contact: {}\n": "contact: {email: humas@example.org}\n",
    }.items():
        assert old in source
        source = source.replace(old, new)
    path = tmp_path / "office.yaml"
    path.write_text(source, encoding="utf-8")
    return load_recruitment(path)


async def test_dates_an_office_sets_are_named_until_they_pass(
    db: Database, catalog: Catalog, tmp_path: Path
) -> None:
    config = _office_config(tmp_path)
    assert config.schedule.announcement == date(2023, 12, 15)
    assert config.schedule.announcement_time is not None
    assert "stages[1].results_by" not in config.unset_optional()
    clock = FrozenClock(datetime(2023, 11, 10, 9, 0))
    deps = Dependencies(
        config=config, catalog=catalog, clock=clock, files=FileStore(tmp_path / "files")
    )
    chat = Chat(Conversation(db, deps), "1001")
    await chat.register()
    await chat.press("menu:help")
    assert "E-mail: humas@example.org" in chat.text
    await chat.press("menu:status")
    assert "Tahap 1 Seleksi Administrasi: belum diumumkan (diumumkan paling lambat 1 Desember" in (
        chat.text
    )
    assert "diumumkan pada 15 Desember 2023, 09.00 WIB" in chat.text
    assert "perkiraan" not in chat.text

    clock.set(datetime(2023, 12, 2, 9, 0))  # the office's date for stage 1 has passed
    await chat.press("menu:status")
    assert "⏳ Tahap 1 Seleksi Administrasi: sedang diproses, belum diumumkan" in chat.text
    assert "1 Desember" not in chat.text

    clock.set(datetime(2023, 12, 15, 8, 0))
    await chat.press("menu:status")
    assert "⏳ Hasil akhir (calon mitra): diumumkan hari ini pukul 09.00 WIB" in chat.text
    clock.set(datetime(2023, 12, 15, 9, 30))  # the hour passed, nothing published
    await chat.press("menu:status")
    assert "09.00" not in chat.text
    assert "⏳ Hasil akhir (calon mitra): sedang diproses, belum diumumkan" in chat.text


async def test_the_bot_number_is_not_the_official_registration_until_sobat_is_done(
    conversation: Conversation, clock: FrozenClock
) -> None:
    chat = Chat(conversation, "1001")
    await chat.register()
    first = chat.replies[0].text
    assert first.startswith("⚠️ Anda BELUM terdaftar secara resmi. Pendaftaran resmi hanya di")
    assert first.index("BELUM terdaftar") < first.index("PMK24-00001")
    assert "🎉" not in chat.text
    assert chat.buttons[:2] == ["sb:path:new", "sb:path:existing"]  # straight into the guide

    await chat.press("menu:status")
    assert chat.text.startswith("⚠️ Nomor PMK24-00001 adalah nomor di bot ini, bukan pendaftaran")

    jobs = jobs_of(conversation)
    clock.set(datetime(2023, 11, 25, 9, 0))
    assert await jobs.run("reminder:sobat:5") == 1
    async with conversation.db.transaction() as session:
        (reminder,) = (await session.execute(select(OutboxMessage))).scalars()
    assert "pendaftaran resmi di portal SOBAT belum Anda tandai selesai" in reminder.text

    await chat.press("menu:sobat")
    await chat.press("sb:path:existing")
    await chat.press("sb:email:same")
    await chat.press("sb:done")
    await chat.press("sb:done")  # enrolled in the activity on SOBAT
    await chat.press("menu:status")
    assert "bukan pendaftaran resmi" not in chat.text
    assert chat.text.startswith("🔎 Status seleksi")
    clock.set(datetime(2023, 11, 28, 9, 0))
    assert await jobs.run("reminder:sobat:2") == 0


async def test_who_marked_sobat_done_first_is_not_told_it_is_missing(
    conversation: Conversation,
) -> None:
    chat = Chat(conversation, "1001")
    await chat.start_registration()
    await chat.press("menu:sobat")
    await chat.press("sb:path:existing")
    await chat.send("siti@example.com")
    await chat.press("sb:done")
    await chat.press("sb:done")
    await chat.press("menu:register")
    await chat.pass_eligibility()
    await chat.fill_profile()
    await chat.hand_in_documents()
    await chat.press("sum:confirm")
    assert "nomor registrasi PMK24-00001" in chat.text
    assert "BELUM" not in chat.text and "sudah menandai pendaftaran di SOBAT selesai" in chat.text
    assert (await chat.session()).step == "menu"
