"""The desk's broadcasts and inbox over httpx (no browser): who may do what, CSRF on every
action, what is queued, scheduled, cancelled and downloaded, and what is audited."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select, update

from core.clock import FrozenClock
from core.recruitment import RecruitmentConfig
from services.broadcasts import (
    Audience,
    cancel_scheduled_broadcast,
    schedule_broadcast,
    send_due_broadcasts,
)
from services.results import set_result
from storage.db import Database
from storage.models import (
    AuditEntry,
    Broadcast,
    OutboxMessage,
    Question,
    ScheduledBroadcast,
)
from storage.questions import Questions
from storage.results import Publications
from tests.desk.accounts import csrf_in, sign_in
from tests.seeding import FIRST_CHAT_ID, seed_applicants


async def _rows(db: Database, model: Any) -> list[Any]:
    async with db.transaction() as session:
        return list((await session.execute(select(model).order_by(model.id))).scalars())


async def _actions(db: Database) -> list[tuple[str, str]]:
    return [(entry.actor, entry.action) for entry in await _rows(db, AuditEntry)]


async def _signed(client: httpx.AsyncClient, login: str) -> str:
    """Sign in; the session's CSRF token (on every page's forms)."""
    await sign_in(client, login)
    return csrf_in((await client.get("/desk/")).text)


async def _sent_to_two(client: httpx.AsyncClient, db: Database, clock: FrozenClock) -> str:
    """Two applicants and broadcast #1 to both, queued by the admin; the admin's CSRF token."""
    await seed_applicants(db, 2, clock.now())
    csrf = await _signed(client, "ani")
    await client.post("/desk/broadcasts/new", data=_form(csrf))
    return csrf


async def _settle(db: Database, message_id: int, state: str, error: str | None = None) -> None:
    """As a delivery worker records an outcome."""
    async with db.transaction() as session:
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id)
            .values(state=state, last_error=error)
        )


def _form(csrf: str, text: str = "Halo {nama} ({nomor})", **fields: str) -> dict[str, str]:
    return {"csrf_token": csrf, "text": text, "audience": "all", "when": "now", **fields}


async def test_an_admin_sends_now_to_the_audience_with_each_name_filled(
    client: httpx.AsyncClient, db: Database, clock: FrozenClock
) -> None:
    await seed_applicants(db, 3, clock.now())
    csrf = await _signed(client, "ani")
    sent = await client.post("/desk/broadcasts/new", data=_form(csrf))
    assert sent.status_code == 303
    assert sent.headers["location"] == "/desk/broadcasts/1?flash=broadcast_queued"
    rows = await _rows(db, OutboxMessage)
    assert [(row.recipient, row.text) for row in rows] == [
        (str(FIRST_CHAT_ID + n), f"Halo Pendaftar {n + 1} (PMK24-{n + 1:05d})") for n in range(3)
    ]
    page = await client.get(sent.headers["location"])
    assert "Siaran masuk antrean" in page.text and "Terkirim 0 dari 3" in page.text
    assert 'hx-trigger="every 2s"' in page.text  # polled while it goes
    assert ("desk:ani", "broadcast_created") in await _actions(db)
    listed = await client.get("/desk/broadcasts")
    assert "Siaran #1" in listed.text and "Semua" in listed.text


async def test_the_preview_counts_the_audience_and_fills_the_first_recipient(
    client: httpx.AsyncClient, db: Database, clock: FrozenClock
) -> None:
    await seed_applicants(db, 2, clock.now())
    await seed_applicants(db, 1, clock.now(), start=3, channel="whatsapp")
    csrf = await _signed(client, "ani")
    form = _form(csrf, audience="channel:whatsapp")
    preview = await client.post("/desk/broadcasts/preview", data=form)
    assert preview.status_code == 200
    assert re.search(r'class="number">1</strong>', preview.text)
    assert "Halo Pendaftar 3 (PMK24-00003)" in preview.text
    unknown = await client.post("/desk/broadcasts/preview", data=_form(csrf, audience="semua"))
    assert "Pilih penerima dari daftar" in unknown.text
    assert await _rows(db, Broadcast) == []  # a preview sends nothing


async def test_a_text_too_long_or_an_unpublished_stage_is_refused_and_nothing_sent(
    client: httpx.AsyncClient, db: Database, clock: FrozenClock, config: RecruitmentConfig
) -> None:
    await seed_applicants(db, 1, clock.now())
    csrf = await _signed(client, "ani")
    long = await client.post("/desk/broadcasts/new", data=_form(csrf, text="x" * 3501))
    assert long.status_code == 400 and "Pesan terlalu panjang: 3501 karakter" in long.text
    assert "x" * 3501 in long.text  # kept, to shorten
    async with db.transaction() as session:
        await set_result(session, config, 1, "1", "passed", None, "desk:ani", clock.now())
    passed = await client.post("/desk/broadcasts/new", data=_form(csrf, audience="passed:1"))
    assert passed.status_code == 400 and "Pilih penerima dari daftar" in passed.text
    assert "passed:1" not in (await client.get("/desk/broadcasts/new")).text
    assert await _rows(db, Broadcast) == []
    async with db.transaction() as session:
        await Publications(session).mark("1", "desk:ani", clock.now())
    assert 'value="passed:1"' in (await client.get("/desk/broadcasts/new")).text
    sent = await client.post("/desk/broadcasts/new", data=_form(csrf, audience="passed:1"))
    assert sent.status_code == 303 and len(await _rows(db, OutboxMessage)) == 1


async def test_a_later_send_is_kept_for_its_wib_moment_and_can_be_called_off(
    client: httpx.AsyncClient, db: Database, clock: FrozenClock
) -> None:
    csrf = await _signed(client, "ani")
    past = _form(csrf, when="later", send_at="2023-11-10T08:59")
    refused = await client.post("/desk/broadcasts/new", data=past)
    assert refused.status_code == 400 and "harus sesudah sekarang" in refused.text
    later = _form(csrf, when="later", send_at="2023-11-20T08:00", audience="incomplete")
    kept = await client.post("/desk/broadcasts/new", data=later)
    assert kept.headers["location"] == "/desk/broadcasts?flash=broadcast_scheduled"
    (scheduled,) = await _rows(db, ScheduledBroadcast)
    assert scheduled.send_at == datetime(2023, 11, 20, 1, 0, tzinfo=UTC)
    assert scheduled.audience == {"kind": "incomplete", "value": None}
    listed = (await client.get("/desk/broadcasts")).text
    assert "20 November 2023, 08.00 WIB" in listed and "Belum lengkap" in listed
    assert await _rows(db, Broadcast) == [] and await _rows(db, OutboxMessage) == []
    called_off = await client.post("/desk/broadcasts/scheduled/1/cancel", data={"csrf_token": csrf})
    assert called_off.headers["location"] == "/desk/broadcasts?flash=schedule_cancelled"
    (scheduled,) = await _rows(db, ScheduledBroadcast)
    assert scheduled.state == "cancelled"
    assert ("desk:ani", "broadcast_schedule_cancelled") in await _actions(db)
    again = await client.post("/desk/broadcasts/scheduled/1/cancel", data={"csrf_token": csrf})
    assert again.headers["location"] == "/desk/broadcasts?flash=schedule_gone"


async def test_cancelling_stops_what_is_not_sent(
    client: httpx.AsyncClient, db: Database, clock: FrozenClock
) -> None:
    csrf = await _sent_to_two(client, db, clock)
    await _settle(db, 1, "sent")
    stopped = await client.post("/desk/broadcasts/1/cancel", data={"csrf_token": csrf})
    assert stopped.headers["location"] == "/desk/broadcasts/1?flash=broadcast_cancelled"
    assert [row.state for row in await _rows(db, OutboxMessage)] == ["sent", "cancelled"]
    page = (await client.get("/desk/broadcasts/1")).text
    assert "dibatalkan" in page and "every 2s" not in page  # no longer polled
    assert (
        await client.post("/desk/broadcasts/9/cancel", data={"csrf_token": csrf})
    ).status_code == 404


async def test_failures_download_as_csv_never_cached_audited_and_not_for_a_viewer(
    client: httpx.AsyncClient, db: Database, clock: FrozenClock
) -> None:
    csrf = await _sent_to_two(client, db, clock)
    assert (await client.get("/desk/broadcasts/1/failures.csv")).status_code == 404  # none yet
    await _settle(db, 2, "unreachable", "Forbidden: bot was blocked by the user")
    assert "Unduh daftar yang gagal" in (await client.get("/desk/broadcasts/1")).text
    csv = await client.get("/desk/broadcasts/1/failures.csv")
    assert csv.status_code == 200 and csv.headers["cache-control"] == "no-store"
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.headers["content-disposition"] == 'attachment; filename="siaran-1-gagal.csv"'
    assert f"telegram,{FIRST_CHAT_ID + 1},unreachable,Forbidden" in csv.text
    assert ("desk:ani", "broadcast_failures_downloaded") in await _actions(db)
    await client.post("/desk/logout", data={"csrf_token": csrf})
    await sign_in(client, "vina")
    assert (await client.get("/desk/broadcasts/1/failures.csv")).status_code == 403
    assert "Unduh daftar yang gagal" not in (await client.get("/desk/broadcasts/1")).text


async def test_a_viewer_sees_broadcasts_but_cannot_send_cancel_or_answer(
    client: httpx.AsyncClient, db: Database, clock: FrozenClock
) -> None:
    await seed_applicants(db, 1, clock.now())
    csrf = await _signed(client, "vina")
    listed = await client.get("/desk/broadcasts")
    assert listed.status_code == 200 and "Siaran baru" not in listed.text
    assert (await client.get("/desk/broadcasts/new")).status_code == 403
    for path in ("/desk/broadcasts/new", "/desk/broadcasts/preview", "/desk/inbox/answer"):
        refused = await client.post(path, data=_form(csrf, kind="question", item_id="1"))
        assert refused.status_code == 403 and "Tidak diizinkan" in refused.text
    assert (await client.get("/desk/inbox")).status_code == 200
    assert await _rows(db, Broadcast) == [] and await _rows(db, OutboxMessage) == []
    assert (await _actions(db)).count(("desk:vina", "desk_refused")) == 4


async def test_every_action_without_its_csrf_token_is_refused(
    client: httpx.AsyncClient, db: Database, clock: FrozenClock
) -> None:
    await seed_applicants(db, 1, clock.now())
    csrf = await _signed(client, "ani")
    await client.post("/desk/broadcasts/new", data=_form(csrf, audience="complete"))
    paths = [
        "/desk/broadcasts/new",
        "/desk/broadcasts/preview",
        "/desk/broadcasts/1/cancel",
        "/desk/broadcasts/scheduled/1/cancel",
        "/desk/inbox/answer",
    ]
    for path in paths:
        refused = await client.post(path, data={"text": "Halo", "audience": "all"})
        assert refused.status_code == 403 and "Formulir tidak berlaku" in refused.text, path
    assert len(await _rows(db, OutboxMessage)) == 1
    assert (await _actions(db)).count(("desk:ani", "desk_refused")) == len(paths)


async def _question(db: Database, now: datetime, minutes: int, text: str) -> None:
    async with db.transaction() as session:
        await Questions(session).add(
            Question(
                applicant_id=1,
                channel="telegram",
                recipient=str(FIRST_CHAT_ID),
                language="id",
                text=text,
                created_at=now + timedelta(minutes=minutes),
                state="open",
            )
        )


async def test_a_reviewer_answers_a_question_and_it_moves_to_the_answered_tab(
    client: httpx.AsyncClient, db: Database, clock: FrozenClock
) -> None:
    await seed_applicants(db, 1, clock.now())
    await _question(db, clock.now(), 0, "Kapan tes dimulai?")
    await _question(db, clock.now(), 5, "Boleh pakai ijazah paket C?")
    csrf = await _signed(client, "rudi")
    page = (await client.get("/desk/inbox")).text
    assert page.index("paket C") < page.index("Kapan tes")  # newest first
    assert "Pendaftar 1" in page and "PMK24-00001" in page
    empty = await client.post(
        "/desk/inbox/answer",
        data={"csrf_token": csrf, "kind": "question", "item_id": "1", "answer": "  "},
    )
    assert empty.headers["location"] == "/desk/inbox?flash=inbox_answer_empty"
    answer = {
        "csrf_token": csrf,
        "kind": "question",
        "item_id": "1",
        "answer": "Tanggal 5 Desember.",
    }
    answered = await client.post("/desk/inbox/answer", data=answer)
    assert answered.headers["location"] == "/desk/inbox?flash=inbox_answered"
    (row,) = await _rows(db, OutboxMessage)
    assert row.recipient == str(FIRST_CHAT_ID) and "Tanggal 5 Desember." in row.text
    still_open = (await client.get("/desk/inbox")).text
    assert "paket C" in still_open and "Kapan tes" not in still_open
    done = (await client.get("/desk/inbox?tab=answered")).text
    assert "Kapan tes" in done and "Tanggal 5 Desember." in done and "desk:rudi" in done
    missing = await client.post("/desk/inbox/answer", data={**answer, "item_id": "99"})
    assert missing.headers["location"] == "/desk/inbox?flash=inbox_not_found"
    assert ("desk:rudi", "question_answered") in await _actions(db)


async def test_a_called_off_schedule_never_goes_out_on_either_database(
    any_db: Database, clock: FrozenClock, config: RecruitmentConfig
) -> None:
    await seed_applicants(any_db, 1, clock.now())
    async with any_db.transaction() as session:
        kept = await schedule_broadcast(
            session,
            text="Halo",
            audience=Audience("all"),
            send_at=clock.now() + timedelta(hours=1),
            created_by="desk:ani",
            now=clock.now(),
        )
    async with any_db.transaction() as session:
        assert await cancel_scheduled_broadcast(session, kept.id, "desk:ani", clock.now())
        assert not await cancel_scheduled_broadcast(session, kept.id, "desk:ani", clock.now())
    later = clock.now() + timedelta(hours=2)
    async with any_db.transaction() as session:
        assert await send_due_broadcasts(session, later, config.quiet_hours) == []
    assert await _rows(any_db, OutboxMessage) == []
