"""The desk's actions as services: reviewing an applicant (documents read with an audit entry),
setting one result, the inbox and its answers, broadcast figures, and a results file's dry run,
import and publication as data."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from core.catalog import Catalog
from core.clock import FrozenClock
from core.recruitment import RecruitmentConfig
from handlers.conversation import Conversation
from services.applicant_review import applicant_review
from services.broadcasts import (
    Audience,
    audience_label,
    broadcast_failures,
    broadcast_progress,
    create_broadcast,
)
from services.documents import read_document, request_resend
from services.inbox import ItemKind, answer_item, inbox
from services.result_import import dry_run
from services.result_publish import publish_results, untold_notices
from services.results import import_results, set_result
from services.uploads import read_results_file
from storage.db import Database
from storage.models import AuditEntry, OutboxMessage, Question, StageResult
from storage.outbox import Outbox
from storage.questions import Questions
from storage.sobat import SobatReports
from tests import images
from tests.chat import Chat
from tests.seeding import FIRST_CHAT_ID, TODAY, seed_applicants, seeded_number

DESK = "desk:ani"


async def _audit(db: Database) -> list[AuditEntry]:
    async with db.transaction() as session:
        return list((await session.execute(select(AuditEntry).order_by(AuditEntry.id))).scalars())


async def _outbox(db: Database) -> list[OutboxMessage]:
    async with db.transaction() as session:
        query = select(OutboxMessage).order_by(OutboxMessage.id)
        return list((await session.execute(query)).scalars())


async def _registered_id(chat: Chat) -> int:
    await chat.register()
    applicant = await chat.applicant()
    assert applicant is not None
    return applicant.id


async def test_the_review_shows_profile_labels_documents_preferred_items_and_results(
    chat: Chat, conversation: Conversation, config: RecruitmentConfig, catalog: Catalog
) -> None:
    applicant_id = await _registered_id(chat)
    db, now = conversation.db, conversation.deps.clock.now()
    async with db.transaction() as session:
        await request_resend(session, config, catalog, applicant_id, "ktp", "buram", DESK, now)
        review = await applicant_review(session, config, catalog, applicant_id, now)
        assert await applicant_review(session, config, catalog, applicant_id + 1, now) is None
    assert review is not None
    profile = {line.field: (line.label, line.value) for line in review.profile}
    assert profile["sex"] == ("Jenis kelamin", "Perempuan")
    assert profile["kecamatan"][1] == "Tlanakan"
    assert profile["motorbike"][1] == "Tidak" and profile["gadget"][1] == "Ya"
    assert profile["birth_date"][1].startswith("17 Agustus 1995")
    documents = {document.kind: document for document in review.documents}
    assert [document.kind for document in review.documents] == ["photo", "ktp", "diploma"]
    assert documents["photo"].status == "received" and documents["photo"].mime_type == "image/jpeg"
    assert documents["photo"].size == len(images.good_photo())
    assert documents["ktp"].status == "resend_requested"
    assert documents["ktp"].resend_reason == "buram"
    preferred = {item.text: item.met for item in review.preferred}
    assert True in preferred.values() and False in preferred.values()
    assert [stage.outcome for stage in review.results] == [None] * len(review.results)
    assert review.results[0].outcome_label == "belum ada hasil"
    assert review.consent_at is not None and review.registration_number == "PMK24-00001"
    assert [(c.channel, c.external_id) for c in review.chats] == [("telegram", "1001")]
    assert review.language == "id" and review.sobat_steps == []


async def test_reading_a_document_gives_its_bytes_and_audits_the_view(
    chat: Chat, conversation: Conversation
) -> None:
    applicant_id = await _registered_id(chat)
    db, deps = conversation.db, conversation.deps
    async with db.transaction() as session:
        seen = await read_document(session, deps.files, applicant_id, "ktp", DESK, deps.clock.now())
        missing = await read_document(
            session, deps.files, applicant_id, "sim", DESK, deps.clock.now()
        )
    assert seen is not None and missing is None
    assert seen.content == images.good_ktp() and seen.mime_type == "image/jpeg"
    assert seen.file_name == "PMK24-00001_ktp.jpg"
    (viewed,) = [entry for entry in await _audit(db) if entry.action == "document_viewed"]
    assert (viewed.actor, viewed.applicant_id, viewed.detail["kind"]) == (DESK, applicant_id, "ktp")


async def test_a_result_set_from_the_desk_follows_the_import_rules_and_is_audited(
    db: Database, config: RecruitmentConfig, clock: FrozenClock
) -> None:
    await seed_applicants(db, 1, clock.now())
    now = clock.now()
    async with db.transaction() as session:
        early = await set_result(session, config, 1, "2", "passed", None, DESK, now)
        plan = await set_result(session, config, 1, "1", "not_passed", "KTP buram", DESK, now)
        nobody = await set_result(session, config, 99, "1", "passed", None, DESK, now)
        with pytest.raises(ValueError):
            await set_result(session, config, 1, "9", "passed", None, DESK, now)
    assert early is not None and [p.code for p in early.problems] == ["stage_out_of_order"]
    assert plan is not None and plan.problems == [] and len(plan.changes) == 1
    assert nobody is None
    async with db.transaction() as session:
        (result,) = (await session.execute(select(StageResult))).scalars()
    assert (result.stage, result.outcome, result.note) == ("1", "not_passed", "KTP buram")
    assert (result.set_by, result.source) == (DESK, "desk")
    (entry,) = [entry for entry in await _audit(db) if entry.action == "result_set"]
    assert entry.actor == DESK and entry.detail["after"] == "not_passed"


async def test_the_inbox_lists_reports_and_questions_newest_first_and_answers_them(
    any_db: Database, config: RecruitmentConfig, catalog: Catalog, clock: FrozenClock
) -> None:
    db = any_db
    (chat,) = await seed_applicants(db, 1, clock.now(), language="en")
    now = clock.now()
    async with db.transaction() as session:
        await SobatReports(session).add(1, "activate", "E-mail aktivasi tidak masuk", now)
        await Questions(session).add(
            Question(
                applicant_id=1,
                channel="telegram",
                recipient=chat,
                language="en",
                text="when is the test?",
                created_at=now + timedelta(minutes=5),
                state="open",
            )
        )
    async with db.transaction() as session:
        items = await inbox(session, config)
    assert [(item.kind, item.item_id) for item in items] == [
        (ItemKind.QUESTION, 1),
        (ItemKind.SOBAT, 1),
    ]
    sobat = items[1]
    assert sobat.number == seeded_number(1) and sobat.topic == "Aktivasi akun lewat e-mail"
    assert sobat.text == "E-mail aktivasi tidak masuk" and sobat.state == "open"

    async with db.transaction() as session:
        answered = await answer_item(
            session, config, catalog, ItemKind.SOBAT, 1, "Check the spam folder.", DESK, now
        )
        unknown = await answer_item(session, config, catalog, ItemKind.QUESTION, 7, "x", DESK, now)
    assert answered and not unknown
    (row,) = await _outbox(db)
    assert row.recipient == str(FIRST_CHAT_ID) and "Check the spam folder." in row.text
    assert "Staff's answer to report #1" in row.text
    async with db.transaction() as session:
        still_open = await inbox(session, config)
        everything = await inbox(session, config, answered=True)
    assert [item.kind for item in still_open] == [ItemKind.QUESTION]
    done = next(item for item in everything if item.kind is ItemKind.SOBAT)
    assert (done.state, done.answered_by, done.answer) == (
        "answered",
        DESK,
        "Check the spam folder.",
    )
    assert "sobat_report_answered" in [entry.action for entry in await _audit(db)]


async def test_broadcast_progress_and_failures_are_data(
    db: Database, config: RecruitmentConfig, catalog: Catalog, clock: FrozenClock
) -> None:
    await seed_applicants(db, 3, clock.now())
    async with db.transaction() as session:
        broadcast = await create_broadcast(
            session,
            text="Halo {nama}",
            audience=Audience("all"),
            created_by=DESK,
            now=clock.now(),
            quiet_hours=config.quiet_hours,
        )
        rows = list(
            (
                await session.execute(
                    select(OutboxMessage).where(OutboxMessage.broadcast_id == broadcast.id)
                )
            ).scalars()
        )
        rows[0].state = "sent"
        rows[1].state, rows[1].last_error = "failed", "400 Bad Request"
        await session.flush()
        progress = await broadcast_progress(session, broadcast.id)
        failures = await broadcast_failures(Outbox(session), broadcast.id)
        assert await broadcast_progress(session, broadcast.id + 1) is None
    assert progress is not None
    assert (progress.total, progress.sent, progress.failed, progress.waiting) == (3, 1, 1, 1)
    assert progress.finished == 2 and progress.share == pytest.approx(2 / 3)
    assert failures is not None
    assert failures.decode("utf-8-sig").splitlines() == [
        "channel,recipient,state,error",
        f"telegram,{FIRST_CHAT_ID + 1},failed,400 Bad Request",
    ]
    label = audience_label(config, catalog, "id", Audience("passed", "1"))
    assert label == "Lulus Tahap 1 Seleksi Administrasi"


CSV = (
    "\ufeffNo. Registrasi;Nama;Hasil;Catatan\n"
    "PMK24-00001;Pendaftar 1;Lulus;\n"
    "PMK24-00002;Pendaftar 2;tidak lulus;KTP buram\n"
    "PMK24-00077;Orang Lain;lulus;\n"
    "PMK24-00003;Pendaftar 3;mungkin;\n"
).encode()


async def test_a_results_file_dry_run_import_and_publication_as_data(
    db: Database, config: RecruitmentConfig, catalog: Catalog, clock: FrozenClock
) -> None:
    await seed_applicants(db, 3, clock.now())
    table = await read_results_file(CSV, "tahap1.csv", TODAY)
    assert table.rows is not None and table.problem is None
    async with db.transaction() as session:
        report = await dry_run(session, config, catalog, "1", table.rows, table.file_name)
    assert "akan berubah: 2 · sudah sama: 0 · bermasalah: 1 · tidak dikenal: 1" in report.summary
    assert [(row.line, row.number, row.status) for row in report.rows] == [
        (2, "PMK24-00001", "change"),
        (3, "PMK24-00002", "change"),
        (4, "PMK24-00077", "unknown"),
        (5, "PMK24-00003", "problem"),
    ]
    assert report.rows[1].result == "tidak lulus" and report.rows[1].before == "belum ada hasil"
    assert report.rows[2].problem == "nomor registrasi PMK24-00077 tidak terdaftar di bot"
    assert report.rows[3].result == "mungkin" and "tidak dikenal" in (report.rows[3].problem or "")
    assert not report.plan.ready(skip_unknown=True)

    fixed = await read_results_file(CSV.replace(b"mungkin", b"belum"), "tahap1.csv", TODAY)
    assert fixed.rows is not None
    async with db.transaction() as session:
        refused = await import_results(
            session, config, "1", fixed.rows, "tahap1.csv", DESK, clock.now()
        )
        plan = await import_results(
            session, config, "1", fixed.rows, "tahap1.csv", DESK, clock.now(), skip_unknown=True
        )
        notices = await untold_notices(session, config, catalog, "1")
        await publish_results(session, config, catalog, "1", DESK, clock.now())
        after = await untold_notices(session, config, catalog, "1")
    assert not refused.ready() and len(plan.changes) == 2 and plan.unchanged == 1
    assert [(n.number, n.outcome, n.recipient) for n in notices] == [
        ("PMK24-00001", "passed", str(FIRST_CHAT_ID)),
        ("PMK24-00002", "not_passed", str(FIRST_CHAT_ID + 1)),
    ]
    assert "KTP buram" in notices[1].text and after == []
    assert [row.text for row in await _outbox(db)] == [notice.text for notice in notices]
    imported = [entry for entry in await _audit(db) if entry.action == "results_imported"]
    assert [entry.detail["skipped_unknown"] for entry in imported] == [1]


async def test_an_unreadable_results_file_is_a_problem_not_an_error() -> None:
    table = await read_results_file(b"\x00\x01binary", "hasil.xlsx", TODAY)
    assert table.rows is None and table.problem is not None
    assert table.problem.code == "table_unreadable"
