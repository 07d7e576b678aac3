"""Screenshots of the staff desk for the README: `python docs/screenshots.py` (after
`pip install -e ".[dev]"`; needs /usr/bin/chromium). It serves the real app on 127.0.0.1 with a
test database and a clock at 10 November 2023, 09:00 WIB, signs in as the test admin and saves
each page below as docs/desk-<name>.png at phone width. A later page adds a line to `SHOTS`
(and what its page shows to `SEEDS`)."""

from __future__ import annotations

import asyncio
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout: tests/ is not installed

from datetime import timedelta  # noqa: E402

from playwright.async_api import async_playwright  # noqa: E402
from sqlalchemy import update  # noqa: E402

from core.catalog import Catalog  # noqa: E402
from core.clock import FrozenClock  # noqa: E402
from core.recruitment import load_recruitment  # noqa: E402
from services.broadcasts import Audience, create_broadcast, schedule_broadcast  # noqa: E402
from services.inbox import ItemKind, answer_item  # noqa: E402
from storage.models import Broadcast, OutboxMessage, Question  # noqa: E402
from storage.questions import Questions  # noqa: E402
from storage.sobat import SobatReports  # noqa: E402
from tests.conftest import OPEN_DAY  # noqa: E402
from tests.desk.accounts import PASSWORD  # noqa: E402
from tests.desk.live import LiveDesk  # noqa: E402
from tests.seeding import seed_applicants  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
VIEWPORT = {"width": 390, "height": 844}
"""A common phone; the pages are tested at 360 px too."""


async def _sign_in(page: Any) -> None:
    await page.goto("/desk/login")
    await page.fill("input[name=login]", "ani")
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url("**/desk/")


async def _seed_messages(live: LiveDesk) -> None:
    """Applicants; a broadcast done, one going out, one scheduled; an inbox with a SOBAT
    report, a question, and one question answered."""
    now, config = live.clock.now(), load_recruitment()
    await seed_applicants(live.db, 12, now - timedelta(days=2))
    async with live.db.transaction() as session:
        done = await create_broadcast(
            session,
            text="Selamat pagi {nama}, pendaftaran mitra statistik sudah dibuka.",
            audience=Audience("all"),
            created_by="desk:ani",
            now=now - timedelta(days=1),
            quiet_hours=config.quiet_hours,
        )
        going = await create_broadcast(
            session,
            text="Halo {nama} ({nomor}), jangan lupa menyelesaikan pendaftaran di SOBAT.",
            audience=Audience("complete"),
            created_by="desk:ani",
            now=now,
            quiet_hours=config.quiet_hours,
        )
        await schedule_broadcast(
            session,
            text="Pengingat: tes kompetensi dimulai pukul 08.00 WIB. Bawa KTP asli.",
            audience=Audience("complete"),
            send_at=now + timedelta(days=3),
            created_by="desk:ani",
            now=now,
        )
        for broadcast_id, sent in ((done.id, 12), (going.id, 7)):
            rows = (OutboxMessage.broadcast_id == broadcast_id, OutboxMessage.applicant_id <= sent)
            await session.execute(update(OutboxMessage).where(*rows).values(state="sent"))
        await session.execute(
            update(Broadcast).where(Broadcast.id == done.id).values(state="done", finished_at=now)
        )
        await SobatReports(session).add(2, "activate", "E-mail aktivasi tidak masuk", now)
        questions = Questions(session)
        for minutes, applicant, text in (
            (-90, 3, "Apakah ijazah paket C boleh dipakai?"),
            (-30, 4, "Kapan pengumuman tahap 1?"),
        ):
            await questions.add(
                Question(
                    applicant_id=applicant,
                    channel="telegram",
                    recipient=str(5000 + applicant),
                    language="id",
                    text=text,
                    created_at=now + timedelta(minutes=minutes),
                    state="open",
                )
            )
        await answer_item(
            session,
            config,
            Catalog.load(),
            ItemKind.QUESTION,
            1,
            "Boleh, setara SMA.",
            "desk:rudi",
            now,
        )


async def _compose(page: Any) -> None:
    await page.goto("/desk/broadcasts/new")
    await page.fill("textarea[name=text]", "Halo {nama} ({nomor}), jadwal tes sudah terbit.")
    await page.select_option("select[name=audience]", "complete")
    await page.locator("#preview .bubble", has_text="Pendaftar 1").wait_for()


SEEDS: list[Callable[[LiveDesk], Awaitable[None]]] = [_seed_messages]
"""What the test database holds before the first shot."""

SHOTS: list[tuple[str, str | None, Callable[[Any], Awaitable[None]] | None]] = [
    ("login", "/desk/login", None),
    ("home", "/desk/", _sign_in),
    ("broadcasts", "/desk/broadcasts", None),
    ("broadcast-new", None, _compose),
    ("inbox", "/desk/inbox", None),
]
"""(name, address, what to do first): saved as docs/desk-<name>.png, in this order, in one
browser session (no address: the page the first step left open)."""


async def main() -> None:
    """Take every screenshot of `SHOTS`."""
    with tempfile.TemporaryDirectory() as folder:
        live = await LiveDesk(Path(folder), FrozenClock(OPEN_DAY)).start()
        try:
            for seed in SEEDS:
                await seed(live)
            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(executable_path=CHROMIUM)
                context = await browser.new_context(
                    base_url=live.url, viewport=VIEWPORT, device_scale_factor=2, locale="id-ID"
                )
                page = await context.new_page()
                for name, path, before in SHOTS:
                    if before is not None:
                        await before(page)
                    if path is not None:
                        await page.goto(path)
                    await page.wait_for_load_state("networkidle")  # htmx's first answers
                    target = ROOT / "docs" / f"desk-{name}.png"
                    await page.screenshot(path=str(target), full_page=True)
                    print(target.relative_to(ROOT))
                await browser.close()
        finally:
            await live.stop()


if __name__ == "__main__":
    asyncio.run(main())
