"""The web application `mitrabot serve` runs: WhatsApp's webhook, Telegram's webhook, /healthz,
and the staff desk under /desk (bot/desk/).

One way in for both platforms: a Telegram POST (secret token checked, body an `Update`) and a
WhatsApp POST (signature checked on the raw body) are stored in the database (`DurableIntake`)
before the 200; the work happens after, in a task this app keeps and awaits on shutdown, and a
sweep handles what a dead process left. Nothing here knows the conversation: the channel
adapters do.

What must be refused is refused before it costs anything: the secret header first (no body read),
then a declared `Content-Length` over the limit, then the body is read in chunks that stop at the
limit and at a deadline; a body that is not a JSON object (not JSON, nested too deep to parse, a
list) is a 400, never a 500.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route
from telegram import Bot, Update
from telegram.ext import Application

from bot.desk import DeskDeps, build_desk
from bot.intake import (
    BODY_TIMEOUT,
    MAX_BODY_BYTES,
    ORPHAN_AFTER,
    STUCK_AFTER,
    SWEEP_EVERY,
    BackgroundWork,
    DurableIntake,
    PayloadHandler,
)
from bot.metrics import Metrics
from core.failures import log_failure
from storage.db import Database
from storage.health import backlog, migrations_at_head

log = logging.getLogger(__name__)

WHATSAPP_PATH = "/whatsapp/webhook"
TELEGRAM_PATH = "/telegram/webhook"


def signature_valid(app_secret: str, body: bytes, header: str | None) -> bool:
    """`X-Hub-Signature-256` is `sha256=` + the HMAC-SHA256 of the raw body (constant time)."""
    if not header or not header.startswith("sha256="):
        return False
    expected = hmac.new(app_secret.encode(), body, "sha256").hexdigest()
    return hmac.compare_digest(expected.encode(), header.removeprefix("sha256=").encode())


class BodyRefused(Exception):
    """A request body not read to the end: too large, too slow, or the client went away."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason

    def response(self) -> Response:
        """The answer to the client."""
        return PlainTextResponse(self.reason, status_code=self.status)


async def read_body(request: Request, limit: int, deadline: float) -> bytes:
    """The body, read in chunks: refused from `Content-Length` or as soon as it passes `limit`
    bytes (so no more than that is ever in memory), or when it is not all there in `deadline`
    seconds."""
    declared = request.headers.get("content-length")
    if declared is not None and not (declared.isascii() and declared.isdigit()):
        raise BodyRefused(400, "bad content-length")
    if declared is not None and int(declared) > limit:
        raise BodyRefused(413, "too large")
    body = bytearray()
    try:
        async with asyncio.timeout(deadline):
            async for chunk in request.stream():
                body += chunk
                if len(body) > limit:
                    raise BodyRefused(413, "too large")
    except TimeoutError:
        raise BodyRefused(408, "body too slow") from None
    except ClientDisconnect:
        raise BodyRefused(400, "client disconnected") from None
    return bytes(body)


def json_object(body: bytes) -> dict[str, Any] | None:
    """The body as a JSON object; None when it is not JSON, nested too deep to parse, or not an
    object."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def telegram_update(data: dict[str, Any], bot: Bot) -> Update | None:
    """The `Update` in a webhook body; None when it is not one (no integer `update_id`, or a
    shape python-telegram-bot cannot read: like its own webhook handler, any error is a 400)."""
    update_id = data.get("update_id")
    if not isinstance(update_id, int) or isinstance(update_id, bool):
        return None
    try:
        return Update.de_json(data=data, bot=bot)
    except Exception:
        return None


LOCAL_CLIENTS = frozenset({"127.0.0.1", "::1"})


async def not_ready(db: Database, now: datetime, stuck_after: timedelta) -> str | None:
    """Why this process should get no traffic (migrations behind, intake or outbox stuck past
    `stuck_after`); None when it is ready. Raises when the database cannot be reached."""
    if not await migrations_at_head(db):
        return "migrations not at head"
    async with db.transaction() as session:
        found = await backlog(session, now)
    if found.oldest_inbound is not None and now - found.oldest_inbound > stuck_after:
        return "inbound payloads waiting too long"
    if found.oldest_due is not None and now - found.oldest_due > stuck_after:
        return "outbox messages overdue"
    return None


def metrics_allowed(request: Request, token: str | None) -> bool:
    """/metrics is for the machine itself, and for whoever sends the configured bearer token."""
    if request.client is not None and request.client.host in LOCAL_CLIENTS:
        return True
    given = request.headers.get("authorization") or ""
    return bool(token) and hmac.compare_digest(given.encode(), f"Bearer {token}".encode())


def health_routes(
    db: Database,
    now: Callable[[], datetime],
    metrics: Metrics,
    metrics_token: str | None,
    stuck_after: timedelta = STUCK_AFTER,
) -> list[BaseRoute]:
    """/healthz (the database answers), /readyz (`not_ready`) and /metrics (`metrics`, to local
    clients or whoever sends `metrics_token`): the routes of `serve` and of `worker`."""

    async def healthz(request: Request) -> Response:
        try:
            await db.ping()
        except Exception:
            log.exception("health check: database unreachable")
            return JSONResponse({"ok": False, "database": "unreachable"}, status_code=503)
        return JSONResponse({"ok": True})

    async def readyz(request: Request) -> Response:
        try:
            reason = await not_ready(db, now(), stuck_after)
        except Exception:
            log_failure(log, "readiness check: database unreachable")
            reason = "database unreachable"
        if reason is not None:
            return JSONResponse({"ready": False, "reason": reason}, status_code=503)
        return JSONResponse({"ready": True})

    async def metrics_page(request: Request) -> Response:
        if not metrics_allowed(request, metrics_token):
            return PlainTextResponse("forbidden", status_code=403)
        at = now()
        async with db.transaction() as session:
            found = await backlog(session, at)
        return Response(metrics.render(found, at), media_type=CONTENT_TYPE_LATEST)

    return [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics_page, methods=["GET"]),
    ]


def build_web_app(
    db: Database,
    *,
    now: Callable[[], datetime],
    whatsapp: PayloadHandler | None = None,
    whatsapp_app_secret: str | None = None,
    whatsapp_verify_token: str | None = None,
    telegram: Application | None = None,
    telegram_secret: str | None = None,
    telegram_intake: DurableIntake | None = None,
    background: BackgroundWork | None = None,
    on_startup: Callable[[], Awaitable[None]] | None = None,
    on_shutdown: Callable[[], Awaitable[None]] | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
    body_timeout: float = BODY_TIMEOUT,
    orphan_after: timedelta = ORPHAN_AFTER,
    sweep_every: float = SWEEP_EVERY,
    desk: DeskDeps | None = None,
    metrics: Metrics | None = None,
    metrics_token: str | None = None,
    stuck_after: timedelta = STUCK_AFTER,
    stop_grace: float | None = None,
) -> Starlette:
    """The ASGI app: only the channels that are configured get a route; the staff desk is
    mounted at /desk when `desk` is given. The Telegram webhook needs its secret token (without
    one anybody could post updates as any user, staff too) and its intake
    (`bot.telegram.telegram_intake`, over the same `background`). /readyz says whether the
    intake or the outbox is stuck past `stuck_after`; /metrics shows `metrics` (a new set when
    none is given) to local clients, or to whoever sends `metrics_token` as a bearer token.
    At shutdown the work in hand gets `stop_grace` seconds (None: as long as it takes)."""
    if telegram is not None and not telegram_secret:
        raise ValueError("the Telegram webhook needs a secret token")
    if telegram is not None and telegram_intake is None:
        raise ValueError("the Telegram webhook needs its intake")
    background = background or BackgroundWork()
    metrics = metrics or Metrics()
    intake = (
        DurableIntake(
            db,
            "whatsapp",
            whatsapp,
            background,
            now,
            orphan_after=orphan_after,
            sweep_every=sweep_every,
            metrics=metrics,
        )
        if whatsapp
        else None
    )
    intakes = [each for each in (intake, telegram_intake) if each is not None]
    sweeping = asyncio.Event()

    async def whatsapp_verify(request: Request) -> Response:
        params = request.query_params
        token = params.get("hub.verify_token") or ""
        if (
            params.get("hub.mode") == "subscribe"
            and whatsapp_verify_token
            and hmac.compare_digest(token.encode(), whatsapp_verify_token.encode())
        ):
            return PlainTextResponse(params.get("hub.challenge", ""))
        log.warning("WhatsApp webhook verification refused")
        return PlainTextResponse("forbidden", status_code=403)

    async def whatsapp_post(request: Request) -> Response:
        signature = request.headers.get("x-hub-signature-256")
        if signature is None:
            log.warning("WhatsApp webhook POST without a signature refused")
            return PlainTextResponse("missing signature", status_code=401)
        try:
            body = await read_body(request, max_body_bytes, body_timeout)
        except BodyRefused as refused:
            log.warning("WhatsApp webhook POST refused: %s", refused.reason)
            return refused.response()
        if not signature_valid(whatsapp_app_secret or "", body, signature):
            log.warning("WhatsApp webhook POST with a wrong signature refused")
            return PlainTextResponse("bad signature", status_code=403)
        payload = json_object(body)
        if payload is None:
            log.warning("WhatsApp webhook POST that is not a JSON object refused")
            return PlainTextResponse("malformed", status_code=400)
        assert intake is not None
        await intake.accept(body, payload)
        return PlainTextResponse("ok")

    async def telegram_post(request: Request) -> Response:
        assert telegram is not None and telegram_secret and telegram_intake is not None
        given = request.headers.get("x-telegram-bot-api-secret-token") or ""
        if not hmac.compare_digest(given.encode(), telegram_secret.encode()):
            log.warning("Telegram webhook POST with a wrong secret token refused")
            return PlainTextResponse("forbidden", status_code=403)
        try:
            body = await read_body(request, max_body_bytes, body_timeout)
        except BodyRefused as refused:
            log.warning("Telegram webhook POST refused: %s", refused.reason)
            return refused.response()
        data = json_object(body)
        update = telegram_update(data, telegram.bot) if data is not None else None
        if update is None:
            log.warning("Telegram webhook POST that is not an update refused")
            return PlainTextResponse("malformed", status_code=400)
        await telegram_intake.accept(body, data, str(update.update_id))
        return PlainTextResponse("ok")

    routes = health_routes(db, now, metrics, metrics_token, stuck_after)
    if whatsapp is not None:
        routes += [
            Route(WHATSAPP_PATH, whatsapp_verify, methods=["GET"]),
            Route(WHATSAPP_PATH, whatsapp_post, methods=["POST"]),
        ]
    if telegram is not None:
        routes.append(Route(TELEGRAM_PATH, telegram_post, methods=["POST"]))
    if desk is not None:
        routes.append(build_desk(desk))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if on_startup is not None:
            await on_startup()
        sweepers = [asyncio.create_task(each.sweep_forever(sweeping)) for each in intakes]
        try:
            yield
        finally:
            sweeping.set()
            for each in intakes:
                each.closing = True
            await asyncio.gather(*sweepers)
            left = await background.drain(stop_grace)
            if left:
                log.warning("stopping: %d updates left for the next process", left)
            if on_shutdown is not None:
                await on_shutdown()

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.background = background
    app.state.intake = intake
    app.state.telegram_intake = telegram_intake
    app.state.metrics = metrics
    return app
