"""Fixtures of the desk tests: the app over httpx (no browser), and the app under uvicorn with
one headless Chromium per test session (the system's /usr/bin/chromium, driven by Playwright).

Without that browser the browser tests are skipped with the reason, except under CI=true, where
they fail: CI must run them (`.ci/run` installs Debian's chromium when it is missing)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from starlette.applications import Starlette

from bot.desk import DeskDeps
from bot.web import build_web_app
from core.clock import FrozenClock
from handlers.flow import Dependencies
from storage.db import Database
from tests.conftest import OPEN_DAY
from tests.desk.accounts import seed_accounts
from tests.desk.live import LiveDesk

CHROMIUM = Path(os.environ.get("MITRABOT_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_FOUND = CHROMIUM.exists()


@pytest.fixture
def desk_deps(db: Database, deps: Dependencies) -> DeskDeps:
    return DeskDeps(db, deps)


@pytest.fixture
async def desk_app(db: Database, desk_deps: DeskDeps, clock: FrozenClock) -> Starlette:
    """The web app with the desk, on a database with the three test accounts."""
    await seed_accounts(db, clock.now())
    return build_web_app(db, now=clock.now, desk=desk_deps)


@pytest.fixture
async def client(desk_app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """A browser-like client of the desk (keeps cookies), over plain http."""
    transport = httpx.ASGITransport(app=desk_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://desk.test") as http:
        yield http


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser() -> AsyncIterator[Any]:
    """One headless Chromium for the whole test session (tests using it run on the session's
    event loop: `pytestmark = pytest.mark.asyncio(loop_scope="session")`)."""
    reason = None
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        reason = "playwright is not installed (pip install -e '.[dev]')"
    if reason is None and not CHROMIUM_FOUND:
        reason = f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the desk's browser tests must run under CI: {reason}")
        pytest.skip(reason)
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=str(CHROMIUM))
        yield chromium
        await chromium.close()


@pytest_asyncio.fixture(loop_scope="session")
async def live(tmp_path: Path) -> AsyncIterator[LiveDesk]:
    """The real app under uvicorn, its clock frozen at the first open day, 09:00 WIB."""
    desk = await LiveDesk(tmp_path, FrozenClock(OPEN_DAY)).start()
    yield desk
    await desk.stop()


@pytest_asyncio.fixture(loop_scope="session")
async def page(browser: Any, live: LiveDesk) -> AsyncIterator[Any]:
    """A fresh browser context (no cookies) with a phone-sized window, on the live desk."""
    context = await browser.new_context(base_url=live.url, viewport={"width": 360, "height": 740})
    context.set_default_timeout(10_000)
    yield await context.new_page()
    await context.close()
