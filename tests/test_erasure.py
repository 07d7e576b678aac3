"""Erasure: an applicant on Telegram and WhatsApp uses every feature, deletes their data, and
nothing about them is left in any table or any file the bot wrote."""

from __future__ import annotations

import base64
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, text

from bot.web import WHATSAPP_PATH, build_web_app
from bot.whatsapp import WhatsAppSender, WhatsAppWebhook, whatsapp_client
from core.clock import FrozenClock
from handlers.conversation import Conversation
from handlers.flow import Dependencies
from scheduler.delivery import ChannelLimits, DeliveryWorker, Outgoing
from scheduler.progress import BroadcastProgress
from storage.db import Database
from storage.files import FileStore
from storage.inbound import InboundPayloads
from storage.models import Base, OutboxMessage
from storage.outbox import Outbox
from tests import images
from tests.chat import ELIGIBLE_CHOICES, PROFILE_ANSWERS, Chat, jobs_of
from tests.fakes.graph_api import FakeGraphApi
from tests.fakes.whatsapp_webhook import Sender, WebhookBuilder, encode, signed_request

SITI = Sender(user_id="ID.1349120865530274", wa_id="6281234567890", name="Siti")
BUDI = Sender(user_id="ID.2231120865530999", wa_id="6285799990000", name="Budi")
TELEGRAM_ID = "5123456789"
STAFF = "900"
NIK = "3528015708950003"
NEEDLES = [
    NIK,
    "Siti Aminah",
    "siti.aminah@example.com",
    "sobat.siti@example.com",
    SITI.user_id,
    TELEGRAM_ID,
    "81234567890",  # 08…, 628…, +62 8… once separators between digits are dropped
]


class RecordingSender:
    """A channel that accepts everything (Telegram here: staff and the applicant's chat)."""

    def __init__(self) -> None:
        self.sent: list[Outgoing] = []

    async def send(self, message: Outgoing) -> str | None:
        self.sent.append(message)
        return str(len(self.sent))

    async def edit(self, recipient: str, message_id: str, text: str) -> None:
        return None


@dataclass
class Rig:
    fake: FakeGraphApi
    http: httpx.AsyncClient
    web: object
    conversation: Conversation
    build: WebhookBuilder
    wamids: list[str]

    async def post(self, payload: dict) -> None:
        """A signed POST as Meta makes it (its wamid noted), handled to the end."""
        for change in payload["entry"][0]["changes"]:  # Siti's: Budi keeps his data
            messages = change["value"].get("messages", [])
            self.wamids += [m["id"] for m in messages if m.get("from") == SITI.wa_id]
        body, headers = signed_request(payload, self.fake.app_secret)
        response = await self.http.post(WHATSAPP_PATH, content=body, headers=headers)
        assert response.status_code == 200
        await self.web.state.background.drain()  # type: ignore[attr-defined]

    async def say(self, words: str, sender: Sender = SITI) -> None:
        await self.post(self.build.text(words, sender=sender))

    async def press(self, choice: str, sender: Sender = SITI) -> None:
        await self.post(self.build.button_reply(choice, choice[:20], sender=sender))


@pytest.fixture
async def rig(any_db: Database, deps: Dependencies) -> AsyncIterator[Rig]:
    async with FakeGraphApi() as fake:
        conversation = Conversation(any_db, deps)
        client = whatsapp_client(fake.phone_id, fake.token, fake.root_url, fake.api_version)
        web = build_web_app(
            any_db,
            now=deps.clock.now,
            whatsapp=WhatsAppWebhook(conversation, client, fake.phone_id),
            whatsapp_app_secret=fake.app_secret,
            whatsapp_verify_token=fake.verify_token,
        )
        transport = httpx.ASGITransport(app=web)
        async with httpx.AsyncClient(transport=transport, base_url="http://bot.test") as http:
            build = WebhookBuilder(phone_id=fake.phone_id, sender=SITI)
            yield Rig(fake, http, web, conversation, build, [])


async def _register_on_whatsapp(rig: Rig) -> None:
    await rig.say("halo")
    for choice in ["menu:register", "consent:yes", *ELIGIBLE_CHOICES]:
        await rig.press(choice)
    for kind, value in PROFILE_ANSWERS:
        await (rig.say(value) if kind == "text" else rig.press(value))
    for content in (images.good_photo(), images.good_ktp(), images.good_diploma()):
        await rig.post(rig.build.image(rig.fake.add_media(content, "image/jpeg"), content=content))
    await rig.press("sum:confirm")


async def _sobat_report(rig: Rig) -> None:
    await rig.press("menu:sobat")
    await rig.press("sb:path:new")
    await rig.say("sobat.siti@example.com")
    await rig.press("sb:stuck")
    await rig.press("sb:report")
    await rig.say("Saya Siti Aminah, NIK 3528015708950003, e-mail aktivasi tidak datang.")


async def _staff_work(rig: Rig, clock: FrozenClock) -> Chat:
    """Staff answer the report, set and publish a result, and broadcast to everyone."""
    staff = Chat(rig.conversation, STAFF)
    await staff.send("/start")
    await staff.send("/sobat_rekap")
    assert "Siti Aminah" in staff.text or "3528015708950003" in staff.text
    await _reply_through_the_outbox(rig.conversation.db, staff, clock)
    await staff.send("/sobat_jawab 1 Coba daftar ulang dengan Gmail.")
    await staff.send(f"/hasil {NIK} 1 lulus Berkas lengkap, Siti Aminah")
    await _reply_through_the_outbox(rig.conversation.db, staff, clock)
    await staff.send("/umumkan 1")
    await staff.press(staff.buttons[0])
    await staff.send("/siaran")
    await staff.send("Halo {nama}, jangan lupa SOBAT.")
    await staff.press("bca:all")
    await staff.press("bc:send")
    return staff


async def _reply_through_the_outbox(db: Database, staff: Chat, clock: FrozenClock) -> None:
    """Staff's last answer as an outbox row to their chat (chat replies go through it)."""
    async with db.transaction() as session:
        await Outbox(session).enqueue(
            [
                {
                    "dedup_key": f"reply:{STAFF}:{len(staff.text)}",
                    "channel": "telegram",
                    "recipient": STAFF,
                    "text": staff.text,
                    "state": "sent",
                    "attempts": 1,
                    "not_before": clock.now(),
                    "created_at": clock.now(),
                }
            ]
        )


async def _deliver(rig: Rig, clock: FrozenClock) -> RecordingSender:
    """Send everything queued: WhatsApp says both numbers are unreachable, so the broadcast's
    report to staff carries a failures CSV."""
    deps = rig.conversation.deps
    client = whatsapp_client(
        rig.fake.phone_id, rig.fake.token, rig.fake.root_url, rig.fake.api_version
    )
    telegram = RecordingSender()
    senders = {
        "whatsapp": WhatsAppSender(
            client, rig.conversation.db, deps.catalog, deps.config.whatsapp_template, clock.now
        ),
        "telegram": telegram,
    }
    for sender in (SITI, BUDI):
        rig.fake.inject_error(131026, to=sender.wa_id, times=None)
    limits = {name: ChannelLimits(rate=100, per_chat=100) for name in senders}
    worker = DeliveryWorker(
        rig.conversation.db,
        senders,
        limits,
        clock,
        deps.config.quiet_hours,
        deps.files,
        report=BroadcastProgress(
            rig.conversation.db, senders, deps.catalog, clock, deps.files, every=0
        ),
    )
    for _ in range(4):
        await worker.drain_once()
    return telegram


async def _dump(db: Database) -> str:
    """Every value of every row of every table, as text."""
    lines = []
    async with db.transaction() as session:
        for table in Base.metadata.sorted_tables:
            rows = await session.execute(select(table))
            lines += [f"{table.name}: {tuple(row)}" for row in rows.all()]
        version = await session.execute(text("SELECT * FROM alembic_version"))
        lines += [str(tuple(row)) for row in version.all()]
    return "\n".join(lines)


def _files(root: Path) -> str:
    """Every file under the data folder, raw: stored files, CSVs, and the SQLite database
    with its write-ahead log (free pages and old page versions included)."""
    return "\n".join(
        path.read_bytes().decode("utf-8", "replace")
        for path in sorted(root.rglob("*"))
        if path.is_file()
    )


def _found(haystack: str, wamids: list[str]) -> list[str]:
    joined = re.sub(r"(?<=\d)[\s.-](?=\d)", "", haystack)
    needles = NEEDLES + wamids + [_number_part(wamid) for wamid in wamids]
    return [needle for needle in needles if needle.casefold() in joined.casefold()]


def _number_part(wamid: str) -> str:
    """The base64 characters that encode the phone number inside a wamid."""
    blob = base64.b64decode(wamid.removeprefix("wamid."))
    return base64.b64encode(blob[:15]).decode()[:20]


async def test_deleting_leaves_no_trace_in_any_table_or_file(
    rig: Rig, clock: FrozenClock, tmp_path: Path
) -> None:
    await _register_on_whatsapp(rig)
    telegram = Chat(rig.conversation, TELEGRAM_ID)
    await telegram.send("/start")
    await telegram.press("menu:mydata")
    await telegram.press("md:link")
    await telegram.press("link:phone", verified_phone=f"+{SITI.wa_id}")
    await telegram.press("link:yes")
    assert "Terhubung" in telegram.text
    await _sobat_report(rig)
    await rig.say("halo", sender=BUDI)  # another applicant, who must keep their data
    await rig.press("menu:register", sender=BUDI)
    await rig.press("consent:yes", sender=BUDI)
    await _staff_work(rig, clock)
    clock.set(clock.now().replace(day=25, hour=9))  # the SOBAT reminder 5 days before the end
    assert await jobs_of(rig.conversation).run("reminder:sobat:5") >= 1
    telegram_sent = await _deliver(rig, clock)
    report = [m for m in telegram_sent.sent if m.recipient == STAFF and m.file_name]
    assert report and SITI.wa_id.encode() in (report[0].file or b"")
    async with rig.conversation.db.transaction() as session:  # a payload not yet handled
        await InboundPayloads(session).store(
            "whatsapp", encode(rig.build.text("masih ada?")).decode(), clock.now()
        )
    before = await _dump(rig.conversation.db) + _files(tmp_path)
    assert set(_found(before, rig.wamids)) == {*NEEDLES, *_found(before, rig.wamids)}
    assert NIK in before and "Siti Aminah" in before

    await rig.press("menu:mydata")
    await rig.press("md:delete")
    await rig.press("del:yes")

    after = await _dump(rig.conversation.db) + _files(tmp_path)
    assert _found(after, rig.wamids) == []
    assert "applicant_deleted" in after
    assert BUDI.wa_id in after  # the other applicant, and their line in the failures CSV
    async with rig.conversation.db.transaction() as session:
        rows = await session.execute(
            select(OutboxMessage).where(OutboxMessage.file_path.is_not(None))
        )
        csv_path = next(row.file_path for row in rows.scalars() if row.file_name)
    assert BUDI.wa_id.encode() in FileStore(tmp_path / "documents").read(csv_path)
