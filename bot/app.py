"""Wiring: settings, recruitment config, database, clock and the conversation, built once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from bot.settings import Settings
from core.catalog import Catalog
from core.clock import Clock
from core.observer import NO_OBSERVER
from core.recruitment import RecruitmentConfig, load_recruitment
from handlers.conversation import Conversation
from handlers.flow import Dependencies
from scheduler.delivery import (
    ChannelLimits,
    DeliveryWorker,
    Sender,
    SendObserver,
    TurnDelivery,
)
from scheduler.jobs import Jobs
from scheduler.progress import BroadcastProgress
from services.desk_sessions import SessionPolicy
from storage.db import Database
from storage.files import FileStore

if TYPE_CHECKING:
    from bot.desk import DeskDeps
    from bot.metrics import Metrics

TERMINAL_LIMITS = ChannelLimits(rate=100.0, per_chat=10.0)
"""A screen has no platform limit; a little spacing keeps a burst readable."""


@dataclass
class App:
    """Everything a channel adapter needs, and the database to close at the end."""

    settings: Settings
    config: RecruitmentConfig
    db: Database
    conversation: Conversation
    metrics: Metrics | None = None
    """This process's metrics when it serves them (`serve`; `worker` with a metrics port):
    `build_app` makes them the conversation's and the jobs' observer too."""

    def delivery_worker(
        self,
        senders: dict[str, Sender],
        name: str | None = None,
        recipient: str | None = None,
        observe: SendObserver | None = None,
    ) -> DeliveryWorker:
        """A delivery worker for these senders, with the configured limits and quiet hours.

        Without `recipient` it sends a channel only while it holds that channel's lock (one
        sending worker per platform). With `recipient` it sends only the messages to that chat
        and takes no lock: a terminal session delivers its own user's messages, and sessions of
        other users may run at the same time.
        """
        settings = self.settings
        deps = self.conversation.deps
        limits = {
            "telegram": ChannelLimits(settings.telegram_rate, settings.telegram_chat_rate),
            "whatsapp": ChannelLimits(settings.whatsapp_rate, settings.whatsapp_chat_rate),
            "terminal": TERMINAL_LIMITS,
        }
        progress = BroadcastProgress(self.db, senders, deps.catalog, deps.clock, deps.files)
        return DeliveryWorker(
            self.db,
            senders,
            {c: limits[c] for c in senders if c in limits},
            deps.clock,
            self.config.quiet_hours,
            deps.files,
            name=name,
            lease=timedelta(seconds=settings.delivery_lease_seconds),
            concurrency=settings.delivery_concurrency,
            report=progress,
            exclusive=recipient is None,
            recipient=recipient,
            observe=observe,
            stop_grace=settings.stop_grace_seconds,
            shards=settings.delivery_shards,
        )

    def turn_delivery(self, senders: dict[str, Sender]) -> TurnDelivery:
        """What sends a turn's replies at once from the process that handled it."""
        deps = self.conversation.deps
        lease = timedelta(seconds=self.settings.delivery_lease_seconds)
        return TurnDelivery(self.db, senders, deps.clock, deps.files, lease=lease)

    def jobs(self) -> Jobs:
        """The scheduled jobs of this recruitment (reminders, announcements)."""
        deps = self.conversation.deps
        return Jobs(
            self.db,
            self.config,
            deps.catalog,
            deps.clock,
            deps.staff_identities,
            files=deps.files,
            observer=deps.observer,
        )

    def desk(self) -> DeskDeps:
        """What the staff desk needs, with the session lengths and cookie flag of the settings."""
        from bot.desk import DeskDeps  # the web server's imports, only where the desk is served

        settings = self.settings
        policy = SessionPolicy(
            idle=timedelta(minutes=settings.desk_idle_minutes),
            max_age=timedelta(hours=settings.desk_max_hours),
        )
        return DeskDeps(
            self.db,
            self.conversation.deps,
            sessions=policy,
            secure_cookie=settings.desk_secure_cookie,
        )

    async def close(self) -> None:
        """Release the database connections."""
        await self.db.dispose()


async def build_app(
    settings: Settings, clock: Clock | None = None, *, metered: bool = False
) -> App:
    """Load the config, upgrade the schema and assemble the conversation."""
    config = load_recruitment(settings.recruitment_file)
    if clock is None:
        clock = Clock(config.tz, start_at=settings.clock_at)
    db = Database(settings.effective_database_url, settings.database_pool_size)
    await db.upgrade()
    metrics = _process_metrics() if metered else None
    deps = Dependencies(
        config=config,
        catalog=Catalog.load(),
        clock=clock,
        files=FileStore(settings.documents_dir),
        staff_identities=frozenset(settings.staff),
        observer=metrics if metrics is not None else NO_OBSERVER,
    )
    conversation = Conversation(db, deps)
    return App(settings=settings, config=config, db=db, conversation=conversation, metrics=metrics)


def _process_metrics() -> Metrics:
    """A new metrics registry (prometheus-client is loaded only by the commands that serve it)."""
    from bot.metrics import Metrics

    return Metrics()
