"""Screenshots of the staff desk for the README: `python docs/screenshots.py` (after
`pip install -e ".[dev]"`; needs /usr/bin/chromium). It serves the real app on 127.0.0.1 with a
test database and a clock at 10 November 2023, 09:00 WIB, signs in as the test admin and saves
each page below as docs/desk-<name>.png at phone width. Each group of `GROUPS` starts from its
own fresh database with its own example data; a new page adds a shot to a group (or a group)."""

from __future__ import annotations

import asyncio
import sys
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout: tests/ is not installed

from playwright.async_api import async_playwright  # noqa: E402
from sqlalchemy import update  # noqa: E402

from core.catalog import Catalog  # noqa: E402
from core.clock import FrozenClock  # noqa: E402
from core.recruitment import load_recruitment  # noqa: E402
from handlers.conversation import Conversation  # noqa: E402
from services.broadcasts import Audience, create_broadcast, schedule_broadcast  # noqa: E402
from services.documents import request_resend  # noqa: E402
from services.inbox import ItemKind, answer_item  # noqa: E402
from services.results import set_result  # noqa: E402
from storage.models import Broadcast, OutboxMessage, Question  # noqa: E402
from storage.questions import Questions  # noqa: E402
from storage.sobat import SobatReports  # noqa: E402
from tests.chat import Chat  # noqa: E402
from tests.conftest import OPEN_DAY  # noqa: E402
from tests.desk.accounts import PASSWORD  # noqa: E402
from tests.desk.live import LiveDesk  # noqa: E402
from tests.desk.population import seed_population  # noqa: E402
from tests.seeding import seed_applicants  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
VIEWPORT = {"width": 390, "height": 844}
"""A common phone; the pages are tested at 360 px too."""

Step = Callable[[Any, LiveDesk], Awaitable[None]]


async def _sign_in(page: Any, live: LiveDesk) -> None:
    await page.goto("/desk/login")
    await page.fill("input[name=login]", "ani")
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url("**/desk/")


async def _population(live: LiveDesk) -> None:
    await seed_population(live.db)


async def _filtered_list(page: Any, live: LiveDesk) -> None:
    """The list with filters open: candidate partners on SOBAT, by name."""
    await page.goto("/desk/applicants")
    await page.click("text=Saring")
    await page.select_option("select[name=step]", "passed:final")
    await page.select_option("select[name=sobat]", "enrolled")
    await page.select_option("select[name=sort]", "name")
    await page.click("#filters button[type=submit]")
    await page.wait_for_url("**/desk/applicants?v=*")


async def _reviewed_applicant(page: Any, live: LiveDesk) -> None:
    """Applicant 1: registered in the chat, two SOBAT steps done, the KTP asked again, stage 1
    passed with a note."""
    chat = Chat(Conversation(live.db, live.deps), user_id="5001")
    await chat.register()
    await chat.press("sb:path:new")
    await chat.send("siti.aminah@example.com")
    for _ in range(2):
        await chat.press("sb:done")
    deps, now = live.deps, live.clock.now()
    async with live.db.transaction() as session:
        reason = "Foto KTP buram, NIK tidak terbaca"
        await request_resend(session, deps.config, deps.catalog, 1, "ktp", reason, "desk:ani", now)
        await set_result(session, deps.config, 1, "1", "passed", "Berkas lengkap", "desk:ani", now)


RESULTS = "No. Registrasi;Nama;Hasil;Catatan\n" + "".join(
    f"PMK24-{n:05d};Pendaftar {n};{'tidak lulus' if n % 4 == 0 else 'lulus'};\n"
    for n in range(11, 21)
)
"""A stage-1 results file for the ten seeded applicants (11-20: 1 registered in the chat)."""


async def _upload(page: Any, content: str) -> None:
    await page.goto("/desk/results")
    await page.set_input_files(
        "input[name=file]",
        {"name": "hasil-tahap1.csv", "mimeType": "text/csv", "buffer": content.encode()},
    )
    await page.click("text=Periksa berkas")
    await page.wait_for_url("**/desk/results/import/*")


async def _results_checked(page: Any, live: LiveDesk) -> None:
    """Ten applicants, and a file with a result nobody can read and a stranger's number."""
    await seed_applicants(live.db, 10, live.clock.now(), start=11)
    checked = RESULTS.replace("Pendaftar 13;lulus", "Pendaftar 13;mungkin")
    await _upload(page, checked + "PMK24-00099;Orang Lain;lulus;\n")


async def _results_applied(page: Any, live: LiveDesk) -> None:
    await _upload(page, RESULTS)
    await page.click("form[action$='/apply'] button")
    await page.wait_for_url("**/desk/results?flash=results_imported")


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


async def _compose(page: Any, live: LiveDesk) -> None:
    await page.goto("/desk/broadcasts/new")
    await page.fill("textarea[name=text]", "Halo {nama} ({nomor}), jadwal tes sudah terbit.")
    await page.select_option("select[name=audience]", "complete")
    await page.locator("#preview .bubble", has_text="Pendaftar 1").wait_for()


@dataclass
class Group:
    """Shots taken in one browser session over one fresh database."""

    shots: list[tuple[str, str | None, Step | None]]
    """(name, address, what to do first): saved as docs/desk-<name>.png, in this order (no
    address: the page the step left open)."""
    seeds: list[Callable[[LiveDesk], Awaitable[None]]] = field(default_factory=list)
    """What the database holds before the first shot."""
    signed_in: bool = True
    """Sign in as the test admin before the first shot."""


GROUPS = [
    Group(
        [
            ("login", "/desk/login", None),
            ("home", "/desk/", _sign_in),
            ("funnel", "/desk/funnel", None),
            ("applicants", None, _filtered_list),
        ],
        [_population],
        signed_in=False,
    ),
    Group(
        [
            ("review", "/desk/applicants/1", _reviewed_applicant),
            ("results-check", None, _results_checked),
            ("results", "/desk/results", _results_applied),
            ("results-publish", "/desk/results/publish/1", None),
        ]
    ),
    Group(
        [
            ("broadcasts", "/desk/broadcasts", None),
            ("broadcast-new", None, _compose),
            ("inbox", "/desk/inbox", None),
        ],
        [_seed_messages],
    ),
]


async def _take(group: Group, browser: Any) -> None:
    with tempfile.TemporaryDirectory() as folder:
        live = await LiveDesk(Path(folder), FrozenClock(OPEN_DAY)).start()
        try:
            for seed in group.seeds:
                await seed(live)
            context = await browser.new_context(
                base_url=live.url, viewport=VIEWPORT, device_scale_factor=2, locale="id-ID"
            )
            page = await context.new_page()
            if group.signed_in:
                await _sign_in(page, live)
            for name, path, before in group.shots:
                if before is not None:
                    await before(page, live)
                if path is not None:
                    await page.goto(path)
                await page.wait_for_load_state("networkidle")  # htmx's first answers
                target = ROOT / "docs" / f"desk-{name}.png"
                await page.screenshot(path=str(target), full_page=True)
                print(target.relative_to(ROOT))
            await context.close()
        finally:
            await live.stop()


async def main() -> None:
    """Take every screenshot of `GROUPS`."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM)
        for group in GROUPS:
            await _take(group, browser)
        await browser.close()


if __name__ == "__main__":
    asyncio.run(main())
