"""WhatsApp end to end: signed webhook posts into the web app, pywa sending to a fake Graph API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from bot.metrics import Metrics
from bot.web import WHATSAPP_PATH, build_web_app
from bot.whatsapp import WhatsAppSender, WhatsAppWebhook, whatsapp_client
from core.clock import FrozenClock
from handlers.conversation import Conversation
from handlers.flow import Dependencies
from scheduler.delivery import ChannelLimits, DeliveryWorker
from storage.chat_sessions import ChatSessions
from storage.db import Database
from storage.inbound import InboundPayloads
from storage.models import Applicant, ChatIdentity, InboundPayload, OutboxMessage
from tests import images
from tests.chat import ELIGIBLE_CHOICES, PROFILE_ANSWERS
from tests.fakes.graph_api import FakeGraphApi
from tests.fakes.whatsapp_webhook import (
    Sender,
    WebhookBuilder,
    encode,
    sign,
    signed_request,
    verification_query,
)

USER = Sender(user_id="ID.1349120865530274", wa_id="6281234567890", name="Siti")


@dataclass
class WhatsAppRig:
    """The web app with the WhatsApp channel, a fake Graph API, and a payload builder."""

    fake: FakeGraphApi
    http: httpx.AsyncClient
    web: Any
    conversation: Conversation
    build: WebhookBuilder
    webhook: WhatsAppWebhook

    async def post(self, payload: dict[str, Any]) -> httpx.Response:
        """A signed POST, as Meta makes it; waits for the work started after the 200."""
        body, headers = signed_request(payload, self.fake.app_secret)
        response = await self.http.post(WHATSAPP_PATH, content=body, headers=headers)
        await self.web.state.background.drain()
        return response

    def texts(self) -> list[str]:
        return [message.text or "" for message in self.fake.messages_to(USER.wa_id or "")]

    def last(self) -> Any:
        return self.fake.messages_to(USER.wa_id or "")[-1]


@asynccontextmanager
async def open_rig(
    db: Database, deps: Dependencies, metrics: Metrics | None = None, metrics_token: str = ""
) -> AsyncIterator[WhatsAppRig]:
    """The rig; with `metrics`, the web app's and each send's (and /metrics' token)."""
    async with FakeGraphApi() as fake:
        conversation = Conversation(db, deps)
        client = whatsapp_client(fake.phone_id, fake.token, fake.root_url, fake.api_version)
        observe = metrics.count_send if metrics is not None else None
        webhook = WhatsAppWebhook(conversation, client, fake.phone_id, observe=observe)
        web = build_web_app(
            db,
            now=deps.clock.now,
            whatsapp=webhook,
            whatsapp_app_secret=fake.app_secret,
            whatsapp_verify_token=fake.verify_token,
            metrics=metrics,
            metrics_token=metrics_token,
        )
        transport = httpx.ASGITransport(app=web)
        async with httpx.AsyncClient(transport=transport, base_url="http://bot.test") as http:
            build = WebhookBuilder(phone_id=fake.phone_id, sender=USER)
            yield WhatsAppRig(fake, http, web, conversation, build, webhook)


@pytest.fixture
async def rig(db: Database, deps: Dependencies) -> AsyncIterator[WhatsAppRig]:
    async with open_rig(db, deps) as opened:
        yield opened


async def _applicants(db: Database) -> int:
    async with db.transaction() as session:
        return (await session.execute(select(func.count(Applicant.id)))).scalar_one()


async def test_the_webhook_handshake(rig: WhatsAppRig) -> None:
    query = verification_query(rig.fake.verify_token, challenge="8231")
    response = await rig.http.get(WHATSAPP_PATH, params=query)
    assert response.status_code == 200 and response.text == "8231"
    wrong = await rig.http.get(WHATSAPP_PATH, params=verification_query("tebakan", "1"))
    assert wrong.status_code == 403


async def test_unsigned_forged_and_malformed_posts_are_refused_and_change_nothing(
    rig: WhatsAppRig,
) -> None:
    body = encode(rig.build.text("halo"))
    missing = await rig.http.post(WHATSAPP_PATH, content=body)
    assert missing.status_code == 401
    forged = await rig.http.post(
        WHATSAPP_PATH, content=body, headers={"X-Hub-Signature-256": sign(body, "bukan-rahasia")}
    )
    assert forged.status_code == 403
    tampered = body.replace(b"halo", b"hola")
    replayed_signature = {"X-Hub-Signature-256": sign(body, rig.fake.app_secret)}
    assert (
        await rig.http.post(WHATSAPP_PATH, content=tampered, headers=replayed_signature)
    ).status_code == 403
    junk = b"{not json"
    malformed = await rig.http.post(
        WHATSAPP_PATH,
        content=junk,
        headers={"X-Hub-Signature-256": sign(junk, rig.fake.app_secret)},
    )
    assert malformed.status_code == 400
    await rig.web.state.background.drain()
    assert await _applicants(rig.conversation.db) == 0
    assert rig.fake.sent == []


async def test_a_message_is_answered_with_lists_that_fit_whatsapp(rig: WhatsAppRig) -> None:
    response = await rig.post(rig.build.text("halo"))
    assert response.status_code == 200
    sent = rig.fake.messages_to(USER.wa_id or "")
    assert "Selamat datang" in sent[0].text
    lists = [message for message in sent if message.rows]
    assert lists, "the menu (11 choices) must come as list messages"
    assert all(len(message.rows) <= 10 for message in lists)
    assert sum(len(message.rows) for message in lists) == 11
    rows = [row for message in lists for row in message.rows]
    assert all(len(row.title) <= 24 for row in rows)
    # Long labels get their short title from the catalog, not a cut ("Panduan daftar di SOB…").
    assert not any(row.title.endswith("…") for row in rows)
    sobat = next(row for row in rows if row.id == "menu:sobat")
    assert (sobat.title, sobat.description) == ("🌐 Panduan SOBAT", "🌐 Panduan daftar di SOBAT")
    status = next(row for row in rows if row.id == "menu:status")
    assert status.description is None  # a label that fits is not repeated


async def test_a_replayed_message_and_two_identical_posts_at_once_are_answered_once(
    rig: WhatsAppRig,
) -> None:
    payload = rig.build.text("halo")
    await rig.post(payload)
    answered = len(rig.fake.sent)
    await rig.post(payload)  # Meta re-delivers
    body, headers = signed_request(payload, rig.fake.app_secret)
    await asyncio.gather(
        *(rig.http.post(WHATSAPP_PATH, content=body, headers=headers) for _ in range(2))
    )
    await rig.web.state.background.drain()
    assert len(rig.fake.sent) == answered
    assert await _applicants(rig.conversation.db) == 1


async def test_a_payload_for_another_number_is_ignored(rig: WhatsAppRig) -> None:
    other = WebhookBuilder(phone_id="999999999", sender=USER)
    assert (await rig.post(other.text("halo"))).status_code == 200
    assert await _applicants(rig.conversation.db) == 0


async def _choose(rig: WhatsAppRig, choice: str) -> None:
    """Press a reply button or a list row the bot offered last."""
    offered = [
        (button.id, button.title) for message in rig.fake.sent for button in message.buttons
    ] + [(row.id, row.title) for message in rig.fake.sent for row in message.rows]
    titles = dict(offered)
    assert choice in titles, f"{choice} was not offered"
    last = rig.fake.sent[-1]
    if any(row.id == choice for row in last.rows) or any(
        row.id == choice for message in rig.fake.sent[-2:] for row in message.rows
    ):
        await rig.post(rig.build.list_reply(choice, titles[choice]))
    else:
        await rig.post(rig.build.button_reply(choice, titles[choice]))


async def _photo(rig: WhatsAppRig, content: bytes) -> None:
    media = rig.fake.add_media(content, "image/jpeg")
    await rig.post(rig.build.image(media, content=content))


async def test_a_complete_registration_over_whatsapp(rig: WhatsAppRig) -> None:
    await rig.post(rig.build.text("halo"))
    await _choose(rig, "menu:register")
    await _choose(rig, "consent:yes")
    for choice in ELIGIBLE_CHOICES:
        await _choose(rig, choice)
    for kind, value in PROFILE_ANSWERS:
        if kind == "text":
            await rig.post(rig.build.text(value))
        else:
            await _choose(rig, value)
    for content in (images.good_photo(), images.good_ktp(), images.good_diploma()):
        await _photo(rig, content)
    await _choose(rig, "sum:confirm")
    assert "nomor registrasi PMK24-00001" in "\n".join(rig.texts())
    async with rig.conversation.db.transaction() as session:
        identity = (await session.execute(select(ChatIdentity))).scalar_one()
        applicant = await session.get(Applicant, identity.applicant_id)
    assert identity.external_id == USER.user_id and identity.address == USER.wa_id
    assert identity.verified_phone == f"+{USER.wa_id}"
    assert applicant is not None and applicant.registration_number == "PMK24-00001"


async def test_a_sticker_where_text_is_asked_gets_a_polite_answer(rig: WhatsAppRig) -> None:
    await rig.post(rig.build.text("halo"))
    media = rig.fake.add_media(b"RIFF....WEBP", "image/webp")
    await rig.post(rig.build.sticker(media))
    assert "bukan file, foto, atau stiker" in "\n".join(rig.texts()[-3:])


# ----------------------------------------------------------------------------- the outbox


async def _queue(
    db: Database, clock: FrozenClock, text: str = "Pengingat: lengkapi berkas."
) -> None:
    async with db.transaction() as session:
        applicant = (await session.execute(select(Applicant))).scalar_one()
        session.add(
            OutboxMessage(
                dedup_key=f"test:{text}",
                applicant_id=applicant.id,
                channel="whatsapp",
                recipient=USER.wa_id,
                text=text,
                urgent=True,
                state="queued",
                attempts=0,
                not_before=clock.now(),
                created_at=clock.now(),
            )
        )


def _worker(
    rig: WhatsAppRig, clock: FrozenClock, sender: WhatsAppSender | None = None
) -> DeliveryWorker:
    """A delivery worker with its own sender (a process of its own), or with `sender`."""
    deps = rig.conversation.deps
    client = whatsapp_client(
        rig.fake.phone_id, rig.fake.token, rig.fake.root_url, rig.fake.api_version
    )
    sender = sender or WhatsAppSender(
        client, rig.conversation.db, deps.catalog, deps.config.whatsapp_template, clock.now
    )
    return DeliveryWorker(
        rig.conversation.db,
        {"whatsapp": sender},
        {"whatsapp": ChannelLimits(rate=100, per_chat=100)},
        clock,
        deps.config.quiet_hours,
        deps.files,
    )


async def _outbox(db: Database) -> OutboxMessage:
    async with db.transaction() as session:
        query = select(OutboxMessage).where(OutboxMessage.dedup_key.like("test:%"))
        return (await session.execute(query)).scalar_one()


async def test_inside_the_window_free_form_outside_it_the_template(
    rig: WhatsAppRig, clock: FrozenClock
) -> None:
    await rig.post(rig.build.text("halo"))
    await _queue(rig.conversation.db, clock)
    await _worker(rig, clock).drain_once()
    assert rig.last().type == "text" and "lengkapi berkas" in rig.last().text
    clock.advance(timedelta(hours=25))
    await _queue(rig.conversation.db, clock, "Hasil Tahap 1 sudah diumumkan.\nCek status.")
    await _worker(rig, clock).drain_once()
    template = rig.last().template
    assert template is not None and template.name == "pemberitahuan_mitra"
    assert template.parameters == ["Hasil Tahap 1 sudah diumumkan. · Cek status."]


async def test_a_turns_replies_need_no_window_query_until_the_window_closes(
    rig: WhatsAppRig, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str] = []
    original = ChatSessions.last_inbound_at

    async def counted(self: ChatSessions, channel: str, address: str) -> datetime | None:
        asked.append(address)
        return await original(self, channel, address)

    monkeypatch.setattr(ChatSessions, "last_inbound_at", counted)
    await rig.post(rig.build.text("halo"))
    await rig.post(rig.build.text("halo lagi"))
    assert rig.fake.messages_to(USER.wa_id or "") and all(
        message.template is None for message in rig.fake.messages_to(USER.wa_id or "")
    )
    assert asked == []  # the turn noted the message: its replies are inside the window
    clock.advance(timedelta(hours=25))
    await _queue(rig.conversation.db, clock, "Hasil Tahap 1 sudah diumumkan.")
    await _worker(rig, clock, rig.webhook.sender).drain_once()
    assert asked == [USER.wa_id] and rig.last().template is not None


def test_the_remembered_moments_keep_the_latest_and_forget_the_oldest_chats(
    rig: WhatsAppRig, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bot.whatsapp

    monkeypatch.setattr(bot.whatsapp, "HEARD_KEPT", 2)
    sender = rig.webhook.sender
    now = clock.now()
    sender.heard_from("621", now)
    sender.heard_from("621", now - timedelta(hours=1))  # an older moment from the database
    sender.heard_from("622", now)
    sender.heard_from("623", now)
    assert sender.heard == {"622": now, "623": now}


async def test_reports_alone_are_recorded_with_their_payload_settled_once(
    rig: WhatsAppRig, clock: FrozenClock, db: Database
) -> None:
    await rig.post(rig.build.text("halo"))
    await _queue(rig.conversation.db, clock)
    await _worker(rig, clock).drain_once()
    first = await _outbox(db)
    await rig.post(rig.build.status(first.platform_message_id, "delivered"))
    assert (await _outbox(db)).platform_status == "delivered"
    assert await _inbound_rows(db) == 0
    async with db.transaction() as session:  # a report stored, then handled by another process
        stored = InboundPayload(channel="whatsapp", body="{}", received_at=clock.now())
        session.add(stored)
        await session.flush()
        assert await InboundPayloads(session).settle(stored.id, clock.now())
    report = rig.build.status(first.platform_message_id, "read")
    assert await rig.webhook(report, stored.id) is True
    assert (await _outbox(db)).platform_status == "delivered"  # not recorded a second time


async def test_a_late_131047_sends_the_template_and_statuses_keep_their_order(
    rig: WhatsAppRig, clock: FrozenClock
) -> None:
    await rig.post(rig.build.text("halo"))
    await _queue(rig.conversation.db, clock)
    await _worker(rig, clock).drain_once()
    first = await _outbox(rig.conversation.db)
    for status in ("read", "sent", "delivered"):  # out of order, as Meta may send them
        await rig.post(rig.build.status(first.platform_message_id, status))
    assert (await _outbox(rig.conversation.db)).platform_status == "read"
    await rig.post(rig.build.status(first.platform_message_id, "failed", error=131047))
    row = await _outbox(rig.conversation.db)
    assert row.state == "queued" and row.template_only
    await _worker(rig, clock).drain_once()
    assert rig.last().template is not None
    assert (await _outbox(rig.conversation.db)).state == "sent"


async def test_platform_errors_map_to_retry_unreachable_and_backoff(
    rig: WhatsAppRig, clock: FrozenClock
) -> None:
    await rig.post(rig.build.text("halo"))
    await _queue(rig.conversation.db, clock)
    rig.fake.inject_error(131026, to=USER.wa_id)
    await _worker(rig, clock).drain_once()
    assert (await _outbox(rig.conversation.db)).state == "unreachable"


async def test_a_rate_limit_requeues_without_losing_the_message(
    rig: WhatsAppRig, clock: FrozenClock
) -> None:
    await rig.post(rig.build.text("halo"))
    await _queue(rig.conversation.db, clock)
    rig.fake.inject_error(130429)
    await _worker(rig, clock).drain_once()
    row = await _outbox(rig.conversation.db)
    assert row.state == "queued" and row.attempts == 0
    clock.advance(timedelta(seconds=6))
    await _worker(rig, clock).drain_once()
    assert (await _outbox(rig.conversation.db)).state == "sent"


async def _inbound_rows(db: Database) -> int:
    """Stored payloads not handled yet."""
    async with db.transaction() as session:
        query = select(func.count(InboundPayload.id)).where(InboundPayload.handled_at.is_(None))
        return (await session.execute(query)).scalar_one()


async def test_an_accepted_message_survives_a_crash_before_it_was_handled(
    rig: WhatsAppRig, db: Database, deps: Dependencies
) -> None:
    never = asyncio.Event()

    async def stuck(payload: dict[str, Any]) -> None:
        await never.wait()  # the process dies before handling it

    crashed = build_web_app(
        db, now=deps.clock.now, whatsapp=stuck, whatsapp_app_secret=rig.fake.app_secret
    )
    body, headers = signed_request(rig.build.text("halo"), rig.fake.app_secret)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=crashed), base_url="http://bot.test"
    ) as http:
        assert (await http.post(WHATSAPP_PATH, content=body, headers=headers)).status_code == 200
    for task in crashed.state.background.tasks:
        task.cancel()
    assert await _inbound_rows(db) == 1 and rig.fake.sent == []

    intake = rig.web.state.intake  # the restarted process
    assert await intake.sweep(orphan_after=timedelta(0)) == 1
    await rig.web.state.background.drain()
    assert "Selamat datang" in rig.fake.messages_to(USER.wa_id or "")[0].text
    assert await _inbound_rows(db) == 0
    answered = len(rig.fake.sent)
    async with db.transaction() as session:  # a second sweep of the same body: no repeat
        session.add(
            InboundPayload(channel="whatsapp", body=body.decode(), received_at=deps.clock.now())
        )
    await intake.sweep(orphan_after=timedelta(0))
    await rig.web.state.background.drain()
    assert len(rig.fake.sent) == answered and await _inbound_rows(db) == 0


@pytest.mark.parametrize("at_hand", [1024, 1, 0])
async def test_a_burst_beyond_the_limit_waits_in_the_database_and_is_all_answered(
    rig: WhatsAppRig, monkeypatch: pytest.MonkeyPatch, at_hand: int
) -> None:
    """Over the limit, the first `at_hand` payloads wait in memory, the rest are read again."""
    import bot.intake

    monkeypatch.setattr(bot.intake, "MAX_IN_FLIGHT", 1)
    monkeypatch.setattr(bot.intake, "WAITING_IN_MEMORY", at_hand)
    users = [Sender(user_id=f"ID.{n}", wa_id=f"62811000000{n}") for n in range(4)]
    posts = [
        signed_request(rig.build.text("halo", sender=user), rig.fake.app_secret) for user in users
    ]
    answers = await asyncio.gather(
        *(rig.http.post(WHATSAPP_PATH, content=body, headers=headers) for body, headers in posts)
    )
    assert [answer.status_code for answer in answers] == [200] * 4
    for _ in range(20):  # each finished payload starts the next one waiting
        if not rig.web.state.background.tasks:
            break
        await rig.web.state.background.drain()
    for user in users:
        assert "Selamat datang" in rig.fake.messages_to(user.wa_id or "")[0].text
    assert await _inbound_rows(rig.conversation.db) == 0
