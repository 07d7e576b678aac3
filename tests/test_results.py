"""Selection results: import with a dry run, single results, publishing once, status in chat."""

from __future__ import annotations

import io
from datetime import datetime, timedelta

import pytest
from openpyxl import Workbook
from sqlalchemy import select

from core.catalog import Catalog
from core.clock import FrozenClock
from core.recruitment import RecruitmentConfig
from core.types import FileKind
from handlers.conversation import Conversation
from services import result_publish
from services.result_publish import announce_if_due, publish_results
from services.result_table import read_table
from services.results import apply_plan, plan_results
from storage.db import Database
from storage.models import Applicant, AuditEntry, ChatIdentity, OutboxMessage, StageResult
from tests.chat import Chat
from tests.seeding import FIRST_CHAT_ID, TODAY, seed_applicants, seeded_nik, seeded_number

STAFF_ID = "900"  # named as staff in the test settings
CSV_HEADER = "No. Registrasi;Nama;Hasil;Catatan\n"


def _csv(*lines: str) -> bytes:
    return ("\ufeff" + CSV_HEADER + "".join(f"{line}\n" for line in lines)).encode()


async def _results(db: Database) -> dict[tuple[str, str], tuple[str, str | None]]:
    """{(registration number, stage): (outcome, note)} of everything recorded."""
    async with db.transaction() as session:
        rows = await session.execute(
            select(
                Applicant.registration_number,
                StageResult.stage,
                StageResult.outcome,
                StageResult.note,
            ).join(Applicant, Applicant.id == StageResult.applicant_id)
        )
        return {(number, stage): (outcome, note) for number, stage, outcome, note in rows}


async def _outbox(db: Database) -> list[OutboxMessage]:
    async with db.transaction() as session:
        rows = await session.execute(select(OutboxMessage).order_by(OutboxMessage.id))
        return list(rows.scalars())


async def _import(
    db: Database, config: RecruitmentConfig, stage: str, content: bytes, now: datetime
) -> int:
    """Plan and, when the file is valid, apply (what `results import --apply` does)."""
    async with db.transaction() as session:
        plan = await plan_results(
            session, config, stage, read_table(content, "hasil.csv", today=TODAY)
        )
        assert plan.ready(), plan.problems + plan.unknown
        return await apply_plan(session, plan, "cli:tester", now, "import:hasil.csv")


# ----------------------------------------------------------------------------- import


async def test_dry_run_reports_every_row_and_changes_nothing(
    any_db: Database, config: RecruitmentConfig, clock: FrozenClock
) -> None:
    await seed_applicants(any_db, 3, clock.now())
    content = _csv(
        f"{seeded_number(1)};Pendaftar 1;Lulus;",
        f"{seeded_number(2)};Pendaftar 2;TMS;Foto KTP buram",
        f" {seeded_number(3).lower()} ;Pendaftar 3; lolos ;",
    )
    async with any_db.transaction() as session:
        plan = await plan_results(
            session, config, "1", read_table(content, "hasil.csv", today=TODAY)
        )
    assert plan.ready()
    assert [(c.number, c.before, c.after, c.note) for c in plan.changes] == [
        (seeded_number(1), None, "passed", None),
        (seeded_number(2), None, "not_passed", "Foto KTP buram"),
        (seeded_number(3), None, "passed", None),
    ]
    assert await _results(any_db) == {}


async def test_applying_records_results_with_before_and_after_in_the_audit_log(
    any_db: Database, config: RecruitmentConfig, clock: FrozenClock
) -> None:
    await seed_applicants(any_db, 2, clock.now())
    await _import(any_db, config, "1", _csv(f"{seeded_number(1)};;lulus;"), clock.now())
    changed = await _import(
        any_db,
        config,
        "1",
        _csv(f"{seeded_number(1)};;tidak lulus;KTP tidak terbaca", f"{seeded_number(2)};;L;"),
        clock.now(),
    )
    assert changed == 2
    assert await _results(any_db) == {
        (seeded_number(1), "1"): ("not_passed", "KTP tidak terbaca"),
        (seeded_number(2), "1"): ("passed", None),
    }
    async with any_db.transaction() as session:
        entries = (
            await session.execute(select(AuditEntry).where(AuditEntry.action == "result_set"))
        ).scalars()
        details = [
            (entry.actor, entry.detail["before"], entry.detail["after"]) for entry in entries
        ]
    assert details == [
        ("cli:tester", None, "passed"),
        ("cli:tester", "passed", "not_passed"),
        ("cli:tester", None, "passed"),
    ]


async def test_mixed_file_lists_every_problem_and_cannot_be_applied(
    any_db: Database, config: RecruitmentConfig, clock: FrozenClock
) -> None:
    await seed_applicants(any_db, 4, clock.now())
    content = _csv(
        f"{seeded_number(1)};;Lulus;",  # line 2: fine
        "PMK24-09999;;Lulus;",  # 3: nobody
        f"{seeded_number(1)};;Lulus;",  # 4: duplicate of line 2
        f"{seeded_number(2)};;mungkin;",  # 5: unknown value
        f"{seeded_number(3)};;;",  # 6: empty result
        f"{seeded_number(4)};;Lulus;" + "x" * 301,  # 7: note too long
    )
    async with any_db.transaction() as session:
        plan = await plan_results(
            session, config, "1", read_table(content, "hasil.csv", today=TODAY)
        )
    assert [(p.line, p.code) for p in plan.problems] == [
        (4, "duplicate_row"),
        (5, "unknown_value"),
        (6, "empty_value"),
        (7, "note_too_long"),
    ]
    assert [(p.line, p.code) for p in plan.unknown] == [(3, "unknown_number")]
    assert not plan.ready() and not plan.ready(skip_unknown=True)


async def test_a_later_stage_needs_a_pass_in_the_stage_before(
    any_db: Database, config: RecruitmentConfig, clock: FrozenClock
) -> None:
    await seed_applicants(any_db, 3, clock.now())
    await _import(
        any_db,
        config,
        "1",
        _csv(f"{seeded_number(1)};;lulus;", f"{seeded_number(2)};;TL;"),
        clock.now(),
    )
    content = _csv(
        f"{seeded_number(1)};;lulus;", f"{seeded_number(2)};;lulus;", f"{seeded_number(3)};;lulus;"
    )
    async with any_db.transaction() as session:
        plan = await plan_results(
            session, config, "2", read_table(content, "hasil.csv", today=TODAY)
        )
    assert [(p.line, p.code, p.params["previous"]) for p in plan.problems] == [
        (3, "stage_out_of_order", "1"),
        (4, "stage_out_of_order", "1"),
    ]
    await _import(any_db, config, "2", _csv(f"{seeded_number(1)};;lulus;"), clock.now())
    async with any_db.transaction() as session:
        backwards = await plan_results(
            session, config, "1", read_table(_csv(f"{seeded_number(1)};;TL;"), "x.csv", today=TODAY)
        )
    assert [p.code for p in backwards.problems] == ["later_stage_recorded"]


async def test_xlsx_with_indonesian_headers_matches_by_nik_and_checks_birth_dates(
    db: Database, config: RecruitmentConfig, clock: FrozenClock
) -> None:
    await seed_applicants(db, 3, clock.now())
    book = Workbook()
    sheet = book.active
    sheet.append(["Daftar hasil seleksi administrasi"])
    sheet.append(["No", "NIK", "Nama Lengkap", "Tanggal Lahir", "Status Kelulusan", "Keterangan"])
    sheet.append([1, seeded_nik(1), "Pendaftar 1", datetime(1995, 8, 17), "Lulus", None])
    sheet.append([2, int(seeded_nik(2)), "Pendaftar 2", datetime(1995, 8, 17), "Tidak Lulus", "-"])
    sheet.append([3, seeded_nik(3), "Pendaftar 3", datetime(1996, 1, 2), "Lulus", None])
    buffer = io.BytesIO()
    book.save(buffer)
    async with db.transaction() as session:
        plan = await plan_results(
            session, config, "1", read_table(buffer.getvalue(), "h.xlsx", today=TODAY)
        )
    assert [(c.line, c.number, c.after) for c in plan.changes] == [
        (3, seeded_number(1), "passed"),
        (4, seeded_number(2), "not_passed"),
    ]
    assert [(p.line, p.code) for p in plan.problems] == [(5, "birth_date_mismatch")]


async def test_a_nik_excel_rounded_is_reported_with_the_fix(
    db: Database, config: RecruitmentConfig, clock: FrozenClock
) -> None:
    await seed_applicants(db, 1, clock.now())
    content = b"NIK,Hasil\n3.52801570895E+15,Lulus\n"
    async with db.transaction() as session:
        plan = await plan_results(session, config, "1", read_table(content, "h.csv", today=TODAY))
    assert [p.code for p in plan.unknown] == ["unknown_nik_number"]


# ----------------------------------------------------------------------------- staff chat


async def test_staff_import_a_file_in_chat_check_then_apply(
    conversation: Conversation, clock: FrozenClock
) -> None:
    db = conversation.db
    await seed_applicants(db, 2, clock.now())
    staff = Chat(conversation, STAFF_ID)
    await staff.send("/start")
    await staff.send("/hasil_impor 1")
    assert "CSV atau XLSX" in staff.text
    content = _csv(f"{seeded_number(1)};;Lulus;", f"{seeded_number(2)};;Tidak lulus;Ijazah buram")
    await staff.send_file(content, FileKind.DOCUMENT, "text/csv", "hasil tahap 1.csv")
    assert "akan berubah: 2" in staff.text
    assert f"Baris 3: {seeded_number(2)} Pendaftar 2: belum ada hasil → tidak lulus" in staff.text
    assert "res:apply" in staff.buttons
    assert await _results(db) == {}  # the check changes nothing
    await staff.press("res:apply")
    assert "2 hasil Tahap 1 Seleksi Administrasi tercatat" in staff.text
    assert "/umumkan 1" in staff.text
    assert await _results(db) == {
        (seeded_number(1), "1"): ("passed", None),
        (seeded_number(2), "1"): ("not_passed", "Ijazah buram"),
    }
    assert "results_imported" in await staff.audit_actions()
    assert await _outbox(db) == []  # nobody is told before staff publish


async def test_a_file_with_problems_offers_no_apply_and_a_forged_press_changes_nothing(
    conversation: Conversation, clock: FrozenClock
) -> None:
    await seed_applicants(conversation.db, 2, clock.now())
    staff = Chat(conversation, STAFF_ID)
    await staff.send("/start")
    await staff.send("/hasil_impor 1")
    content = _csv(f"{seeded_number(1)};;Lulus;", f"{seeded_number(2)};;barangkali;")
    await staff.send_file(content, FileKind.DOCUMENT, "text/csv", "hasil.csv")
    assert 'Baris 3: nilai hasil "barangkali" tidak dikenal' in staff.text
    assert "res:apply" not in staff.buttons
    await staff.press("res:apply")
    assert "Tidak ada yang diterapkan" in staff.text
    assert await _results(conversation.db) == {}


async def test_unreadable_files_get_a_clear_answer_and_the_step_waits(
    conversation: Conversation,
) -> None:
    staff = Chat(conversation, STAFF_ID)
    await staff.send("/start")
    await staff.send("/hasil_impor 1")
    await staff.send_file(b"\x89PNG\r\n\x1a\n" + b"\0" * 100, FileKind.DOCUMENT, None, "x.csv")
    assert "File tidak terbaca" in staff.text
    await staff.send_file(b"Nama;Hasil\nSiti;Lulus\n", FileKind.DOCUMENT, "text/csv", "x.csv")
    assert "Tidak ada kolom nomor registrasi atau NIK" in staff.text
    assert (await staff.session()).step == "res_upload"
    await staff.send("/hasil_impor 9")
    assert "Sebutkan tahapnya: 1, 2, 3, final" in staff.text


async def test_unknown_rows_are_skipped_only_when_staff_choose_so(
    conversation: Conversation, clock: FrozenClock
) -> None:
    await seed_applicants(conversation.db, 1, clock.now())
    staff = Chat(conversation, STAFF_ID)
    await staff.send("/start")
    await staff.send("/hasil_impor 1")
    content = _csv(f"{seeded_number(1)};;Lulus;", "PMK24-07777;Orang Lain;Lulus;")
    await staff.send_file(content, FileKind.DOCUMENT, "text/csv", "hasil.csv")
    assert staff.buttons[0] == "res:apply_known"
    assert "PMK24-07777 tidak terdaftar" in staff.text
    await staff.press("res:apply_known")
    assert await _results(conversation.db) == {(seeded_number(1), "1"): ("passed", None)}


async def test_staff_set_one_result_in_chat(conversation: Conversation, clock: FrozenClock) -> None:
    await seed_applicants(conversation.db, 1, clock.now())
    staff = Chat(conversation, STAFF_ID)
    await staff.send("/start")
    await staff.send(f"/hasil {seeded_number(1)} 1 tidak lulus Foto KTP tidak terbaca")
    assert "belum ada hasil → tidak lulus" in staff.text
    assert await _results(conversation.db) == {
        (seeded_number(1), "1"): ("not_passed", "Foto KTP tidak terbaca")
    }
    await staff.send(f"/hasil {seeded_nik(1)} tahap 1 lulus")
    assert "tidak lulus → lulus" in staff.text
    await staff.send(f"/hasil {seeded_number(1)} 2 sip")
    assert "Cara pakai: /hasil" in staff.text
    await staff.send("/hasil PMK24-04444 1 lulus")
    assert "PMK24-04444 tidak terdaftar" in staff.text


@pytest.mark.parametrize(
    "command",
    ["/hasil PMK24-00001 1 lulus", "/hasil_impor 1", "/umumkan 1", "/hasil_rekap"],
)
async def test_non_staff_get_a_refusal_and_nothing_changes(
    conversation: Conversation, clock: FrozenClock, command: str
) -> None:
    chats = await seed_applicants(conversation.db, 1, clock.now())
    applicant = Chat(conversation, chats[0])
    await applicant.send(command)
    assert "khusus untuk petugas BPS" in applicant.text
    await applicant.press("res:apply")
    await applicant.press("res:publish")
    assert await _results(conversation.db) == {}
    assert await _outbox(conversation.db) == []
    assert (await applicant.session()).step == "menu"
    assert "staff_command_refused" in await applicant.audit_actions()


async def test_staff_rights_are_checked_again_when_confirming(
    conversation: Conversation, clock: FrozenClock
) -> None:
    from storage.repositories import Staff

    await seed_applicants(conversation.db, 1, clock.now())
    async with conversation.db.transaction() as session:
        await Staff(session).add("telegram", "777", "Petugas", "cli:admin", clock.now())
    staff = Chat(conversation, "777")
    await staff.send("/start")
    await staff.send("/hasil_impor 1")
    await staff.send_file(_csv(f"{seeded_number(1)};;Lulus;"), FileKind.DOCUMENT, None, "h.csv")
    async with conversation.db.transaction() as session:
        await Staff(session).remove("telegram", "777")
    await staff.press("res:apply")
    assert "khusus untuk petugas BPS" in staff.text
    assert await _results(conversation.db) == {}


# ----------------------------------------------------------------------------- publishing


async def test_publishing_twice_notifies_once_and_a_correction_is_told(
    any_db: Database,
    config: RecruitmentConfig,
    catalog: Catalog,
    clock: FrozenClock,
) -> None:
    await seed_applicants(any_db, 3, clock.now())
    await _import(
        any_db,
        config,
        "1",
        _csv(
            f"{seeded_number(1)};;Lulus;",
            f"{seeded_number(2)};;Tidak lulus;KTP buram",
            f"{seeded_number(3)};;belum;",
        ),
        clock.now(),
    )
    for _ in range(2):
        async with any_db.transaction() as session:
            await publish_results(session, config, catalog, "1", "cli:tester", clock.now())
    rows = await _outbox(any_db)
    assert [(row.recipient, row.channel) for row in rows] == [
        (str(FIRST_CHAT_ID), "telegram"),
        (str(FIRST_CHAT_ID + 1), "telegram"),
    ]
    assert "Selamat, Anda LULUS Tahap 1 Seleksi Administrasi" in rows[0].text
    assert "Tes Kompetensi" in rows[0].text  # what comes next
    assert "tidak lulus Tahap 1" in rows[1].text and "Catatan panitia: KTP buram" in rows[1].text
    await _import(any_db, config, "1", _csv(f"{seeded_number(2)};;Lulus;"), clock.now())
    async with any_db.transaction() as session:
        await publish_results(session, config, catalog, "1", "cli:tester", clock.now())
    rows = await _outbox(any_db)
    assert len(rows) == 3
    assert rows[2].recipient == str(FIRST_CHAT_ID + 1) and "LULUS" in rows[2].text


async def test_publishing_a_page_at_a_time_tells_every_chat_once(
    any_db: Database,
    config: RecruitmentConfig,
    catalog: Catalog,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Recipients are read and queued a page at a time (flat memory over 100,000 applicants):
    an applicant whose two chats fall on both sides of a page's end is told on both, and the
    delivery counts every message."""
    monkeypatch.setattr(result_publish, "NOTICES_PAGE", 2)
    await seed_applicants(any_db, 5, clock.now())
    async with any_db.transaction() as session:
        second = await session.scalar(
            select(Applicant.id).where(Applicant.registration_number == seeded_number(2))
        )
        session.add(
            ChatIdentity(
                channel="whatsapp",
                external_id="ID.555",
                address="6281255500001",
                applicant_id=second,
                created_at=clock.now(),
            )
        )
    await _import(
        any_db,
        config,
        "1",
        _csv(*(f"{seeded_number(n)};;Lulus;" for n in range(1, 6))),
        clock.now(),
    )
    async with any_db.transaction() as session:
        broadcast = await publish_results(
            session, config, catalog, "1", "cli:tester", now=clock.now()
        )
    rows = await _outbox(any_db)
    telegram = [str(FIRST_CHAT_ID + n) for n in range(5)]
    assert sorted(row.recipient for row in rows) == sorted([*telegram, "6281255500001"])
    assert broadcast is not None and broadcast.total == 6
    assert {row.broadcast_id for row in rows} == {broadcast.id}
    async with any_db.transaction() as session:
        again = await publish_results(session, config, catalog, "1", "cli:tester", clock.now())
    assert again is None and len(await _outbox(any_db)) == 6


async def test_notices_wait_for_the_end_of_quiet_hours(
    db: Database, config: RecruitmentConfig, catalog: Catalog, clock: FrozenClock
) -> None:
    await seed_applicants(db, 1, clock.now())
    await _import(db, config, "1", _csv(f"{seeded_number(1)};;Lulus;"), clock.now())
    late = clock.now().replace(hour=22)
    async with db.transaction() as session:
        await publish_results(session, config, catalog, "1", "cli:tester", late)
    (row,) = await _outbox(db)
    assert row.not_before == (late + timedelta(days=1)).replace(hour=6, minute=0)


async def test_notices_are_written_in_each_applicants_language(
    db: Database, config: RecruitmentConfig, catalog: Catalog, clock: FrozenClock
) -> None:
    await seed_applicants(db, 1, clock.now(), language="en")
    await _import(db, config, "1", _csv(f"{seeded_number(1)};;Lulus;"), clock.now())
    async with db.transaction() as session:
        await publish_results(session, config, catalog, "1", "cli:tester", clock.now())
    (row,) = await _outbox(db)
    assert "Congratulations, you PASSED Stage 1 – Administrative selection" in row.text


async def _pass_everyone_to_final(db: Database, config: RecruitmentConfig, now: datetime) -> None:
    for stage in ("1", "2", "3"):
        await _import(db, config, stage, _csv(f"{seeded_number(1)};;Lulus;"), now)


async def test_the_final_result_goes_out_at_the_announcement_time_once(
    any_db: Database, config: RecruitmentConfig, catalog: Catalog, clock: FrozenClock
) -> None:
    await seed_applicants(any_db, 2, clock.now())
    await _pass_everyone_to_final(any_db, config, clock.now())
    announcement = config.local(config.schedule.announcement_at)
    async with any_db.transaction() as session:
        assert await announce_if_due(session, config, catalog, announcement) is None
    await _import(any_db, config, "final", _csv(f"{seeded_number(1)};;Lulus;"), clock.now())
    async with any_db.transaction() as session:
        early = announcement - timedelta(minutes=1)
        assert await announce_if_due(session, config, catalog, early) is None
    for _ in range(2):
        async with any_db.transaction() as session:
            await announce_if_due(session, config, catalog, announcement)
    (row,) = await _outbox(any_db)
    assert "calon mitra statistik BPS Kab. Pamekasan tahun 2024" in row.text
    assert row.not_before == announcement.replace(hour=6)  # the day starts in quiet hours


# ----------------------------------------------------------------------------- status

STAGES = ("1", "2", "3", "final")
COMBINATIONS = [
    (),
    ("passed",),
    ("not_passed",),
    ("passed", "passed"),
    ("passed", "not_passed"),
    ("passed", "passed", "passed"),
    ("passed", "passed", "not_passed"),
    ("passed", "passed", "passed", "passed"),
    ("passed", "passed", "passed", "not_passed"),
]


@pytest.mark.parametrize("published", [True, False])
@pytest.mark.parametrize("outcomes", COMBINATIONS)
async def test_status_shows_each_stage_and_what_comes_next(
    conversation: Conversation,
    config: RecruitmentConfig,
    catalog: Catalog,
    clock: FrozenClock,
    outcomes: tuple[str, ...],
    published: bool,
) -> None:
    db = conversation.db
    (chat_id,) = await seed_applicants(db, 1, clock.now())
    word = {"passed": "lulus", "not_passed": "tidak lulus"}
    for stage, outcome in zip(STAGES, outcomes, strict=False):
        note = "Nilai tes 71" if outcome == "not_passed" else ""
        await _import(
            db, config, stage, _csv(f"{seeded_number(1)};;{word[outcome]};{note}"), clock.now()
        )
        if published:
            async with db.transaction() as session:
                await publish_results(session, config, catalog, stage, "cli:t", clock.now())
    applicant = Chat(conversation, chat_id)
    await applicant.press("menu:status")
    lines = applicant.text.splitlines()
    shown = outcomes if published else ()
    names = ["Tahap 1 Seleksi Administrasi", "Tahap 2 Tes Kompetensi", "Tahap 3 Seleksi Akhir"]
    names.append("Hasil akhir (calon mitra)")
    stopped = False
    for index, name in enumerate(names):
        line = next(line for line in lines if name in line)
        if stopped:
            assert line.startswith("➖")
        elif index < len(shown):
            assert line.startswith("✅" if shown[index] == "passed" else "❌")
            stopped = shown[index] == "not_passed"
        else:
            assert line.startswith("⏳") and "belum diumumkan" in line
    assert ("Catatan panitia: Nilai tes 71" in applicant.text) == ("not_passed" in shown)
    next_step = applicant.text.split("Selanjutnya:", 1)[1]
    if shown == ("passed",) * 4:
        assert "Selamat, Anda dinyatakan lolos" in next_step
    elif shown and shown[-1] == "not_passed" and len(shown) == 4:
        assert "belum lolos sebagai calon mitra" in next_step
    elif "not_passed" in shown:
        assert "Terima kasih telah mengikuti seleksi" in next_step
    else:
        upcoming = names[len(shown)]
        assert f"Tunggu pengumuman {upcoming}" in next_step


async def test_status_before_results_says_only_the_announced_dates(
    conversation: Conversation, clock: FrozenClock
) -> None:
    (chat_id,) = await seed_applicants(conversation.db, 1, clock.now())
    applicant = Chat(conversation, chat_id)
    await applicant.send("/status")
    assert "⏳ Tahap 1 Seleksi Administrasi: belum diumumkan\n" in applicant.text
    assert "paling lambat" not in applicant.text  # the announcement names no stage dates
    assert "Seleksi berlangsung sampai 8 Desember 2023" in applicant.text
    assert "Hasil akhir (calon mitra): belum diumumkan (diumumkan pada 15 Desember 2023)" in (
        applicant.text
    )


async def test_status_of_an_unfinished_registration_points_to_it(chat: Chat) -> None:
    await chat.send("/start")
    await chat.press("menu:status")
    assert "Pendaftaran Anda di bot ini belum selesai" in chat.text
    assert "menu:register" in chat.buttons


async def test_deleting_ones_data_deletes_ones_results(
    conversation: Conversation, config: RecruitmentConfig, clock: FrozenClock
) -> None:
    (chat_id,) = await seed_applicants(conversation.db, 1, clock.now())
    await _import(conversation.db, config, "1", _csv(f"{seeded_number(1)};;Lulus;"), clock.now())
    applicant = Chat(conversation, chat_id)
    await applicant.press("menu:mydata")
    await applicant.press("md:delete")
    await applicant.press("del:yes")
    assert "Semua data Anda sudah dihapus" in applicant.text
    assert await _results(conversation.db) == {}


def test_the_shipped_config_names_no_stage_dates(config: RecruitmentConfig) -> None:
    assert [stage.results_by for stage in config.stages] == [None, None, None]


async def test_staff_broadcast_to_those_who_passed_a_published_stage(
    conversation: Conversation, config: RecruitmentConfig, catalog: Catalog, clock: FrozenClock
) -> None:
    db = conversation.db
    await seed_applicants(db, 3, clock.now())
    content = _csv(
        f"{seeded_number(1)};;Lulus;", f"{seeded_number(2)};;TL;", f"{seeded_number(3)};;Lulus;"
    )
    await _import(db, config, "1", content, clock.now())
    staff = Chat(conversation, STAFF_ID)
    await staff.send("/start")
    await staff.send("/siaran")
    await staff.send("Jadwal tes kompetensi: 4 Desember 2023 pukul 08.00 WIB.")
    await staff.press("bca:stage")
    assert "Belum ada tahap yang hasilnya diumumkan" in staff.text
    assert await _outbox(db) == []
    async with db.transaction() as session:
        await publish_results(session, config, catalog, "1", "cli:tester", clock.now())
    told = len(await _outbox(db))
    await staff.press("bca:stage")  # still at the same step: the choice is offered again
    await staff.send("/siaran")
    await staff.send("Jadwal tes kompetensi: 4 Desember 2023 pukul 08.00 WIB.")
    await staff.press("bca:stage")
    assert "Lulus Tahap 1 Seleksi Administrasi (2)" in [
        button.label for reply in staff.replies for button in reply.buttons
    ]
    await staff.press("bcs:passed:1")
    assert "Penerima: Lulus Tahap 1 Seleksi Administrasi, 2 orang" in staff.text
    await staff.press("bc:send")
    sent = [row for row in await _outbox(db)][told:]
    assert sorted(row.recipient for row in sent) == [str(FIRST_CHAT_ID), str(FIRST_CHAT_ID + 2)]
    assert all("Jadwal tes kompetensi" in row.text for row in sent)
