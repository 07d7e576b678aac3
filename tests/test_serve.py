"""`mitrabot serve`: one web app with Telegram (webhook mode) and WhatsApp, /healthz and the
staff desk."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from bot.app import build_app
from bot.serve import ServeError, build_served
from bot.settings import Settings
from bot.web import TELEGRAM_PATH, WHATSAPP_PATH
from core.clock import FrozenClock
from tests.fakes.graph_api import FakeGraphApi
from tests.fakes.telegram_api import FakeBotApi, text_update
from tests.fakes.whatsapp_webhook import Sender, WebhookBuilder, signed_request

WEBHOOK_URL = "https://mitrabot.example/telegram/webhook"
SECRET = "rahasia-webhook"


async def test_serve_hosts_both_channels_and_a_health_check(
    tmp_path: Path, clock: FrozenClock
) -> None:
    async with FakeBotApi() as telegram, FakeGraphApi() as graph:
        telegram.add_user(1001)
        settings = Settings(
            data_dir=tmp_path,
            telegram_token=telegram.token,
            telegram_base_url=telegram.base_url,
            telegram_base_file_url=telegram.base_file_url,
            telegram_webhook_url=WEBHOOK_URL,
            telegram_webhook_secret=SECRET,
            whatsapp_phone_id=graph.phone_id,
            whatsapp_token=graph.token,
            whatsapp_app_secret=graph.app_secret,
            whatsapp_verify_token=graph.verify_token,
            whatsapp_base_url=graph.root_url,
            whatsapp_api_version=graph.api_version,
        )
        app = await build_app(settings, clock=clock, metered=True)
        try:
            served = build_served(app)
            assert sorted(served.senders) == ["telegram", "whatsapp"]
            web = served.web
            async with web.router.lifespan_context(web):
                assert telegram.webhook is not None
                assert telegram.webhook["url"] == WEBHOOK_URL
                assert telegram.webhook["secret_token"] == SECRET
                transport = httpx.ASGITransport(app=web)
                async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
                    health = await http.get("/healthz")
                    assert health.status_code == 200 and health.json() == {"ok": True}
                    desk = await http.get("/desk/login")  # the staff desk is always there
                    assert desk.status_code == 200 and "Masuk ke Meja Petugas" in desk.text

                    update = text_update(1, 1001, "/start")
                    refused = await http.post(TELEGRAM_PATH, json=update)
                    assert refused.status_code == 403
                    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
                    accepted = await http.post(TELEGRAM_PATH, json=update, headers=headers)
                    assert accepted.status_code == 200
                    await telegram.wait_for_messages(1001, 1, timeout=10)
                    assert "Selamat datang" in telegram.messages_to(1001)[0].text

                    user = Sender(user_id="ID.77", wa_id="6281111111111")
                    payload = WebhookBuilder(phone_id=graph.phone_id, sender=user).text("halo")
                    body, signed = signed_request(payload, graph.app_secret)
                    posted = await http.post(WHATSAPP_PATH, content=body, headers=signed)
                    assert posted.status_code == 200
                    await web.state.background.drain()
                    assert "Selamat datang" in (graph.messages_to("6281111111111")[0].text or "")
        finally:
            await app.close()


async def test_serve_explains_what_to_set_when_nothing_is_configured(
    tmp_path: Path, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env
    app = await build_app(Settings(data_dir=tmp_path), clock=clock, metered=True)
    try:
        with pytest.raises(ServeError, match="nothing to serve"):
            build_served(app)
        half = app.settings.model_copy(update={"whatsapp_phone_id": "123"})
        app.settings = half
        with pytest.raises(ServeError, match="WhatsApp needs all of"):
            build_served(app)
    finally:
        await app.close()
