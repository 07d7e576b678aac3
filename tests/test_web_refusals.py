"""The web app refuses what it must before it costs anything: huge, slow, deep, non-object and
forged bodies are answered 4xx (never 500) without being read past the limit, and one malformed
message in a WhatsApp batch does not hold back the others."""

from __future__ import annotations

import asyncio
import json
import logging
import tracemalloc
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from starlette.applications import Starlette
from telegram.ext import Application

from bot.app import build_app
from bot.intake import BackgroundWork, DurableIntake
from bot.serve import ServeError, build_served, telegram_webhook_secret
from bot.settings import Settings
from bot.telegram import build_application
from bot.web import TELEGRAM_PATH, WHATSAPP_PATH, build_web_app
from bot.whatsapp import WhatsAppWebhook, whatsapp_client
from core.clock import FrozenClock
from handlers.conversation import Conversation
from handlers.flow import Dependencies
from storage.db import Database
from tests.fakes.graph_api import FakeGraphApi
from tests.fakes.telegram_api import FakeBotApi, text_update
from tests.fakes.whatsapp_webhook import Sender, WebhookBuilder, batch, sign, signed_request

LIMIT = 64 * 1024
CHUNK = 64 * 1024
MB = 1024 * 1024
SECRET = "rahasia-webhook"
HANG_GUARD = 30.0
"""Only so that a test of a slow body fails instead of hanging on code without a deadline."""


@dataclass
class Body:
    """A request body streamed in chunks, counting how much of it the app pulled."""

    size: int
    stall_after: int | None = None
    """Stop sending (forever) after this many bytes: a slow client."""
    pulled: int = 0
    never: asyncio.Event = field(default_factory=asyncio.Event)

    async def chunks(self) -> AsyncIterator[bytes]:
        chunk = b"x" * CHUNK
        while self.pulled < self.size:
            if self.stall_after is not None and self.pulled >= self.stall_after:
                await self.never.wait()
            self.pulled += CHUNK
            yield chunk


@dataclass
class Rig:
    """The web app with both channels (accepted Telegram updates are only recorded)."""

    http: httpx.AsyncClient
    web: Starlette
    telegram: Application
    graph: FakeGraphApi
    updates: list[dict[str, Any]]
    """The Telegram updates the intake handed on."""

    async def post(
        self, path: str, content: Any, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        async with asyncio.timeout(HANG_GUARD):
            return await self.http.post(path, content=content, headers=headers)

    async def telegram_accepted(self) -> list[int]:
        """The update ids the Telegram intake took in (after it handed them on)."""
        await self.web.state.background.drain()
        return [update["update_id"] for update in self.updates]

    async def telegram_post(self, content: Any, **headers: str) -> httpx.Response:
        return await self.post(
            TELEGRAM_PATH, content, {"X-Telegram-Bot-Api-Secret-Token": SECRET, **headers}
        )


@pytest.fixture
async def rig(db: Database, deps: Dependencies) -> AsyncIterator[Rig]:
    async with FakeGraphApi() as graph:
        conversation = Conversation(db, deps)
        client = whatsapp_client(graph.phone_id, graph.token, graph.root_url, graph.api_version)
        telegram = build_application(
            conversation, "123:abc", "http://127.0.0.1:9/bot", "http://127.0.0.1:9/file/bot", 1
        )
        updates: list[dict[str, Any]] = []

        async def record(update: dict[str, Any], stored: int) -> bool:
            updates.append(update)
            return False

        background = BackgroundWork()
        intake = DurableIntake(db, "telegram", record, background, deps.clock.now)
        web = build_web_app(
            db,
            now=deps.clock.now,
            whatsapp=WhatsAppWebhook(conversation, client, graph.phone_id),
            whatsapp_app_secret=graph.app_secret,
            whatsapp_verify_token=graph.verify_token,
            telegram=telegram,
            telegram_secret=SECRET,
            telegram_intake=intake,
            background=background,
            max_body_bytes=LIMIT,
            body_timeout=0.05,
        )
        # A 500 must come back as a response here, as a client would see it.
        transport = httpx.ASGITransport(app=web, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://bot.test") as http:
            yield Rig(http, web, telegram, graph, updates)
            await web.state.background.drain()


async def test_huge_unsigned_bodies_are_refused_unread_with_flat_memory(rig: Rig) -> None:
    tracemalloc.start()
    try:
        for _ in range(8):
            body = Body(50 * MB)
            response = await rig.post(WHATSAPP_PATH, body.chunks())
            assert response.status_code == 401
            assert body.pulled == 0
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * MB, f"peak {peak / MB:.1f} MB for 8 × 50 MB refused bodies"


async def test_huge_bodies_are_refused_at_the_limit_whatever_they_claim(rig: Rig) -> None:
    forged = {"X-Hub-Signature-256": "sha256=" + "0" * 64}
    tracemalloc.start()
    try:
        for _ in range(8):
            streamed = Body(50 * MB)  # no Content-Length: stopped while streaming
            response = await rig.post(WHATSAPP_PATH, streamed.chunks(), forged)
            assert response.status_code == 413
            assert streamed.pulled <= LIMIT + CHUNK
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * MB, f"peak {peak / MB:.1f} MB for 8 × 50 MB refused bodies"

    declared = Body(50 * MB)  # a Content-Length over the limit: refused before any byte
    headers = {**forged, "Content-Length": str(50 * MB)}
    assert (await rig.post(WHATSAPP_PATH, declared.chunks(), headers)).status_code == 413
    assert declared.pulled == 0
    on_telegram = Body(50 * MB)
    assert (await rig.telegram_post(on_telegram.chunks())).status_code == 413
    assert on_telegram.pulled <= LIMIT + CHUNK
    for length in (b"12abc", "²".encode("latin-1")):  # "²".isdigit(), but no int
        bogus = [(b"X-Telegram-Bot-Api-Secret-Token", SECRET.encode()), (b"Content-Length", length)]
        assert (await rig.post(TELEGRAM_PATH, b"{}", bogus)).status_code == 400  # type: ignore[arg-type]
    assert await rig.telegram_accepted() == []


async def test_a_body_that_trickles_times_out(rig: Rig) -> None:
    forged = {"X-Hub-Signature-256": "sha256=" + "0" * 64}
    slow = Body(4 * CHUNK, stall_after=CHUNK)
    assert (await rig.post(WHATSAPP_PATH, slow.chunks(), forged)).status_code == 408
    slow = Body(4 * CHUNK, stall_after=CHUNK)
    assert (await rig.telegram_post(slow.chunks())).status_code == 408
    assert await rig.telegram_accepted() == []


DEEP = b"[" * 200_000 + b"]" * 200_000
NOT_UPDATES = [
    b"{not json",
    b"\xff\xfe",
    DEEP[: LIMIT // 2] + DEEP[-LIMIT // 2 :],  # deeper than the parser goes, under the limit
    b"[1, 2]",
    b'"update"',
    b"{}",  # no update_id
    b'{"update_id": "1"}',
    b'{"update_id": true}',
    b'{"update_id": 1, "message": "halo"}',
    b'{"update_id": 1, "message": {"chat": 1}}',
]


@pytest.mark.parametrize("body", NOT_UPDATES, ids=range(len(NOT_UPDATES)))
async def test_a_telegram_body_that_is_not_an_update_is_a_400(rig: Rig, body: bytes) -> None:
    response = await rig.telegram_post(body)
    assert response.status_code == 400
    assert await rig.telegram_accepted() == []


async def test_a_good_telegram_update_still_goes_to_the_bot(rig: Rig) -> None:
    response = await rig.telegram_post(json.dumps(text_update(7, 1001, "/start")).encode())
    assert response.status_code == 200
    assert await rig.telegram_accepted() == [7]


@pytest.mark.parametrize(
    "body", [b"{not json", DEEP[: LIMIT // 2] + DEEP[-LIMIT // 2 :], b"[1]", b'"x"', b"null"]
)
async def test_a_signed_whatsapp_body_that_is_not_an_object_is_a_400(rig: Rig, body: bytes) -> None:
    headers = {"X-Hub-Signature-256": sign(body, rig.graph.app_secret)}
    assert (await rig.post(WHATSAPP_PATH, body, headers)).status_code == 400
    assert rig.web.state.intake.in_hand == set()


async def test_odd_secret_and_signature_headers_are_refused_not_crashed(rig: Rig) -> None:
    update = json.dumps(text_update(8, 1001, "/start")).encode()
    odd = [(b"X-Telegram-Bot-Api-Secret-Token", "rahasia-é".encode("latin-1"))]
    assert (await rig.post(TELEGRAM_PATH, update, odd)).status_code == 403  # type: ignore[arg-type]
    signed = [(b"X-Hub-Signature-256", "sha256=é".encode("latin-1"))]
    assert (await rig.post(WHATSAPP_PATH, b"{}", signed)).status_code == 403  # type: ignore[arg-type]
    query = {"hub.mode": "subscribe", "hub.challenge": "1", "hub.verify_token": "tébakan"}
    assert (await rig.http.get(WHATSAPP_PATH, params=query)).status_code == 403
    assert await rig.telegram_accepted() == []


async def test_one_malformed_message_does_not_hold_back_the_batch(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    first = Sender(user_id="ID.1", wa_id="6281111111111")
    bad = Sender(user_id="ID.rahasia", wa_id="6289999999999", name="Rahasia")
    last = Sender(user_id="ID.3", wa_id="6283333333333")
    build = WebhookBuilder(phone_id=rig.graph.phone_id)
    malformed = build.text("3528015708950001", sender=bad)
    malformed["entry"][0]["changes"][0]["value"]["messages"][0]["text"] = "3528015708950001"
    junk = build.text("halo", sender=bad)
    junk["entry"][0]["changes"][0]["value"]["messages"] = ["3528015708950001", 7]
    odd_status = build.envelope({"statuses": [{"id": "wamid.x", "errors": {"code": 1}}]})
    payload = batch(
        build.text("halo", sender=first),
        malformed,
        junk,
        odd_status,
        build.text("hai", sender=last),
    )
    payload["entry"].insert(1, "3528015708950001")
    body, headers = signed_request(payload, rig.graph.app_secret)
    with caplog.at_level(logging.INFO):
        assert (await rig.post(WHATSAPP_PATH, body, headers)).status_code == 200
        await rig.web.state.background.drain()
    for good in (first, last):
        assert "Selamat datang" in (rig.graph.messages_to(good.wa_id or "")[0].text or "")
    assert rig.graph.messages_to(bad.wa_id or "") == []
    assert "malformed WhatsApp message skipped (text)" in caplog.text
    for personal in ("3528015708950001", bad.user_id, bad.wa_id or "", "Rahasia"):
        assert personal not in caplog.text


async def test_serve_never_runs_the_telegram_webhook_without_a_secret(
    tmp_path: Path, clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    async with FakeBotApi() as telegram:
        telegram.add_user(42)
        telegram.add_user(1001)
        settings = Settings(
            data_dir=tmp_path,
            telegram_token=telegram.token,
            telegram_base_url=telegram.base_url,
            telegram_base_file_url=telegram.base_file_url,
            telegram_webhook_url="https://mitrabot.example/telegram/webhook",
            staff=["telegram:42"],
        )
        app = await build_app(settings, clock=clock, metered=True)
        try:
            with caplog.at_level(logging.INFO):
                served = build_served(app)
            assert "MITRABOT_TELEGRAM_WEBHOOK_SECRET is not set" in caplog.text
            web = served.web
            async with web.router.lifespan_context(web):
                assert telegram.webhook is not None
                secret = telegram.webhook["secret_token"]
                assert secret and len(secret) >= 32
                transport = httpx.ASGITransport(app=web)
                async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
                    forged = json.dumps(text_update(1, 42, "/start")).encode()
                    assert (await http.post(TELEGRAM_PATH, content=forged)).status_code == 403
                    wrong = {"X-Telegram-Bot-Api-Secret-Token": "tebakan"}
                    refused = await http.post(TELEGRAM_PATH, content=forged, headers=wrong)
                    assert refused.status_code == 403
                    real = json.dumps(text_update(2, 1001, "/start")).encode()
                    right = {"X-Telegram-Bot-Api-Secret-Token": secret}
                    accepted = await http.post(TELEGRAM_PATH, content=real, headers=right)
                    assert accepted.status_code == 200
                    await telegram.wait_for_messages(1001, 1, timeout=10)
            assert telegram.messages_to(42) == []
            # Another process, or a restart, derives the same secret from the same token.
            assert telegram_webhook_secret(None, telegram.token) == secret
            app.settings = settings.model_copy(update={"telegram_webhook_secret": SecretStr("a b")})
            with pytest.raises(ServeError, match="WEBHOOK_SECRET must be"):
                build_served(app)
        finally:
            await app.close()


async def test_the_web_app_will_not_host_telegram_without_a_secret(
    db: Database, deps: Dependencies
) -> None:
    telegram = build_application(
        Conversation(db, deps),
        "123:abc",
        "http://127.0.0.1:9/bot",
        "http://127.0.0.1:9/f",
        1,
    )
    with pytest.raises(ValueError, match="needs a secret token"):
        build_web_app(db, now=deps.clock.now, telegram=telegram)
