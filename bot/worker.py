"""`mitrabot worker`: the delivery worker and the scheduled jobs, without chat handling; its
/healthz, /readyz and /metrics only when MITRABOT_WORKER_METRICS_PORT is set (the web server and
prometheus-client are loaded only then)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from bot.app import App
from scheduler.delivery import Sender
from scheduler.jobs import start_scheduler

log = logging.getLogger(__name__)


@contextlib.asynccontextmanager
async def worker_metrics(app: App) -> AsyncIterator[None]:
    """Serve the worker's health and metrics routes on MITRABOT_HOST:MITRABOT_WORKER_METRICS_PORT
    while inside; nothing when the port is not set."""
    if app.settings.worker_metrics_port is None:
        yield
        return
    from bot.worker_web import serving

    async with serving(app):
        yield


async def run_worker(
    app: App, senders: dict[str, Sender], stop: asyncio.Event, name: str | None = None
) -> None:
    """`mitrabot worker` until `stop` is set: the delivery worker (its sends counted in
    `app.metrics` when the app is metered), the scheduled jobs, and /metrics when a port is set."""
    observe = app.metrics.count_send if app.metrics is not None else None
    delivery = app.delivery_worker(senders, name=name, observe=observe)
    log.info("delivery worker %s running (%s); Ctrl-C stops", delivery.name, ", ".join(senders))
    scheduler = start_scheduler(app.jobs())
    try:
        async with worker_metrics(app):
            await delivery.run(stop)
    finally:
        scheduler.shutdown(wait=False)
