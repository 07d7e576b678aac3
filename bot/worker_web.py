"""The worker's own small web app: /healthz, /readyz and /metrics, with the rules of `serve`."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import uvicorn
from starlette.applications import Starlette

from bot.app import App
from bot.web import health_routes


class _Server(uvicorn.Server):
    """uvicorn without signal handlers of its own: the worker's stop event ends it."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def worker_web(app: App) -> Starlette:
    """/healthz, /readyz and /metrics of a worker process (its app must be metered)."""
    if app.metrics is None:
        raise ValueError("the worker's web app needs an app built with metered=True")
    settings = app.settings
    token = settings.metrics_token.get_secret_value() if settings.metrics_token else None
    routes = health_routes(
        app.db,
        app.conversation.deps.clock.now,
        app.metrics,
        token,
        timedelta(seconds=settings.ready_stuck_seconds),
    )
    return Starlette(routes=routes)


@contextlib.asynccontextmanager
async def serving(app: App) -> AsyncIterator[None]:
    """Serve `worker_web` on MITRABOT_HOST:MITRABOT_WORKER_METRICS_PORT while inside."""
    settings = app.settings
    assert settings.worker_metrics_port is not None
    config = uvicorn.Config(
        worker_web(app),
        host=settings.host,
        port=settings.worker_metrics_port,
        log_level=settings.log_level.lower(),
        access_log=False,
    )
    server = _Server(config)
    task = asyncio.create_task(server.serve())
    try:
        yield
    finally:
        server.should_exit = True
        await task
