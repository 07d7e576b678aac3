"""Wiring: settings, recruitment config, database, clock and the conversation, built once."""

from __future__ import annotations

from dataclasses import dataclass

from bot.clock import Clock
from bot.recruitment import RecruitmentConfig, load_recruitment
from bot.settings import Settings
from handlers.catalog import Catalog
from handlers.conversation import Conversation, Dependencies
from storage.db import Database
from storage.files import FileStore


@dataclass
class App:
    """Everything a channel adapter needs, and the database to close at the end."""

    settings: Settings
    config: RecruitmentConfig
    db: Database
    conversation: Conversation

    async def close(self) -> None:
        """Release the database connections."""
        await self.db.dispose()


async def build_app(settings: Settings, clock: Clock | None = None) -> App:
    """Load the config, upgrade the schema and assemble the conversation."""
    config = load_recruitment(settings.recruitment_file)
    if clock is None:
        clock = Clock(config.tz, start_at=settings.clock_at)
    db = Database(settings.effective_database_url)
    await db.upgrade()
    deps = Dependencies(
        config=config,
        catalog=Catalog.load(),
        clock=clock,
        files=FileStore(settings.documents_dir),
        staff_identities=frozenset(settings.staff),
    )
    return App(settings=settings, config=config, db=db, conversation=Conversation(db, deps))
