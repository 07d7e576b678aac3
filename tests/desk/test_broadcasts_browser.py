"""Broadcasts and the inbox in a real browser (headless Chromium, 360 px wide), with a delivery
worker sending through the fake Telegram Bot API: compose, count, preview, send, watch the
progress bar reach 100 %; answer a question and see the answer arrive in the applicant's chat."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from telegram import Bot

from bot.telegram import TelegramSender
from core.catalog import Catalog
from core.clock import FrozenClock
from core.recruitment import load_recruitment
from scheduler.delivery import ChannelLimits, DeliveryWorker
from scheduler.progress import BroadcastProgress
from storage.files import FileStore
from storage.models import Question
from storage.questions import Questions
from tests.conftest import OPEN_DAY
from tests.desk.live import LiveDesk
from tests.desk.test_browser import PHONE_WIDTH, sign_in
from tests.fakes.telegram_api import FakeBotApi
from tests.seeding import FIRST_CHAT_ID, seed_applicants

pytestmark = pytest.mark.asyncio(loop_scope="session")
FOUND = 15_000
"""How long the browser waits for what a delivery round shows (ms)."""


@pytest_asyncio.fixture(loop_scope="session")
async def bot_api() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi() as fake:
        yield fake


@asynccontextmanager
async def delivering(live: LiveDesk, fake: FakeBotApi, folder: Path) -> AsyncIterator[None]:
    """A delivery worker on the desk's database, sending Telegram through the fake Bot API
    (on a clock of its own, so its waits never move the desk's)."""
    bot = Bot(fake.token, base_url=fake.base_url, base_file_url=fake.base_file_url)
    async with bot:
        senders = {"telegram": TelegramSender(bot)}
        clock = FrozenClock(OPEN_DAY)
        files = FileStore(folder / "documents")
        progress = BroadcastProgress(live.db, senders, Catalog.load(), clock, files, every=0)
        worker = DeliveryWorker(
            live.db,
            senders,
            {"telegram": ChannelLimits(rate=100, per_chat=100)},
            clock,
            load_recruitment().quiet_hours,
            files,
            idle_wait=0.05,
            report=progress,
        )
        stop = asyncio.Event()
        running = asyncio.create_task(worker.run(stop))
        try:
            yield
        finally:
            stop.set()
            await running


async def _fits_the_phone(page: Any) -> None:
    assert await page.evaluate("document.scrollingElement.scrollWidth") <= PHONE_WIDTH


async def test_compose_count_preview_send_and_watch_the_progress_reach_100(
    page: Any, live: LiveDesk, bot_api: FakeBotApi, tmp_path: Path
) -> None:
    chats = await seed_applicants(live.db, 3, live.clock.now())
    for chat in chats:
        bot_api.add_user(int(chat))
    await sign_in(page, "ani")
    await page.wait_for_url("**/desk/")
    await page.click("nav.sections >> text=Siaran")
    await page.click("text=Siaran baru")
    await page.fill("textarea[name=text]", "Halo {nama}, nomor Anda {nomor}.")
    await page.select_option("select[name=audience]", "complete")
    preview = page.locator("#preview .bubble")
    await preview.filter(has_text="Halo Pendaftar 1, nomor Anda PMK24-00001.").wait_for()
    assert await page.inner_text("#preview .count .number") == "3"
    await _fits_the_phone(page)

    await page.click("button:has-text('Kirim siaran')")
    await page.wait_for_url("**/desk/broadcasts/1?flash=broadcast_queued")
    assert await page.inner_text(".percent") == "0 %"  # nothing sent before a worker runs
    async with delivering(live, bot_api, tmp_path):
        await page.locator(".percent", has_text="100 %").wait_for(timeout=FOUND)
    assert await page.inner_text(".progress .state") == "selesai"
    assert "Terkirim 3 dari 3" in await page.inner_text(".progress .counts")
    assert await page.locator(".progress progress").get_attribute("value") == "100"
    sent = sorted((m.chat_id, m.text) for m in bot_api.sent if m.method == "sendMessage")
    assert sent == [
        (FIRST_CHAT_ID + n, f"Halo Pendaftar {n + 1}, nomor Anda PMK24-0000{n + 1}.")
        for n in range(3)
    ]
    await _fits_the_phone(page)


async def test_answering_a_question_reaches_the_applicants_chat(
    page: Any, live: LiveDesk, bot_api: FakeBotApi, tmp_path: Path
) -> None:
    (chat,) = await seed_applicants(live.db, 1, live.clock.now())
    bot_api.add_user(int(chat))
    async with live.db.transaction() as session:
        question = Question(
            applicant_id=1,
            channel="telegram",
            recipient=chat,
            language="id",
            text="Apakah ijazah paket C boleh dipakai?",
            created_at=live.clock.now(),
            state="open",
        )
        await Questions(session).add(question)
    await sign_in(page, "rudi")
    await page.wait_for_url("**/desk/")
    await page.click("nav.sections >> text=Kotak masuk")
    item = page.locator("article", has_text="ijazah paket C")
    await item.locator("textarea[name=answer]").fill("Boleh, paket C setara SMA.")
    await item.locator("button:has-text('Kirim jawaban')").click()
    await page.wait_for_url("**/desk/inbox?flash=inbox_answered")
    assert "ijazah paket C" not in await page.inner_text("main")  # no longer open
    async with delivering(live, bot_api, tmp_path):
        (answer,) = await bot_api.wait_for_messages(int(chat), 1, timeout=FOUND / 1000)
    assert "Boleh, paket C setara SMA." in answer.text
    await page.click("text=Sudah dijawab")
    answered = page.locator("article", has_text="ijazah paket C")
    assert "Dijawab oleh desk:rudi" in await answered.inner_text()
    await _fits_the_phone(page)


async def test_a_viewer_cannot_open_the_compose_form(page: Any) -> None:
    await sign_in(page, "vina")
    await page.wait_for_url("**/desk/")
    await page.goto("/desk/broadcasts")
    assert await page.locator("text=Siaran baru").count() == 0  # not offered
    refused = await page.goto("/desk/broadcasts/new")
    assert refused.status == 403
    assert await page.inner_text("h1") == "Tidak diizinkan"
