"""The web application `mitrabot serve` runs: WhatsApp's webhook, Telegram's webhook, /healthz.

Like python-telegram-bot's custom-webhook example, the Telegram Application lives inside this
app: a POST becomes an `Update` on its queue. A WhatsApp POST is checked (signature on the raw
body) and answered 200 at once; the work happens after, in a task this app keeps and awaits on
shutdown. Nothing here knows the conversation: the channel adapters do.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from telegram import Update
from telegram.ext import Application

from storage.db import Database

log = logging.getLogger(__name__)

WHATSAPP_PATH = "/whatsapp/webhook"
TELEGRAM_PATH = "/telegram/webhook"
MAX_BODY_BYTES = 1024 * 1024


class BackgroundWork:
    """Tasks started after a webhook was answered; kept referenced, awaited on shutdown."""

    def __init__(self) -> None:
        self.tasks: set[asyncio.Task[None]] = set()

    def start(self, work: Awaitable[None]) -> None:
        """Run `work` without waiting for it (errors are logged, never lost silently)."""
        task = asyncio.ensure_future(work)
        self.tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("webhook work failed", exc_info=task.exception())

    async def drain(self) -> None:
        """Wait for the work in hand (shutdown)."""
        if self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)


def signature_valid(app_secret: str, body: bytes, header: str | None) -> bool:
    """`X-Hub-Signature-256` is `sha256=` + the HMAC-SHA256 of the raw body (constant time)."""
    if not header or not header.startswith("sha256="):
        return False
    expected = hmac.new(app_secret.encode(), body, "sha256").hexdigest()
    return hmac.compare_digest(expected, header.removeprefix("sha256="))


PayloadHandler = Callable[[dict[str, Any]], Awaitable[None]]


def build_web_app(
    db: Database,
    *,
    whatsapp: PayloadHandler | None = None,
    whatsapp_app_secret: str | None = None,
    whatsapp_verify_token: str | None = None,
    telegram: Application | None = None,
    telegram_secret: str | None = None,
    on_startup: Callable[[], Awaitable[None]] | None = None,
    on_shutdown: Callable[[], Awaitable[None]] | None = None,
) -> Starlette:
    """The ASGI app: only the channels that are configured get a route."""
    background = BackgroundWork()

    async def healthz(request: Request) -> Response:
        try:
            async with db.transaction() as session:
                await session.execute(text("SELECT 1"))
        except Exception:
            log.exception("health check: database unreachable")
            return JSONResponse({"ok": False, "database": "unreachable"}, status_code=503)
        return JSONResponse({"ok": True})

    async def whatsapp_verify(request: Request) -> Response:
        params = request.query_params
        token = params.get("hub.verify_token") or ""
        if (
            params.get("hub.mode") == "subscribe"
            and whatsapp_verify_token
            and hmac.compare_digest(token, whatsapp_verify_token)
        ):
            return PlainTextResponse(params.get("hub.challenge", ""))
        log.warning("WhatsApp webhook verification refused")
        return PlainTextResponse("forbidden", status_code=403)

    async def whatsapp_post(request: Request) -> Response:
        body = await request.body()
        signature = request.headers.get("x-hub-signature-256")
        if signature is None:
            log.warning("WhatsApp webhook POST without a signature refused")
            return PlainTextResponse("missing signature", status_code=401)
        if len(body) > MAX_BODY_BYTES or not signature_valid(
            whatsapp_app_secret or "", body, signature
        ):
            log.warning("WhatsApp webhook POST with a wrong signature refused")
            return PlainTextResponse("bad signature", status_code=403)
        try:
            payload = json.loads(body)
        except ValueError:
            log.warning("WhatsApp webhook POST with malformed JSON ignored")
            return PlainTextResponse("malformed", status_code=400)
        if not isinstance(payload, dict):
            return PlainTextResponse("malformed", status_code=400)
        assert whatsapp is not None
        background.start(whatsapp(payload))
        return PlainTextResponse("ok")

    async def telegram_post(request: Request) -> Response:
        assert telegram is not None
        given = request.headers.get("x-telegram-bot-api-secret-token") or ""
        if telegram_secret and not hmac.compare_digest(given, telegram_secret):
            log.warning("Telegram webhook POST with a wrong secret token refused")
            return PlainTextResponse("forbidden", status_code=403)
        try:
            data = await request.json()
        except ValueError:
            return PlainTextResponse("malformed", status_code=400)
        await telegram.update_queue.put(Update.de_json(data=data, bot=telegram.bot))
        return PlainTextResponse("ok")

    routes = [Route("/healthz", healthz, methods=["GET"])]
    if whatsapp is not None:
        routes += [
            Route(WHATSAPP_PATH, whatsapp_verify, methods=["GET"]),
            Route(WHATSAPP_PATH, whatsapp_post, methods=["POST"]),
        ]
    if telegram is not None:
        routes.append(Route(TELEGRAM_PATH, telegram_post, methods=["POST"]))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if on_startup is not None:
            await on_startup()
        try:
            yield
        finally:
            await background.drain()
            if on_shutdown is not None:
                await on_shutdown()

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.background = background
    return app
