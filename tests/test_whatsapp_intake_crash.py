"""A real `mitrabot serve` (WhatsApp webhook) killed with messages in hand: after a restart every
message is answered, and none twice outside the documented window.

Each signed POST is stored before its 200; a turn's replies are outbox rows written with the
turn, claimed by the process that handles it. The kill leaves stored payloads (swept by the next
start) and claimed replies (sent by its worker once their lease has run out); only a reply whose
request had reached Meta at the kill, and was not yet recorded as sent, goes out twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from bot.web import WHATSAPP_PATH
from storage.db import Database
from tests.fakes.graph_api import FakeGraphApi
from tests.fakes.telegram_api import FakeBotApi
from tests.fakes.whatsapp_webhook import Sender, WebhookBuilder, signed_request
from tests.test_delivery_crash import PATIENCE, stop_process, wait_for, worker_environment
from tests.test_telegram_intake_crash import Bot, _free_port, _unsettled, _waiting

MESSAGES = 30
CONCURRENCY = 4
RESPONSE_DELAY = 0.05
KILL_AFTER = 3


def _user(number: int) -> Sender:
    return Sender(user_id=f"ID.{900000 + number}", wa_id=f"62812{number:07d}", name="Pelamar")


@pytest.fixture
async def graph() -> AsyncIterator[FakeGraphApi]:
    async with FakeGraphApi() as server:
        server.response_delay = RESPONSE_DELAY
        yield server


async def test_a_killed_serve_loses_no_whatsapp_message_and_answers_none_twice(
    any_db: Database, graph: FakeGraphApi, tmp_path: Path
) -> None:
    port = _free_port()
    async with FakeBotApi() as telegram:  # only for the settings the helper fills in
        env = worker_environment(any_db, telegram, tmp_path / "data")
    env.pop("MITRABOT_TELEGRAM_TOKEN")
    env.update(
        graph.settings(),
        MITRABOT_WHATSAPP_CONCURRENCY=str(CONCURRENCY),
        MITRABOT_WHATSAPP_RATE="100",
        MITRABOT_WHATSAPP_CHAT_RATE="10",
        MITRABOT_INBOUND_ORPHAN_SECONDS="1",
        MITRABOT_INBOUND_SWEEP_SECONDS="0.5",
        MITRABOT_HOST="127.0.0.1",
        MITRABOT_PORT=str(port),
    )
    users = [_user(number) for number in range(1, MESSAGES + 1)]
    reference = _user(0)
    bot = Bot("serve", env, tmp_path)
    try:
        first = await bot.start()
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:

            async def send(user: Sender) -> None:
                payload = WebhookBuilder(phone_id=graph.phone_id, sender=user).text("/start")
                body, headers = signed_request(payload, graph.app_secret)
                posted = await http.post(WHATSAPP_PATH, content=body, headers=headers)
                assert posted.status_code == 200, posted.text

            async def ready() -> bool:
                bot.alive(first)
                with contextlib.suppress(httpx.TransportError):
                    return (await http.get("/healthz")).status_code == 200
                return False

            def answers(user: Sender) -> list[str]:
                return [message.text or "" for message in graph.messages_to(user.wa_id or "")]

            await wait_for("serve ready", ready, PATIENCE, bot.logs)
            await send(reference)
            await graph.wait_for_messages(1, timeout=PATIENCE, to=reference.wa_id)
            await graph.wait_until_idle(timeout=PATIENCE)
            per_start = len(answers(reference))

            await asyncio.gather(*(send(user) for user in users))

            async def some_answered() -> bool:
                bot.alive(first)
                return sum(bool(answers(user)) for user in users) >= KILL_AFTER

            await wait_for(f"{KILL_AFTER} users answered", some_answered, PATIENCE, bot.logs)
            first.kill()  # SIGKILL: no clean-up of any kind
            await asyncio.wait_for(first.wait(), 10)
            await graph.wait_until_idle(timeout=PATIENCE)  # requests in flight still land

            answered_at_kill = sum(len(answers(user)) == per_start for user in users)
            stored_at_kill = await _waiting(any_db)
            unsettled = await _unsettled(any_db)
            assert answered_at_kill < MESSAGES, "nothing was in hand at the kill"
            wa_of = {int(user.wa_id or ""): user for user in users}
            window = sorted(
                (recipient, text)
                for recipient, text, _ in unsettled
                if text in answers(wa_of[recipient])
            )

            second = await bot.start()

            async def all_handled() -> bool:
                bot.alive(second)
                return (
                    await _waiting(any_db) == 0
                    and not await _unsettled(any_db)
                    and all(len(answers(user)) >= per_start for user in users)
                )

            await wait_for("every message answered", all_handled, PATIENCE, bot.logs)
            await graph.wait_until_idle(timeout=PATIENCE)
            await stop_process(second, signal.SIGTERM)
            assert second.returncode in (0, -signal.SIGTERM), bot.tails()
    finally:
        await bot.close()

    repeated = sorted(
        (int(user.wa_id or ""), text)
        for user in users
        for text, times in Counter(answers(user)).items()
        for _ in range(times - 1)
    )
    print(
        f"whatsapp serve on {any_db.url.get_backend_name()}: {answered_at_kill} answered at the "
        f"kill, {stored_at_kill} stored and not done, {len(unsettled)} replies not recorded as "
        f"sent, {len(window)} of them already at Meta (the window); repeated: {len(repeated)}"
    )
    assert repeated == window
