"""Screenshots of the staff desk for the README: `python docs/screenshots.py` (after
`pip install -e ".[dev]"`; needs /usr/bin/chromium). It serves the real app on 127.0.0.1 with a
test database and a clock at 10 November 2023, 09:00 WIB, signs in as the test admin and saves
each page below as docs/desk-<name>.png at phone width. A later page adds a line to `SHOTS`."""

from __future__ import annotations

import asyncio
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout: tests/ is not installed

from playwright.async_api import async_playwright  # noqa: E402

from core.clock import FrozenClock  # noqa: E402
from handlers.conversation import Conversation  # noqa: E402
from services.documents import request_resend  # noqa: E402
from services.results import set_result  # noqa: E402
from tests.chat import Chat  # noqa: E402
from tests.conftest import OPEN_DAY  # noqa: E402
from tests.desk.accounts import PASSWORD  # noqa: E402
from tests.desk.live import LiveDesk  # noqa: E402
from tests.seeding import seed_applicants  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
VIEWPORT = {"width": 390, "height": 844}
"""A common phone; the pages are tested at 360 px too."""


async def _sign_in(page: Any, live: LiveDesk) -> None:
    await page.goto("/desk/login")
    await page.fill("input[name=login]", "ani")
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url("**/desk/")


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


SHOTS: list[tuple[str, str | None, Callable[[Any, LiveDesk], Awaitable[None]] | None]] = [
    ("login", "/desk/login", None),
    ("home", "/desk/", _sign_in),
    ("review", "/desk/applicants/1", _reviewed_applicant),
    ("results-check", None, _results_checked),
    ("results", "/desk/results", _results_applied),
    ("results-publish", "/desk/results/publish/1", None),
]
"""(name, address, what to do first, given the page and the live desk): saved as
docs/desk-<name>.png, in this order, in one browser session (no address: the page the first
step ended on)."""


async def main() -> None:
    """Take every screenshot of `SHOTS`."""
    with tempfile.TemporaryDirectory() as folder:
        live = await LiveDesk(Path(folder), FrozenClock(OPEN_DAY)).start()
        try:
            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(executable_path=CHROMIUM)
                context = await browser.new_context(
                    base_url=live.url, viewport=VIEWPORT, device_scale_factor=2
                )
                page = await context.new_page()
                for name, path, before in SHOTS:
                    if before is not None:
                        await before(page, live)
                    if path is not None:
                        await page.goto(path)
                    target = ROOT / "docs" / f"desk-{name}.png"
                    await page.screenshot(path=str(target), full_page=True)
                    print(target.relative_to(ROOT))
                await browser.close()
        finally:
            await live.stop()


if __name__ == "__main__":
    asyncio.run(main())
