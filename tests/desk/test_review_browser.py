"""The whole "ask to resend" path in a real browser: an applicant registers on Telegram (the
real python-telegram-bot adapter against the fake Bot API, the real conversation), a reviewer
signs in to the desk, opens the applicant, looks at the three documents and asks for the KTP
again with a reason; the delivery worker running beside the desk (as in `mitrabot serve`)
sends the notice, and the fake Bot API receives it in that applicant's chat."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from bot.app import App
from bot.settings import Settings
from bot.telegram import TelegramSender
from handlers.conversation import Conversation
from storage.repositories import Applicants, Audit
from tests.desk.live import LiveDesk
from tests.desk.test_browser import PHONE_WIDTH, sign_in
from tests.fakes.telegram_api import FakeBotApi
from tests.test_telegram_e2e import APPLICANT, SCRIPT, act, running_bot

pytestmark = pytest.mark.asyncio(loop_scope="session")
REASON = "Foto KTP buram, NIK tidak terbaca"


@asynccontextmanager
async def delivering(live: LiveDesk, sender: TelegramSender) -> AsyncIterator[None]:
    """The delivery worker as `mitrabot serve` runs it beside the desk (`App.delivery_worker`),
    sending Telegram's outbox through `sender`."""
    app = App(Settings(), live.deps.config, live.db, Conversation(live.db, live.deps))
    stop = asyncio.Event()
    running = asyncio.create_task(app.delivery_worker({"telegram": sender}).run(stop))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(running, 10)


async def test_asking_to_resend_the_ktp_reaches_the_applicants_telegram_chat(
    page: Any, live: LiveDesk
) -> None:
    async with FakeBotApi() as fake, running_bot(fake, live.db, live.deps) as bot:
        await act(fake, APPLICANT, "text", "/start", 2)
        for kind, value, replies in SCRIPT:
            await act(fake, APPLICANT, kind, value, replies)
        await fake.wait_until_idle()
        async with live.db.transaction() as session:
            applicant = await Applicants(session).by_registration_number("PMK24-00001")
            assert applicant is not None
            address = f"/desk/applicants/{applicant.id}"

        async with delivering(live, TelegramSender(bot.bot)):
            await sign_in(page, "rudi")
            await page.wait_for_url("**/desk/")
            await page.goto(address)
            assert await page.inner_text("h1") == "Siti Aminah"
            for kind in ("photo", "ktp"):  # the pictures load: served to this session
                picture = page.locator(f"[data-kind={kind}] img")
                await picture.wait_for()
                await page.wait_for_function(
                    "img => img.complete && img.naturalWidth > 0",
                    arg=await picture.element_handle(),
                )
            assert await page.inner_text("[data-kind=diploma] a.pdf") == "Buka PDF"
            width = await page.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE_WIDTH

            before = len(fake.messages_to(APPLICANT))
            ktp = page.locator("[data-kind=ktp]")
            await ktp.locator("summary").click()
            await ktp.locator("textarea[name=reason]").fill(REASON)
            await ktp.locator("button[type=submit]").click()
            await page.wait_for_url("**flash=resend_requested")
            assert "diantrekan ke chat pendaftar" in await page.inner_text("[role=status]")
            asked = await page.inner_text("[data-kind=ktp] .asked")
            assert asked == f"Diminta kirim ulang 10 November 2023, 09.00 WIB: {REASON}"

            (notice,) = (await fake.wait_for_messages(APPLICANT, before + 1))[before:]
        assert "mengirim ulang Kartu Tanda Penduduk (KTP)" in notice.text
        assert REASON in notice.text
        assert notice.callback_data == ["menu:documents"]

    async with live.db.transaction() as session:
        entries = [(e.actor, e.action, e.detail) for e in await Audit(session).recent()]
    viewed = {(who, d["kind"]) for who, what, d in entries if what == "document_viewed"}
    assert viewed == {("desk:rudi", "photo"), ("desk:rudi", "ktp")}  # the PDF: a link, not opened
    assert ("desk:rudi", "document_resend_requested") in [(w, a) for w, a, _ in entries]
