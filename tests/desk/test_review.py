"""The review page of one applicant over httpx: what each role sees, the document route (only
with a session and a role that may, never cached, every view audited), asking for a document
again and setting a stage result, and the refusals of a viewer's forged forms."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from storage.db import Database
from storage.models import OutboxMessage, StageResult
from storage.repositories import Audit
from tests import images
from tests.chat import Chat
from tests.desk.accounts import csrf_in, sign_in

REASON = "Foto KTP buram, NIK tidak terbaca"


async def _registered(chat: Chat) -> str:
    """Register the chat's applicant; the address of their review page."""
    await chat.register()
    applicant = await chat.applicant()
    assert applicant is not None
    return f"/desk/applicants/{applicant.id}"


async def _as_reviewer(client: httpx.AsyncClient, chat: Chat) -> tuple[str, str]:
    """Register the chat's applicant and sign in as the reviewer: the review page's address
    and the session's CSRF token."""
    page = await _registered(chat)
    await sign_in(client, "rudi")
    return page, csrf_in((await client.get(page)).text)


async def _audit(db: Database) -> list[tuple[str, str, dict[str, Any]]]:
    async with db.transaction() as session:
        return [(e.actor, e.action, e.detail) for e in await Audit(session).recent()]


async def _outbox_notices(db: Database) -> list[OutboxMessage]:
    async with db.transaction() as session:
        rows = (await session.execute(select(OutboxMessage))).scalars()
        return [row for row in rows if (row.dedup_key or "").startswith("resend:")]


async def test_a_reviewer_sees_the_profile_documents_and_the_action_forms(
    client: httpx.AsyncClient, chat: Chat
) -> None:
    page = await _registered(chat)
    await sign_in(client, "rudi")
    shown = await client.get(page)
    assert shown.status_code == 200 and shown.headers["cache-control"] == "no-store"
    html = shown.text
    assert "<h1>Siti Aminah</h1>" in html and "PMK24-00001" in html
    assert "Tlanakan" in html and "17 Agustus 1995" in html
    for kind in ("photo", "ktp", "diploma"):  # pictures here; a PDF in the browser test
        assert f'<img src="{page}/documents/{kind}"' in html
    assert "1280×800 piksel" in html
    assert html.count(f'action="{page}/resend"') == 3
    assert f'action="{page}/result"' in html
    assert "Tahap 1 Seleksi Administrasi" in html and "belum ada hasil" in html


async def test_a_viewer_sees_the_page_without_documents_or_forms(
    client: httpx.AsyncClient, chat: Chat
) -> None:
    page = await _registered(chat)
    await sign_in(client, "vina")
    html = (await client.get(page)).text
    assert "<h1>Siti Aminah</h1>" in html
    assert "Peran Anda tidak dapat membuka dokumen." in html
    assert "/documents/" not in html
    assert f"{page}/resend" not in html and f"{page}/result" not in html  # no action forms


async def test_a_document_needs_a_session_and_is_never_cached_and_each_view_is_audited(
    client: httpx.AsyncClient, chat: Chat, db: Database
) -> None:
    page = await _registered(chat)
    ktp = f"{page}/documents/ktp"
    refused = await client.get(ktp)
    assert refused.status_code == 303 and refused.headers["location"] == "/desk/login"
    assert refused.content == b""

    await sign_in(client, "rudi")
    for _ in range(2):
        seen = await client.get(ktp)
        assert seen.status_code == 200 and seen.content == images.good_ktp()
        assert seen.headers["content-type"] == "image/jpeg"
        assert seen.headers["cache-control"] == "no-store"
        assert seen.headers["content-disposition"] == 'inline; filename="PMK24-00001_ktp.jpg"'
    viewed = [
        d for who, what, d in await _audit(db) if (who, what) == ("desk:rudi", "document_viewed")
    ]
    assert [d["kind"] for d in viewed] == ["ktp", "ktp"]
    missing = await client.get(f"{page}/documents/sim")
    assert missing.status_code == 404 and missing.headers["cache-control"] == "no-store"


async def test_a_viewer_opening_a_document_is_refused_and_audited(
    client: httpx.AsyncClient, chat: Chat, db: Database
) -> None:
    page = await _registered(chat)
    await sign_in(client, "vina")
    refused = await client.get(f"{page}/documents/ktp")
    assert refused.status_code == 403 and images.good_ktp() not in refused.content
    entries = await _audit(db)
    assert ("desk:vina", "desk_refused") in [(who, what) for who, what, _ in entries]
    assert not [what for _, what, _ in entries if what == "document_viewed"]


async def test_asking_to_resend_queues_the_notice_and_the_page_shows_the_request(
    client: httpx.AsyncClient, chat: Chat, db: Database
) -> None:
    page, token = await _as_reviewer(client, chat)
    empty = await client.post(
        f"{page}/resend", data={"csrf_token": token, "kind": "ktp", "reason": "  "}
    )
    assert empty.status_code == 422
    assert "Tulis alasannya dulu; pendaftar membacanya di chat." in empty.text
    assert await _outbox_notices(db) == []

    asked = await client.post(
        f"{page}/resend", data={"csrf_token": token, "kind": "ktp", "reason": REASON}
    )
    assert asked.status_code == 303 and asked.headers["location"].endswith("flash=resend_requested")
    html = (await client.get(asked.headers["location"])).text
    assert "Permintaan kirim ulang sudah diantrekan ke chat pendaftar." in html
    assert f"Diminta kirim ulang 10 November 2023, 09.00 WIB: {REASON}" in html
    (notice,) = await _outbox_notices(db)
    assert notice.recipient == chat.user_id and REASON in notice.text
    assert "mengirim ulang Kartu Tanda Penduduk (KTP)" in notice.text
    audited = [(who, what) for who, what, _ in await _audit(db)]
    assert ("desk:rudi", "document_resend_requested") in audited


async def test_setting_a_result_says_what_stops_it_and_records_it_with_its_note(
    client: httpx.AsyncClient, chat: Chat, db: Database
) -> None:
    page, token = await _as_reviewer(client, chat)
    early = await client.post(
        f"{page}/result",
        data={"csrf_token": token, "stage": "2", "outcome": "passed", "note": "cepat"},
    )
    assert early.status_code == 422
    assert "PMK24-00001 belum lulus Tahap 1 Seleksi Administrasi" in early.text
    assert ">cepat</textarea>" in early.text  # what was typed is kept

    unknown = await client.post(
        f"{page}/result", data={"csrf_token": token, "stage": "9", "outcome": "passed"}
    )
    assert unknown.status_code == 422 and "Pilih tahap dan hasilnya." in unknown.text

    data = {"csrf_token": token, "stage": "1", "outcome": "passed", "note": "berkas lengkap"}
    saved = await client.post(f"{page}/result", data=data)
    assert saved.status_code == 303 and saved.headers["location"].endswith("flash=result_set")
    html = (await client.get(saved.headers["location"])).text
    assert "Hasil dicatat." in html and "berkas lengkap" in html
    assert "Dicatat desk:rudi, 10 November 2023, 09.00 WIB" in html
    again = await client.post(f"{page}/result", data=data)
    assert again.headers["location"].endswith("flash=result_unchanged")
    async with db.transaction() as session:
        (result,) = (await session.execute(select(StageResult))).scalars()
    assert (result.stage, result.outcome, result.note) == ("1", "passed", "berkas lengkap")
    assert result.set_by == "desk:rudi"


async def test_a_viewers_forged_forms_are_refused_and_audited(
    client: httpx.AsyncClient, chat: Chat, db: Database
) -> None:
    page = await _registered(chat)
    await sign_in(client, "vina")
    token = csrf_in((await client.get("/desk/")).text)  # the viewer's own, valid token
    resend = await client.post(
        f"{page}/resend", data={"csrf_token": token, "kind": "ktp", "reason": REASON}
    )
    result = await client.post(
        f"{page}/result", data={"csrf_token": token, "stage": "1", "outcome": "passed"}
    )
    assert resend.status_code == result.status_code == 403
    assert "Peran Anda tidak mengizinkan tindakan ini" in resend.text
    refusals = [
        d for who, what, d in await _audit(db) if (who, what) == ("desk:vina", "desk_refused")
    ]
    assert {(d["reason"], d["permission"]) for d in refusals} == {
        ("role", "ask_resend"),
        ("role", "set_result"),
    }
    assert await _outbox_notices(db) == []
    async with db.transaction() as session:
        assert list((await session.execute(select(StageResult))).scalars()) == []


async def test_a_form_without_its_csrf_token_and_an_unknown_applicant_are_refused(
    client: httpx.AsyncClient, chat: Chat
) -> None:
    page = await _registered(chat)
    await sign_in(client, "rudi")
    forged = await client.post(f"{page}/resend", data={"kind": "ktp", "reason": REASON})
    assert forged.status_code == 403 and "Formulir tidak berlaku" in forged.text
    assert (await client.get("/desk/applicants/999")).status_code == 404
