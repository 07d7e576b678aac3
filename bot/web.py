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
import collections
import contextlib
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
from bot.metrics import Metrics
from core.failures import log_failure
from storage.db import Database
from storage.health import backlog, migrations_at_head
from storage.inbound import InboundPayloads

log = logging.getLogger(__name__)

WHATSAPP_PATH = "/whatsapp/webhook"
TELEGRAM_PATH = "/telegram/webhook"
MAX_BODY_BYTES = 1024 * 1024
"""The largest webhook body read (Telegram updates and WhatsApp batches are a few KB)."""
BODY_TIMEOUT = 10.0
"""Seconds a client has to send the whole body of one request."""


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
            log_failure(log, "webhook work failed", error=task.exception())

    async def drain(self) -> None:
        """Wait for the work in hand, including work it started meanwhile (shutdown)."""
        while self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)


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


STUCK_AFTER = timedelta(minutes=5)
"""/readyz fails when an inbound payload has waited, or a due outbox message, longer than this."""
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


PayloadHandler = Callable[[dict[str, Any], int], Awaitable[bool]]
"""Handles one stored payload (given with its stored id); True when it marked the stored copy
handled itself, in the transaction of the turn it answered (else the intake marks it after)."""

MAX_IN_FLIGHT = 256
"""Accepted payloads handled at once by one process; more wait in the database."""
SWEEP_EVERY = 30.0
ORPHAN_AFTER = timedelta(seconds=60)
"""A stored payload this old and not in hand here was left by a crash (or is queued): take it."""
MAX_ATTEMPTS = 5
WAITING_IN_MEMORY = 1024
"""Payloads over the in-flight limit kept at hand (a few MB at most); beyond, read again."""


class DurableIntake:
    """Every accepted inbound payload is stored before it is acknowledged and marked handled
    (its body emptied) in the handling turn's own transaction where there is one: the one way
    in for WhatsApp's webhook and Telegram's (webhook and polling alike).

    The platform does not send a payload again after the acknowledgement, so a crash (or a stop
    that cannot drain) must not lose it: a sweep at start and every `sweep_every` seconds
    handles what is left, from this process or a dead one. A payload with a platform id
    (Telegram's `update_id`) is stored once however often it arrives, also after it was
    handled (until retention forgets it); WhatsApp's batches have none, and the message-level
    dedup makes a repeated handling harmless. At most `max_in_flight` payloads are in hand per
    process; a burst beyond waits, started as others finish: the first `WAITING_IN_MEMORY` of
    it with their payloads at hand, the rest in the database only (their ids in memory).
    """

    def __init__(
        self,
        db: Database,
        channel: str,
        handler: PayloadHandler,
        background: BackgroundWork,
        now: Callable[[], datetime],
        *,
        max_in_flight: int = MAX_IN_FLIGHT,
        orphan_after: timedelta = ORPHAN_AFTER,
        sweep_every: float = SWEEP_EVERY,
        metrics: Metrics | None = None,
    ) -> None:
        self.db = db
        self.channel = channel
        self.handler = handler
        self.background = background
        self.now = now
        self.max_in_flight = max_in_flight
        self.orphan_after = orphan_after
        """A stored payload this old and not in hand here was left by a crash (or is queued)."""
        self.sweep_every = sweep_every
        self.in_hand: set[int] = set()
        self.waiting: collections.deque[tuple[int, dict[str, Any] | None]] = collections.deque()
        """Stored payloads of this process over the limit, started as others finish: (id, the
        payload, or None when it is to be read again from the database)."""
        self.closing = False
        """Set at shutdown: what waits stays in the database for the next start."""
        self.metrics = metrics
        self.batch: list[tuple[bytes, dict[str, Any], str | None, asyncio.Future[bool]]] = []
        """Payloads of `accept` calls waiting for the next group commit."""
        self.committing: asyncio.Task[None] | None = None
        """The task storing the batches while there are any."""

    async def accept(
        self, body: bytes, payload: dict[str, Any], platform_id: str | None = None
    ) -> bool:
        """Store the raw body (before the acknowledgement) and handle the payload now if there
        is room. False when a payload with this `platform_id` was stored already (nothing more
        to do: whoever stored it, or the sweep, handles it).

        Group commit: the payloads of concurrent calls are stored in one transaction, the next
        one while the previous commits; each call returns once its own payload is committed."""
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.batch.append((body, payload, platform_id, done))
        if self.committing is None:
            self.committing = asyncio.ensure_future(self._commit_batches())
        return await done

    async def _commit_batches(self) -> None:
        """Store what `accept` queued, batch after batch, until nothing is queued."""
        try:
            while self.batch:
                batch, self.batch = self.batch, []
                try:
                    new = await self._store([(body, data, key) for body, data, key, _ in batch])
                except Exception as error:
                    for *_, done in batch:
                        if not done.done():
                            done.set_exception(error)
                    continue
                for is_new, (*_, done) in zip(new, batch, strict=True):
                    if not done.done():  # the request may have gone meanwhile
                        done.set_result(is_new)
        finally:
            self.committing = None

    async def accept_all(self, payloads: list[tuple[bytes, dict[str, Any], str | None]]) -> int:
        """`accept` for several payloads (a `getUpdates` batch) in one transaction, handled in
        their order; how many were new."""
        return sum(await self._store(payloads))

    async def _store(self, payloads: list[tuple[bytes, dict[str, Any], str | None]]) -> list[bool]:
        """Store `payloads` in one transaction, then start (or queue) the new ones in order;
        whether each was new."""
        now = self.now()
        async with self.db.transaction() as session:
            rows = await InboundPayloads(session).store_all(
                self.channel,
                [(body.decode("utf-8", "replace"), key) for body, _, key in payloads],
                now,
            )
        if self.metrics is not None:
            self.metrics.received.labels(self.channel).inc(sum(r is not None for r in rows))
        for row, (_, payload, _) in zip(rows, payloads, strict=True):
            if row is None:
                continue
            if len(self.in_hand) < self.max_in_flight and not self.closing:
                self._start(row, payload)
            else:
                kept = payload if len(self.waiting) < WAITING_IN_MEMORY else None
                self.waiting.append((row, kept))
        return [row is not None for row in rows]

    async def _next_waiting(self) -> None:
        """A slot came free: start the oldest payload this process left waiting."""
        while self.waiting and len(self.in_hand) < self.max_in_flight and not self.closing:
            stored, payload = self.waiting.popleft()
            if payload is not None:  # at hand (if another process took it meanwhile, the
                self._start(stored, payload)  # turn finds it handled and answers nothing)
                continue
            self.in_hand.add(stored)  # claimed here, so a sweep cannot take it meanwhile
            try:
                async with self.db.transaction() as session:
                    body = await InboundPayloads(session).body(stored)
            except Exception:
                self.in_hand.discard(stored)
                raise
            if body is None or self.closing:  # gone, or shutting down: the row stays for later
                self.in_hand.discard(stored)
                continue
            self._start(stored, json.loads(body))

    def _start(self, stored: int, payload: dict[str, Any]) -> None:
        self.in_hand.add(stored)
        self.background.start(self._handle(stored, payload))

    async def _handle(self, stored: int, payload: dict[str, Any]) -> None:
        started = self.now()
        try:
            settled = await self.handler(payload, stored)
        except Exception:
            log_failure(log, "an accepted %s payload failed; it stays for the sweep", self.channel)
            async with self.db.transaction() as session:
                gave_up = await InboundPayloads(session).count_failure(stored, MAX_ATTEMPTS)
            if gave_up:
                log.error("giving up on %s payload %d", self.channel, stored)
            return
        finally:
            self.in_hand.discard(stored)
        if not settled:
            async with self.db.transaction() as session:
                await InboundPayloads(session).settle(stored, self.now())
        if self.metrics is not None:
            self.metrics.handled.labels(self.channel).inc()
            took = (self.now() - started).total_seconds()
            self.metrics.handling.labels(self.channel).observe(took)
        await self._next_waiting()

    async def sweep(self, orphan_after: timedelta | None = None) -> int:
        """Start handling stored payloads nobody here has in hand (stored at least
        `orphan_after` ago, default `self.orphan_after`); how many were taken."""
        room = self.max_in_flight - len(self.in_hand)
        if room <= 0:
            return 0
        cutoff = self.now() - (self.orphan_after if orphan_after is None else orphan_after)
        limit = room + len(self.in_hand) + len(self.waiting)
        async with self.db.transaction() as session:
            rows = await InboundPayloads(session).received_before(self.channel, cutoff, limit)
        taken = 0
        mine = self.in_hand | {stored for stored, _ in self.waiting}
        for stored, body in rows:
            if stored not in mine and taken < room:
                self._start(stored, json.loads(body))
                taken += 1
        return taken

    async def sweep_forever(self, stop: asyncio.Event) -> None:
        """The periodic sweep (until `stop`)."""
        while not stop.is_set():
            try:
                await self.sweep()
            except Exception:
                log.exception("inbound sweep failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.sweep_every)


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
) -> Starlette:
    """The ASGI app: only the channels that are configured get a route; the staff desk is
    mounted at /desk when `desk` is given. The Telegram webhook needs its secret token (without
    one anybody could post updates as any user, staff too) and its intake
    (`bot.telegram.telegram_intake`, over the same `background`). /readyz says whether the
    intake or the outbox is stuck past `stuck_after`; /metrics shows `metrics` (a new set when
    none is given) to local clients, or to whoever sends `metrics_token` as a bearer token."""
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

    routes: list[BaseRoute] = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics_page, methods=["GET"]),
    ]
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
            await background.drain()
            if on_shutdown is not None:
                await on_shutdown()

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.background = background
    app.state.intake = intake
    app.state.telegram_intake = telegram_intake
    app.state.metrics = metrics
    return app
