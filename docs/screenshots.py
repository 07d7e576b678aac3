"""Screenshots of the staff desk for the README: `python docs/screenshots.py` (after
`pip install -e ".[dev]"`; needs /usr/bin/chromium). It serves the real app on 127.0.0.1 with a
test database (the applicants of tests/desk/population.py) and a clock at 10 November 2023,
09:00 WIB, signs in as the test admin and saves each page below as docs/desk-<name>.png at
phone width. A later page adds a line to `SHOTS`."""

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
from tests.conftest import OPEN_DAY  # noqa: E402
from tests.desk.accounts import PASSWORD  # noqa: E402
from tests.desk.live import LiveDesk  # noqa: E402
from tests.desk.population import seed_population  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
VIEWPORT = {"width": 390, "height": 844}
"""A common phone; the pages are tested at 360 px too."""


async def _sign_in(page: Any) -> None:
    await page.goto("/desk/login")
    await page.fill("input[name=login]", "ani")
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url("**/desk/")


async def _filtered_list(page: Any) -> None:
    """The list with filters open: candidate partners on SOBAT, by name."""
    await page.goto("/desk/applicants")
    await page.click("text=Saring")
    await page.select_option("select[name=step]", "passed:final")
    await page.select_option("select[name=sobat]", "enrolled")
    await page.select_option("select[name=sort]", "name")
    await page.click("#filters button[type=submit]")
    await page.wait_for_url("**/desk/applicants?v=*")


SHOTS: list[tuple[str, str, Callable[[Any], Awaitable[None]] | None]] = [
    ("login", "/desk/login", None),
    ("home", "/desk/", _sign_in),
    ("funnel", "/desk/funnel", None),
    ("applicants", "", _filtered_list),
]
"""(name, address, what to do first): saved as docs/desk-<name>.png, in this order, in one
browser session ("" as the address: where what was done first left the page)."""


async def main() -> None:
    """Take every screenshot of `SHOTS`."""
    with tempfile.TemporaryDirectory() as folder:
        live = await LiveDesk(Path(folder), FrozenClock(OPEN_DAY)).start()
        await seed_population(live.db)
        try:
            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(executable_path=CHROMIUM)
                context = await browser.new_context(
                    base_url=live.url, viewport=VIEWPORT, device_scale_factor=2
                )
                page = await context.new_page()
                for name, path, before in SHOTS:
                    if before is not None:
                        await before(page)
                    if path:
                        await page.goto(path)
                    target = ROOT / "docs" / f"desk-{name}.png"
                    await page.screenshot(path=str(target), full_page=True)
                    print(target.relative_to(ROOT))
                await browser.close()
        finally:
            await live.stop()


if __name__ == "__main__":
    asyncio.run(main())
