"""The real web app with the staff desk, served by uvicorn on 127.0.0.1 (a free port) in the
running event loop: a temporary SQLite database, a frozen clock, the three test accounts. The
browser tests drive it (Playwright's async API in the same loop), and so does
docs/screenshots.py."""

from __future__ import annotations

from pathlib import Path

from bot.desk import DeskDeps
from bot.web import build_web_app
from core.catalog import Catalog
from core.clock import FrozenClock
from core.recruitment import load_recruitment
from handlers.flow import Dependencies
from storage.db import Database
from storage.files import FileStore
from tests.desk.accounts import seed_accounts
from tests.fakes.loopback import LoopbackServer


class LiveDesk:
    """`await start()` serves the app at `url`; `db` is its database, `deps` what its turns
    read (config, catalog, clock, files); `await stop()` ends it."""

    def __init__(self, folder: Path, clock: FrozenClock) -> None:
        self.clock = clock
        self.db = Database(f"sqlite+aiosqlite:///{folder / 'desk.db'}")
        self.deps = Dependencies(
            config=load_recruitment(),
            catalog=Catalog.load(),
            clock=clock,
            files=FileStore(folder / "documents"),
        )
        app = build_web_app(self.db, now=clock.now, desk=DeskDeps(self.db, self.deps))
        self.server = LoopbackServer(app, "desk")
        self.url = ""

    async def start(self) -> LiveDesk:
        """Create the schema and the accounts, then serve; returns itself."""
        await self.db.upgrade()
        await seed_accounts(self.db, self.clock.now())
        self.url = f"http://127.0.0.1:{await self.server.start()}"
        return self

    async def stop(self) -> None:
        """Stop serving and close the database."""
        try:
            await self.server.stop()
        finally:
            await self.db.dispose()
