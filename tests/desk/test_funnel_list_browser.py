"""The funnel and the applicant list in a real browser (headless Chromium, 360 px wide) over a
seeded recruitment: the numbers are the database's, a number opens a list of that many people,
a NIK search stays out of the address, paging, the XLSX download, no sideways scrolling."""

from __future__ import annotations

import io
from typing import Any

import pytest
from openpyxl import load_workbook

from core.catalog import Catalog
from core.recruitment import load_recruitment
from services.desk_views import funnel
from storage.repositories import Applicants
from tests.desk.live import LiveDesk
from tests.desk.population import PEOPLE, nik_of, seed_population
from tests.desk.test_browser import PHONE_WIDTH, sign_in

pytestmark = pytest.mark.asyncio(loop_scope="session")
ROWS = "#applicant-rows tbody tr"


async def _signed_in_on(page: Any, live: LiveDesk, address: str, login: str = "rudi") -> None:
    await seed_population(live.db)
    await sign_in(page, login)
    await page.wait_for_url("**/desk/")
    await page.goto(address)


async def _total(page: Any) -> int:
    return int(await page.inner_text("#list-total strong"))


async def _shown(page: Any, step: str) -> int:
    return int(await page.inner_text(f"#funnel-steps tr[data-step='{step}'] a"))


async def test_the_funnel_shows_the_databases_numbers(page: Any, live: LiveDesk) -> None:
    await _signed_in_on(page, live, "/desk/funnel")
    async with live.db.transaction() as session:
        counted = await funnel(session, load_recruitment(), Catalog.load())
        everyone = await Applicants(session).count_all()
        registered = await Applicants(session).count_confirmed()
    shown = {step.step: await _shown(page, step.step) for step in counted}
    assert shown == {step.step: step.count for step in counted}
    assert (shown["started"], shown["registered"]) == (everyone, registered) == (PEOPLE, 65)
    assert await page.inner_text("#funnel-places tfoot td.number >> nth=0") == "65"
    await page.wait_for_selector("#steps-chart canvas")  # the chart was drawn
    await page.wait_for_selector("#days-chart canvas")


async def test_a_funnel_number_opens_the_list_of_that_many_people(
    page: Any, live: LiveDesk
) -> None:
    await _signed_in_on(page, live, "/desk/funnel")
    count = await _shown(page, "passed:2")
    await page.click("#funnel-steps tr[data-step='passed:2'] a")
    await page.wait_for_url("**/desk/applicants?v=*")
    assert await _total(page) == count
    assert await page.locator(ROWS).count() == count  # fewer than a page
    assert await page.input_value("select[name=step]") == "passed:2"


async def test_a_nik_search_finds_the_person_and_keeps_the_nik_out_of_the_address(
    page: Any, live: LiveDesk
) -> None:
    await _signed_in_on(page, live, "/desk/applicants")
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    await page.fill("input[name=search]", nik_of(40))
    await page.click("#filters button[type=submit]")
    await page.wait_for_url("**/desk/applicants?v=*")
    assert await _total(page) == 1
    assert await page.get_attribute(f"{ROWS} a", "href") == "/desk/applicants/40"
    assert await page.input_value("input[name=search]") == nik_of(40)  # kept for the form
    assert requested and not any(nik_of(40) in url for url in requested)


async def _linked(page: Any) -> set[str | None]:
    """The review pages the rows on this page link to."""
    links = page.locator(f"{ROWS} td:first-child a")
    return {await link.get_attribute("href") for link in await links.all()}


async def test_paging_through_the_list(page: Any, live: LiveDesk) -> None:
    await _signed_in_on(page, live, "/desk/applicants")
    assert await _total(page) == PEOPLE
    first = await _linked(page)
    await page.click("text=Berikutnya")
    await page.wait_for_url("**/desk/applicants?page=2")
    second = await _linked(page)
    await page.click("text=Berikutnya")
    await page.wait_for_url("**/desk/applicants?page=3")
    third = await _linked(page)
    assert (len(first), len(second), len(third)) == (50, 50, PEOPLE - 100)
    assert len(first | second | third) == PEOPLE  # each person once
    assert "halaman 3 dari 3" in await page.inner_text("#list-total")
    assert await page.locator("text=Berikutnya").count() == 0


async def test_export_downloads_the_views_rows_as_xlsx(page: Any, live: LiveDesk) -> None:
    await _signed_in_on(page, live, "/desk/funnel")
    count = await _shown(page, "registered")
    await page.click("#funnel-steps tr[data-step='registered'] a")
    await page.wait_for_url("**/desk/applicants?v=*")
    async with page.expect_download() as downloading:
        await page.click("text=Unduh XLSX")
    download = await downloading.value
    assert download.suggested_filename.endswith(".xlsx")
    sheet = load_workbook(io.BytesIO((await download.path()).read_bytes())).active
    numbers = [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert len(numbers) == count and all(numbers)  # every registered one has a number


async def test_funnel_and_list_fit_a_360_px_phone(page: Any, live: LiveDesk) -> None:
    await _signed_in_on(page, live, "/desk/funnel")
    assert page.viewport_size["width"] == PHONE_WIDTH
    await page.click("text=Angka per hari")
    assert await page.evaluate("document.scrollingElement.scrollWidth") <= PHONE_WIDTH
    await page.goto("/desk/applicants")
    await page.click("text=Saring")
    assert await page.evaluate("document.scrollingElement.scrollWidth") <= PHONE_WIDTH
