"""The desk's results page over httpx (no browser): a file checked and applied from the copy
kept server-side, refusals (role, CSRF, another session), polite answers to bad files, the
publication preview with its paging, publishing through the outbox; and the kept file's
storage on SQLite and PostgreSQL."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy import select

from core.clock import FrozenClock
from services.desk_sessions import SessionPolicy, Started, ThrottlePolicy, sign_in, sign_out
from services.desk_uploads import keep_results_file, kept_results_file
from services.table_limits import LIMITS
from storage.db import Database
from storage.models import AuditEntry, DeskUpload, OutboxMessage, StageResult
from tests.desk.accounts import PASSWORD, csrf_in, seed_accounts
from tests.desk.accounts import sign_in as client_sign_in
from tests.seeding import FIRST_CHAT_ID, seed_applicants
from tests.test_desk_actions import CSV

FIXED = CSV.replace(b"mungkin", b"belum")
UPLOAD_LINK = re.compile(r"/desk/results/import/([A-Za-z0-9_-]+)")


async def _rows(db: Database, model: type) -> list:
    async with db.transaction() as session:
        return list((await session.execute(select(model))).scalars())


async def _signed_in(client: httpx.AsyncClient, login: str) -> str:
    """Sign in; the CSRF token of the results page."""
    await client_sign_in(client, login)
    return csrf_in((await client.get("/desk/")).text)


async def _upload(
    client: httpx.AsyncClient, csrf: str, content: bytes, name: str = "tahap1.csv"
) -> httpx.Response:
    return await client.post(
        "/desk/results/upload",
        data={"csrf_token": csrf, "stage": "1"},
        files={"file": (name, content, "text/csv")},
    )


async def _checked(client: httpx.AsyncClient, csrf: str, content: bytes) -> tuple[str, str]:
    """Upload a file; the kept file's id and its dry-run page."""
    sent = await _upload(client, csrf, content)
    assert sent.status_code == 303, sent.text
    found = UPLOAD_LINK.fullmatch(sent.headers["location"])
    assert found is not None
    report = await client.get(sent.headers["location"])
    assert report.status_code == 200
    return found.group(1), report.text


async def test_a_file_is_checked_as_a_table_and_applied_from_the_kept_copy(
    client: httpx.AsyncClient, db: Database, clock: FrozenClock
) -> None:
    await seed_applicants(db, 3, clock.now())
    csrf = await _signed_in(client, "ani")
    overview = await client.get("/desk/results")
    assert 'enctype="multipart/form-data"' in overview.text

    upload, report = await _checked(client, csrf, CSV)
    assert "akan berubah: 2 · sudah sama: 0 · bermasalah: 1 · tidak dikenal: 1" in report
    assert "nomor registrasi PMK24-00077 tidak terdaftar di bot" in report
    assert "nilai hasil &#34;mungkin&#34; tidak dikenal" in report
    assert "belum ada hasil → tidak lulus" in report
    assert "Terapkan" not in report and "Belum bisa diterapkan" in report
    attention = await client.get(f"/desk/results/import/{upload}?show=attention")
    assert "PMK24-00077" in attention.text and "PMK24-00001" not in attention.text

    upload, report = await _checked(client, csrf, FIXED)  # replaces the first upload
    assert len(await _rows(db, DeskUpload)) == 1
    assert "Terapkan 2 perubahan, lewati 1 yang tidak dikenal" in report
    applied = await client.post(
        f"/desk/results/import/{upload}/apply",
        data={"csrf_token": csrf, "skip_unknown": "1", "rows": "PMK24-00003;lulus"},
    )
    assert applied.status_code == 303
    assert applied.headers["location"] == "/desk/results?flash=results_imported"
    results = {(r.applicant_id, r.outcome, r.source) for r in await _rows(db, StageResult)}
    assert results == {(1, "passed", "import:tahap1.csv"), (2, "not_passed", "import:tahap1.csv")}
    assert await _rows(db, DeskUpload) == []  # removed once applied
    again = await client.get(f"/desk/results/import/{upload}")
    assert again.status_code == 404 and "Berkas tidak ada lagi" in again.text
    overview = await client.get("/desk/results?flash=results_imported")
    assert "Hasil dari berkas tercatat" in overview.text
    actions = [(e.actor, e.action) for e in await _rows(db, AuditEntry)]
    assert ("desk:ani", "results_file_uploaded") in actions
    assert ("desk:ani", "results_imported") in actions


async def test_applying_without_skipping_unknown_rows_records_nothing(
    client: httpx.AsyncClient, db: Database, clock: FrozenClock
) -> None:
    await seed_applicants(db, 3, clock.now())
    csrf = await _signed_in(client, "ani")
    upload, _ = await _checked(client, csrf, FIXED)
    refused = await client.post(f"/desk/results/import/{upload}/apply", data={"csrf_token": csrf})
    assert refused.status_code == 409
    assert "Data berubah sejak pemeriksaan" in refused.text
    assert await _rows(db, StageResult) == []
    cancelled = await client.post(
        f"/desk/results/import/{upload}/cancel", data={"csrf_token": csrf}
    )
    assert cancelled.headers["location"] == "/desk/results?flash=results_cancelled"
    assert await _rows(db, DeskUpload) == []


async def test_another_session_cannot_see_or_apply_an_upload(
    client: httpx.AsyncClient, desk_app: object, db: Database, clock: FrozenClock
) -> None:
    await seed_applicants(db, 3, clock.now())
    csrf = await _signed_in(client, "ani")
    upload, _ = await _checked(client, csrf, FIXED)
    transport = httpx.ASGITransport(app=desk_app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://desk.test") as other:
        other_csrf = await _signed_in(other, "ani")  # the same admin, another browser
        assert (await other.get(f"/desk/results/import/{upload}")).status_code == 404
        posted = await other.post(
            f"/desk/results/import/{upload}/apply",
            data={"csrf_token": other_csrf, "skip_unknown": "1"},
        )
        assert posted.status_code == 404
    assert await _rows(db, StageResult) == []


@pytest.mark.parametrize("login", ["rudi", "vina"])
async def test_a_reviewer_or_viewer_may_look_but_not_upload_apply_or_publish(
    client: httpx.AsyncClient, db: Database, clock: FrozenClock, login: str
) -> None:
    await seed_applicants(db, 3, clock.now())
    csrf = await _signed_in(client, login)
    overview = await client.get("/desk/results")
    assert overview.status_code == 200 and "Unggah berkas hasil" not in overview.text
    preview = await client.get("/desk/results/publish/1")
    assert preview.status_code == 200 and "Umumkan (" not in preview.text
    assert (await _upload(client, csrf, FIXED)).status_code == 403
    assert (await client.get("/desk/results/import/anything")).status_code == 403
    for path in ("/desk/results/import/anything/apply", "/desk/results/publish/1"):
        assert (await client.post(path, data={"csrf_token": csrf})).status_code == 403
    assert await _rows(db, DeskUpload) == [] and await _rows(db, OutboxMessage) == []
    refused = [e.detail for e in await _rows(db, AuditEntry) if e.action == "desk_refused"]
    assert [entry["permission"] for entry in refused] == [
        "import_results",
        "import_results",
        "import_results",
        "publish_results",
    ]


async def test_a_form_without_its_csrf_token_is_refused(
    client: httpx.AsyncClient, db: Database, clock: FrozenClock
) -> None:
    await seed_applicants(db, 3, clock.now())
    await _signed_in(client, "ani")
    sent = await client.post(
        "/desk/results/upload", data={"stage": "1"}, files={"file": ("a.csv", FIXED)}
    )
    assert sent.status_code == 403 and "Formulir tidak berlaku" in sent.text
    published = await client.post("/desk/results/publish/1")
    assert published.status_code == 403
    assert await _rows(db, DeskUpload) == [] and await _rows(db, OutboxMessage) == []


async def test_bad_files_get_a_polite_message(client: httpx.AsyncClient) -> None:
    csrf = await _signed_in(client, "ani")
    unreadable = await _upload(client, csrf, b"\x00\x01binary", "hasil.xlsx")
    assert unreadable.status_code == 422
    assert "File tidak terbaca. Kirim file CSV atau XLSX" in unreadable.text
    no_column = await _upload(client, csrf, b"Nama;Umur\nA;20\n")
    assert "Tidak ada kolom nomor registrasi atau NIK" in no_column.text
    too_large = await _upload(client, csrf, b"x" * (LIMITS.max_bytes + 1))
    assert too_large.status_code == 413
    assert "File terlalu besar (paling besar 5 MB)." in too_large.text
    rows = "No. Registrasi;Hasil\n" + "PMK24-00001;lulus\n" * (LIMITS.max_rows + 1)
    too_long = await _upload(client, csrf, rows.encode())
    assert f"File berisi lebih dari {LIMITS.max_rows} baris" in too_long.text
    empty = await client.post(
        "/desk/results/upload", data={"csrf_token": csrf, "stage": "1"}, files={}
    )
    assert empty.status_code == 400 and "Pilih berkas CSV atau XLSX" in empty.text


async def test_a_request_declaring_more_than_the_limit_is_refused_unread(
    client: httpx.AsyncClient,
) -> None:
    await _signed_in(client, "ani")
    request = client.build_request("POST", "/desk/results/upload", content=b"")
    request.headers["content-length"] = str(LIMITS.max_bytes * 4)
    refused = await client.send(request)
    assert refused.status_code == 413 and "File terlalu besar" in refused.text


async def test_the_publication_preview_pages_the_messages_and_publishing_fills_the_outbox(
    client: httpx.AsyncClient, db: Database, clock: FrozenClock
) -> None:
    await seed_applicants(db, 25, clock.now())
    csrf = await _signed_in(client, "ani")
    table = "No. Registrasi;Hasil\n" + "".join(
        f"PMK24-{n:05d};{'lulus' if n % 5 else 'tidak lulus'}\n" for n in range(1, 26)
    )
    upload, _ = await _checked(client, csrf, table.encode())
    await client.post(f"/desk/results/import/{upload}/apply", data={"csrf_token": csrf})

    preview = await client.get("/desk/results/publish/1")
    assert preview.status_code == 200
    assert 'id="to-tell">25<' in preview.text and "lulus: 20 · tidak lulus: 5" in preview.text
    assert "Halaman 1 dari 2" in preview.text and "📢 Umumkan (25 pesan)" in preview.text
    assert preview.text.count('class="notice"') == 20
    second = await client.get("/desk/results/publish/1?page=2")
    assert second.text.count('class="notice"') == 5 and "PMK24-00025" in second.text
    assert "Mohon maaf, Anda tidak lulus Tahap 1" in second.text
    assert (await client.get("/desk/results/publish/9")).status_code == 404

    published = await client.post("/desk/results/publish/1", data={"csrf_token": csrf})
    assert published.headers["location"] == "/desk/results/publish/1?flash=results_published"
    outbox = await _rows(db, OutboxMessage)
    assert len(outbox) == 25
    assert {row.recipient for row in outbox} == {str(FIRST_CHAT_ID + n) for n in range(25)}
    after = await client.get(published.headers["location"])
    assert 'id="to-tell">0<' in after.text and "10 November 2023, 09.00 WIB" in after.text
    again = await client.post("/desk/results/publish/1", data={"csrf_token": csrf})
    assert again.headers["location"].endswith("flash=results_published_nobody")
    assert len(await _rows(db, OutboxMessage)) == 25


async def test_a_kept_file_belongs_to_its_session_and_ends_with_it(
    any_db: Database, clock: FrozenClock
) -> None:
    now = clock.now()
    await seed_accounts(any_db, now)
    started = await sign_in(
        any_db, "ani", PASSWORD, "127.0.0.1", now, SessionPolicy(), ThrottlePolicy()
    )
    assert isinstance(started, Started)
    signed = started.signed_in
    content = bytes(range(256)) * 100  # any bytes, kept exactly
    async with any_db.transaction() as session:
        kept = await keep_results_file(session, signed, "2", "hasil.xlsx", content, "desk:ani", now)
    async with any_db.transaction() as session:
        found = await kept_results_file(session, signed, kept.id)
        assert found is not None and found.content == content and found.stage == "2"
        await sign_out(session, signed, now)
    async with any_db.transaction() as session:
        assert await kept_results_file(session, signed, kept.id) is None
    assert await _rows(any_db, DeskUpload) == []
