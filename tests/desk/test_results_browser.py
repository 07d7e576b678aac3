"""The results page in a real browser (headless Chromium, 360 px): an admin uploads a CSV,
reads the dry run (its rows, a problem row), applies it, previews and publishes the stage; the
notices leave through the outbox and a delivery worker brings one to the applicant's chat on a
fake Bot API. A viewer gets no upload form and is refused when forcing a publication."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import select
from telegram import Bot

from bot.telegram import TelegramSender
from core.recruitment import load_recruitment
from scheduler.delivery import ChannelLimits, DeliveryWorker
from storage.files import FileStore
from storage.models import DeskUpload, OutboxMessage, StageResult
from tests.desk.live import LiveDesk
from tests.desk.test_browser import PHONE_WIDTH, sign_in
from tests.desk.test_results import CSV, FIXED
from tests.fakes.telegram_api import FakeBotApi
from tests.seeding import FIRST_CHAT_ID, seed_applicants

pytestmark = pytest.mark.asyncio(loop_scope="session")
DRAINS = 20
"""Rounds a test lets the delivery worker take before it fails."""


@pytest_asyncio.fixture(loop_scope="session")
async def fake() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi() as server:
        for n in range(3):  # the seeded applicants' chats: they pressed Start once
            server.add_user(FIRST_CHAT_ID + n)
        yield server


async def _rows(live: LiveDesk, model: type) -> list[Any]:
    async with live.db.transaction() as session:
        return list((await session.execute(select(model))).scalars())


async def _upload(page: Any, content: bytes) -> None:
    await page.goto("/desk/results")
    await page.select_option("select[name=stage]", "1")
    await page.set_input_files(
        "input[name=file]", {"name": "tahap1.csv", "mimeType": "text/csv", "buffer": content}
    )
    await page.click("text=Periksa berkas")
    await page.wait_for_url("**/desk/results/import/*")


async def _deliver(live: LiveDesk, fake: FakeBotApi, folder: Path) -> int:
    """Run a delivery worker over the live database until the queue is empty."""
    config = load_recruitment()
    async with Bot(fake.token, base_url=fake.base_url, base_file_url=fake.base_file_url) as bot:
        worker = DeliveryWorker(
            live.db,
            {"telegram": TelegramSender(bot)},
            {"telegram": ChannelLimits(rate=100, per_chat=100)},
            live.clock,
            config.quiet_hours,
            FileStore(folder),
            name="desk-test",
            idle_wait=0.05,
            retry_base=0.01,
        )
        sent = 0
        for _ in range(DRAINS):
            handled = await worker.drain_once()
            if not handled:
                break
            sent += handled
    return sent


async def test_an_admin_uploads_checks_applies_and_publishes_a_stage(
    page: Any, live: LiveDesk, fake: FakeBotApi, tmp_path: Path
) -> None:
    await seed_applicants(live.db, 3, live.clock.now())
    await sign_in(page, "ani")
    await page.wait_for_url("**/desk/")
    await page.click("nav.sections >> text=Hasil seleksi")
    await page.wait_for_url("**/desk/results")

    await _upload(page, CSV)
    summary = await page.inner_text("#summary")
    assert "akan berubah: 2 · sudah sama: 0 · bermasalah: 1 · tidak dikenal: 1" in summary
    rows = page.locator("#report tbody tr")
    assert await rows.count() == 4
    problem = await page.inner_text("#report tr.status-problem")
    assert "PMK24-00003" in problem and 'nilai hasil "mungkin" tidak dikenal' in problem
    assert "Belum bisa diterapkan" in await page.inner_text("main")
    assert await page.locator("form[action$='/apply']").count() == 0
    assert await page.evaluate("document.scrollingElement.scrollWidth") <= PHONE_WIDTH

    await _upload(page, FIXED)
    await page.click("text=Terapkan 2 perubahan, lewati 1 yang tidak dikenal")
    await page.wait_for_url("**/desk/results?flash=results_imported")
    assert "Hasil dari berkas tercatat" in await page.inner_text("[role=status]")
    first = page.locator("#stages tbody tr").first
    assert await first.locator("td").all_inner_texts() == ["1", "1", "0", "belum"]
    recorded = {(r.applicant_id, r.outcome) for r in await _rows(live, StageResult)}
    assert recorded == {(1, "passed"), (2, "not_passed")}
    assert await _rows(live, DeskUpload) == []

    await first.locator("a").click()
    await page.wait_for_url("**/desk/results/publish/1")
    assert await page.inner_text("#to-tell") == "2"
    assert "Mohon maaf, Anda tidak lulus Tahap 1" in await page.inner_text("main")
    assert await page.evaluate("document.scrollingElement.scrollWidth") <= PHONE_WIDTH
    await page.click("text=Umumkan (2 pesan)")
    await page.wait_for_url("**/desk/results/publish/1?flash=results_published")
    assert await page.inner_text("#to-tell") == "0"
    outbox = await _rows(live, OutboxMessage)
    assert sorted(row.recipient for row in outbox) == [str(FIRST_CHAT_ID), str(FIRST_CHAT_ID + 1)]

    assert await _deliver(live, fake, tmp_path / "documents") == 2
    (told,) = fake.messages_to(FIRST_CHAT_ID)
    assert "Selamat, Anda LULUS Tahap 1 Seleksi Administrasi" in told.text
    (sorry,) = fake.messages_to(FIRST_CHAT_ID + 1)
    assert "tidak lulus" in sorry.text and "KTP buram" in sorry.text


FORCED_PUBLISH = """() => {
    const form = document.createElement('form');
    form.method = 'post';
    form.action = '/desk/results/publish/1';
    form.append(document.querySelector('input[name=csrf_token]').cloneNode());
    document.body.append(form);
    form.submit();
}"""
"""What a viewer could make the browser send: the admin's form, with the viewer's own token."""


async def test_a_viewer_sees_results_but_cannot_upload_or_publish(
    page: Any, live: LiveDesk
) -> None:
    await seed_applicants(live.db, 3, live.clock.now())
    await sign_in(page, "vina")
    await page.wait_for_url("**/desk/")
    await page.goto("/desk/results")
    assert await page.locator("input[type=file]").count() == 0
    await page.goto("/desk/results/publish/1")
    assert await page.locator("form[action='/desk/results/publish/1']").count() == 0
    async with page.expect_navigation() as sent:
        await page.evaluate(FORCED_PUBLISH)
    assert (await sent.value).status == 403
    assert await page.inner_text("h1") == "Tidak diizinkan"
    assert await _rows(live, OutboxMessage) == []
