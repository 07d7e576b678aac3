"""`mitrabot serve`: the web app (WhatsApp webhook, Telegram webhook, /healthz, /readyz,
/metrics, the staff desk at /desk) under uvicorn, with the delivery worker and the scheduler in
the same process."""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
import signal
import socket
from dataclasses import dataclass, field
from datetime import timedelta
from types import FrameType

import uvicorn
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from pydantic import SecretStr
from starlette.applications import Starlette
from telegram.ext import Application

from bot.app import App
from bot.intake import BackgroundWork, DurableIntake
from bot.metrics import Metrics
from bot.settings import ServeError, Settings
from bot.telegram import (
    TelegramSender,
    build_application,
    start_webhook,
    stop_webhook,
    telegram_intake,
)
from bot.web import build_web_app
from bot.whatsapp import whatsapp_parts
from scheduler.delivery import Sender
from scheduler.jobs import start_scheduler

log = logging.getLogger(__name__)

WEBHOOK_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
"""What Telegram accepts as a webhook's secret token."""


@dataclass
class Served:
    """The web app and what runs beside it (built from settings; started by the web app)."""

    web: Starlette
    senders: dict[str, Sender] = field(default_factory=dict)


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


def telegram_webhook_secret(configured: SecretStr | None, token: str) -> str:
    """The secret token Telegram must send with every webhook POST, registered with setWebhook.

    `MITRABOT_TELEGRAM_WEBHOOK_SECRET` when set; else one derived from the bot token (HMAC-SHA256),
    the same in every `serve` process and after every restart, so processes behind one proxy
    agree without sharing anything more (whoever knows the token could re-register the webhook
    anyway). Never none: without it anybody could post updates as any user, staff included.
    """
    if configured is not None:
        secret = configured.get_secret_value()
        if not WEBHOOK_SECRET.fullmatch(secret):
            raise ServeError(
                "MITRABOT_TELEGRAM_WEBHOOK_SECRET must be 1-256 of A-Z, a-z, 0-9, _ and - "
                "(Telegram's rule)"
            )
        return secret
    log.info(
        "MITRABOT_TELEGRAM_WEBHOOK_SECRET is not set: the Telegram webhook is registered with a "
        "secret derived from the bot token"
    )
    return hmac.new(token.encode(), b"mitrabot telegram webhook secret", "sha256").hexdigest()


class _Background:
    """The delivery worker and the scheduler that run beside the web app."""

    def __init__(self, app: App, senders: dict[str, Sender], metrics: Metrics) -> None:
        self.app = app
        self.senders = senders
        self.metrics = metrics
        self.stopping = asyncio.Event()
        self.delivery: asyncio.Task[None] | None = None
        self.scheduler: AsyncIOScheduler | None = None

    def start(self) -> None:
        worker = self.app.delivery_worker(self.senders, observe=self.metrics.count_send)
        self.delivery = asyncio.create_task(worker.run(self.stopping))
        self.scheduler = start_scheduler(self.app.jobs())

    async def stop(self) -> None:
        self.stopping.set()
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
        if self.delivery is not None:
            await asyncio.gather(self.delivery, return_exceptions=True)


def build_served(app: App) -> Served:
    """Wire the configured channels into one web app; its lifespan starts and stops the rest."""
    settings = app.settings
    senders: dict[str, Sender] = {}
    telegram: Application | None = None
    telegram_secret: str | None = None
    telegram_updates: DurableIntake | None = None
    whatsapp = None
    web_work = BackgroundWork()
    metrics = app.metrics
    if metrics is None:
        raise ValueError("a served app counts what it does: build it with metered=True")
    orphan_after = timedelta(seconds=settings.inbound_orphan_seconds)
    if settings.telegram_token is not None and settings.telegram_webhook_url:
        token = settings.telegram_token.get_secret_value()
        telegram_secret = telegram_webhook_secret(settings.telegram_webhook_secret, token)
        telegram = build_application(
            app.conversation,
            token,
            settings.telegram_base_url,
            settings.telegram_base_file_url,
            settings.telegram_concurrency,
            timedelta(seconds=settings.delivery_lease_seconds),
            observe=metrics.count_send,
        )
        telegram_updates = telegram_intake(
            telegram,
            web_work,
            orphan_after=orphan_after,
            sweep_every=settings.inbound_sweep_seconds,
            metrics=metrics,
        )
        senders["telegram"] = TelegramSender(telegram.bot)
    parts = whatsapp_parts(app, metrics.count_send)
    if parts is not None:
        whatsapp, senders["whatsapp"] = parts
    if not senders:
        raise ServeError(
            "nothing to serve: set MITRABOT_TELEGRAM_TOKEN and MITRABOT_TELEGRAM_WEBHOOK_URL, "
            "and/or the MITRABOT_WHATSAPP_* settings (see .env.example)"
        )
    background = _Background(app, senders, metrics)

    async def on_startup() -> None:
        if telegram is not None:
            await start_webhook(telegram, str(settings.telegram_webhook_url), telegram_secret)
        background.start()
        log.info("serving %s", ", ".join(sorted(senders)))

    async def on_shutdown() -> None:
        await background.stop()
        if telegram is not None:
            await stop_webhook(telegram)

    web = build_web_app(
        app.db,
        now=app.conversation.deps.clock.now,
        whatsapp=whatsapp,
        whatsapp_app_secret=_secret(settings.whatsapp_app_secret),
        whatsapp_verify_token=_secret(settings.whatsapp_verify_token),
        telegram=telegram,
        telegram_secret=telegram_secret,
        telegram_intake=telegram_updates,
        background=web_work,
        on_startup=on_startup,
        on_shutdown=on_shutdown,
        max_body_bytes=settings.max_body_bytes,
        body_timeout=settings.body_timeout_seconds,
        orphan_after=orphan_after,
        sweep_every=settings.inbound_sweep_seconds,
        desk=app.desk(),
        metrics=metrics,
        metrics_token=_secret(settings.metrics_token),
        stuck_after=timedelta(seconds=settings.ready_stuck_seconds),
        stop_grace=settings.stop_grace_seconds,
    )
    return Served(web, senders)


class _Server(uvicorn.Server):
    """uvicorn's server, ending with exit status 0 after a graceful stop on SIGTERM (uvicorn
    raises the signal again once it has stopped, so a service manager would see a kill)."""

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        if sig == signal.SIGTERM:
            self._captured_signals.remove(sig)


def shared_port(host: str, port: int) -> socket.socket:
    """A listening socket bound with SO_REUSEPORT: every `serve` process binds one to the same
    port, and the kernel spreads the new connections over them."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


async def serve(app: App, settings: Settings) -> None:
    """Run the web app until SIGINT/SIGTERM: then accept nothing new, let the requests, the
    updates in hand and the sends in flight finish (`stop_grace_seconds` each at most), and
    return."""
    served = build_served(app)
    config = uvicorn.Config(
        served.web,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        access_log=False,  # request lines would carry nothing useful and cost time
        timeout_graceful_shutdown=max(1, round(settings.stop_grace_seconds)),
    )
    sockets = [shared_port(settings.host, settings.port)] if settings.reuse_port else None
    await _Server(config).serve(sockets=sockets)
