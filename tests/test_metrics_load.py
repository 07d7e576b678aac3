"""The metrics of `serve` and `worker` move as the load runs: updates per channel, handling
time, sends by result, documents checked by verdict, reminders queued, the outbox gauges."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select
from telegram import Bot

from bot.app import App, build_app
from bot.serve import build_served
from bot.settings import Settings
from bot.telegram import TelegramSender
from bot.web import TELEGRAM_PATH, WHATSAPP_PATH
from bot.worker import run_worker
from core.clock import FrozenClock
from storage.chat_sessions import ChatSessions
from storage.models import ChatSession, OutboxMessage
from storage.outbox import Outbox
from tests import images
from tests.fakes.graph_api import FakeGraphApi
from tests.fakes.telegram_api import FakeBotApi, text_update
from tests.fakes.whatsapp_webhook import Sender, WebhookBuilder, signed_request
from tests.seeding import FIRST_CHAT_ID, queued_message, seed_applicants

SECRET = "rahasia-webhook"
TELEGRAM_HEADERS = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
SOBAT_REMINDER_DAY = datetime(2023, 11, 25, 9, 0)
"""When the `reminder:sobat:5` job of the shipped recruitment runs."""


def _samples(text: str) -> dict[str, float]:
    return {
        f"{sample.name}{sorted(sample.labels.items())}": sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _label(**labels: str) -> str:
    return str(sorted(labels.items()))


async def _scrape(http: httpx.AsyncClient) -> dict[str, float]:
    response = await http.get("/metrics")
    assert response.status_code == 200
    return _samples(response.text)


async def _until(http: httpx.AsyncClient, name: str, value: float) -> dict[str, float]:
    """Scrape until `name` reaches `value` (the background sends run on their own); bounded."""
    for _ in range(200):
        found = await _scrape(http)
        if found.get(name, 0) >= value:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"{name} never reached {value}: {found}")


def _settings(tmp_path: Path, telegram: FakeBotApi, graph: FakeGraphApi, **more: Any) -> Settings:
    return Settings(
        data_dir=tmp_path,
        telegram_token=telegram.token,
        telegram_base_url=telegram.base_url,
        telegram_base_file_url=telegram.base_file_url,
        telegram_webhook_url="https://mitrabot.example/telegram/webhook",
        telegram_webhook_secret=SECRET,
        whatsapp_phone_id=graph.phone_id,
        whatsapp_token=graph.token,
        whatsapp_app_secret=graph.app_secret,
        whatsapp_verify_token=graph.verify_token,
        whatsapp_base_url=graph.root_url,
        whatsapp_api_version=graph.api_version,
        **more,
    )


@asynccontextmanager
async def _app(settings: Settings, clock: FrozenClock) -> AsyncIterator[App]:
    app = await build_app(settings, clock=clock, metered=True)
    try:
        yield app
    finally:
        await app.close()


async def _all_sent(app: App) -> dict[str, int]:
    """Once no outbox row waits or is being sent (bounded): how many were sent, per channel."""
    for _ in range(200):
        async with app.db.transaction() as session:
            states = (
                await session.execute(
                    select(OutboxMessage.channel, OutboxMessage.state, func.count()).group_by(
                        OutboxMessage.channel, OutboxMessage.state
                    )
                )
            ).all()
        if all(state == "sent" for _, state, _ in states):
            return {channel: count for channel, _, count in states}
        await asyncio.sleep(0.05)
    raise AssertionError(f"outbox never settled: {states}")


class _WhatsApp:
    """Signed webhook posts from one WhatsApp user."""

    def __init__(self, http: httpx.AsyncClient, web: Any, graph: FakeGraphApi) -> None:
        self.http, self.web, self.graph = http, web, graph
        self.build = WebhookBuilder(
            phone_id=graph.phone_id, sender=Sender(user_id="ID.77", wa_id="6281111111111")
        )

    async def post(self, payload: dict[str, Any]) -> None:
        body, signed = signed_request(payload, self.graph.app_secret)
        assert (
            await self.http.post(WHATSAPP_PATH, content=body, headers=signed)
        ).status_code == 200
        await self.web.state.background.drain()

    async def upload(self, content: bytes, mime_type: str, file_name: str) -> None:
        media = self.graph.add_media(content, mime_type, file_name)
        await self.post(self.build.document(media, file_name, mime_type, content=content))


async def test_serve_metrics_move_as_the_load_runs(tmp_path: Path, clock: FrozenClock) -> None:
    async with FakeBotApi() as telegram, FakeGraphApi() as graph:
        for user in (1001, 1002, FIRST_CHAT_ID, FIRST_CHAT_ID + 1):
            telegram.add_user(user)
        async with _app(_settings(tmp_path, telegram, graph), clock) as app:
            await seed_applicants(app.db, 2, clock.now())  # registered, not on SOBAT yet
            web = build_served(app).web
            transport = httpx.ASGITransport(app=web, client=("127.0.0.1", 40000))
            async with (
                web.router.lifespan_context(web),
                httpx.AsyncClient(transport=transport, base_url="http://t") as http,
            ):
                before = await _scrape(http)
                assert not any(
                    name.endswith("_total" + _label(channel="telegram")) for name in before
                )

                for update_id, user in ((1, 1001), (2, 1002)):
                    update = text_update(update_id, user, "/start")
                    posted = await http.post(TELEGRAM_PATH, json=update, headers=TELEGRAM_HEADERS)
                    assert posted.status_code == 200
                    await telegram.wait_for_messages(user, 1, timeout=10)

                whatsapp = _WhatsApp(http, web, graph)
                await whatsapp.post(whatsapp.build.text("halo"))
                async with app.db.transaction() as session:
                    chat = await session.scalar(
                        select(ChatSession).where(ChatSession.channel == "whatsapp")
                    )
                    assert chat is not None
                    chat.step, chat.data = "documents", {"doc": "photo"}
                await whatsapp.upload(images.pdf(), "application/pdf", "foto.pdf")
                await whatsapp.upload(images.good_photo(), "image/jpeg", "foto.jpg")
                async with app.db.transaction() as session:
                    chat = await ChatSessions(session).of_chat("whatsapp", chat.external_id)
                    assert chat is not None and chat.data.get("doc") == "ktp"  # photo taken

                clock.set(SOBAT_REMINDER_DAY)
                assert await app.jobs().run("reminder:sobat:5") == 2
                for user in (FIRST_CHAT_ID, FIRST_CHAT_ID + 1):
                    await telegram.wait_for_messages(user, 1, timeout=10)
                sent = await _all_sent(app)
                ok = "mitrabot_sends_total"
                for channel, rows in sent.items():
                    after = await _until(http, ok + _label(channel=channel, result="ok"), rows)

                for channel, updates in (("telegram", 2), ("whatsapp", 3)):
                    label = _label(channel=channel)
                    assert after[f"mitrabot_updates_received_total{label}"] == updates
                    assert after[f"mitrabot_updates_handled_total{label}"] == updates
                    assert after[f"mitrabot_update_handling_seconds_count{label}"] == updates
                for channel, rows in sent.items():  # one send per outbox row
                    assert after[ok + _label(channel=channel, result="ok")] == rows
                assert sent["telegram"] > 2  # the replies and the two reminders
                checked = "mitrabot_documents_checked_total"
                refused = _label(kind="photo", result="doc_pdf_not_accepted")
                assert after[checked + refused] == 1
                assert after[checked + _label(kind="photo", result="accepted")] == 1
                assert after["mitrabot_reminders_queued_total" + _label(kind="sobat")] == 2
                assert after["mitrabot_outbox_queued[]"] == 0
                assert after["mitrabot_outbox_oldest_due_seconds[]"] == 0

                late = clock.now() - timedelta(minutes=10)  # no worker here sends to a terminal
                async with app.db.transaction() as session:
                    await Outbox(session).enqueue(
                        [queued_message("late", "terminal", "t1", "halo", late)]
                    )
                gauges = await _scrape(http)
                assert gauges["mitrabot_outbox_queued[]"] == 1
                assert gauges["mitrabot_outbox_oldest_due_seconds[]"] >= 600

                telegram.inject_error(
                    "sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1
                )
                update = text_update(3, 1001, "/start")
                posted = await http.post(TELEGRAM_PATH, json=update, headers=TELEGRAM_HEADERS)
                assert posted.status_code == 200
                limited = ok + _label(channel="telegram", result="rate_limited")
                assert (await _until(http, limited, 1))[limited] == 1


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_the_worker_serves_metrics_on_loopback_and_counts_its_sends(
    tmp_path: Path, clock: FrozenClock
) -> None:
    async with FakeBotApi() as telegram:
        telegram.add_user(FIRST_CHAT_ID)
        port = _free_port()
        settings = Settings(
            data_dir=tmp_path,
            telegram_token=telegram.token,
            telegram_base_url=telegram.base_url,
            telegram_base_file_url=telegram.base_file_url,
            worker_metrics_port=port,
        )
        async with _app(settings, clock) as app, Bot(**_bot_options(telegram)) as bot:
            async with app.db.transaction() as session:
                await Outbox(session).enqueue(
                    [queued_message("w1", "telegram", str(FIRST_CHAT_ID), "Halo", clock.now())]
                )
            stop = asyncio.Event()
            worker = asyncio.create_task(run_worker(app, {"telegram": TelegramSender(bot)}, stop))
            sent = "mitrabot_sends_total" + _label(channel="telegram", result="ok")
            try:
                async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
                    for _ in range(200):
                        with contextlib.suppress(httpx.TransportError):
                            if (await _scrape(http)).get(sent) == 1:
                                break
                        await asyncio.sleep(0.05)
                    assert (await _scrape(http))[sent] == 1
                    assert (await http.get("/healthz")).json() == {"ok": True}
            finally:
                stop.set()
                await worker
        assert telegram.messages_to(FIRST_CHAT_ID)[0].text == "Halo"


def _bot_options(telegram: FakeBotApi) -> dict[str, str]:
    return {
        "token": telegram.token,
        "base_url": telegram.base_url,
        "base_file_url": telegram.base_file_url,
    }
