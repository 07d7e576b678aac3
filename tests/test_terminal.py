"""The terminal channel: what the bot sends on its own reaches the terminal user, numbers of the
buttons never collide, and the outbox rows for the terminal are marked sent."""

from __future__ import annotations

import asyncio
import queue
import re
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.app import App
from bot.settings import Settings
from bot.terminal import Screen, chat, to_incoming
from core.catalog import Catalog
from core.clock import FrozenClock
from core.recruitment import RecruitmentConfig
from core.types import Button
from handlers.conversation import Conversation
from scheduler.delivery import Outgoing
from services.broadcasts import Audience, create_broadcast
from storage.db import Database
from storage.models import Applicant, Broadcast, OutboxMessage, SobatReport
from storage.outbox import Outbox
from tests.chat import Chat
from tests.seeding import queued_message, seed_applicants, seeded_number

STAFF_ID = "900"  # named as staff in the test settings


class Keyboard:
    """Lines typed into a terminal session by the test; `close` is Ctrl-D."""

    def __init__(self) -> None:
        self.lines: queue.Queue[str | None] = queue.Queue()

    def type(self, line: str) -> None:
        self.lines.put(line)

    def close(self) -> None:
        self.lines.put(None)

    def read_line(self, prompt: str) -> str:
        line = self.lines.get(timeout=30)
        if line is None:
            raise EOFError
        return line


class Terminal:
    """A `mitrabot chat` session run in the test's event loop, its screen kept as text."""

    def __init__(self, app: App, user_id: str) -> None:
        self.keyboard = Keyboard()
        self.written: list[str] = []
        self.task = asyncio.create_task(
            chat(app, user_id, self.keyboard.read_line, self.written.append)
        )

    @property
    def screen(self) -> str:
        return "".join(self.written)

    async def shows(self, wanted: str) -> None:
        """Wait until `wanted` is on the screen (the session delivers as messages come due)."""

        async def shown() -> bool:
            return wanted in self.screen

        await _eventually(shown, f"{wanted!r} never shown")

    async def end(self) -> None:
        self.keyboard.close()
        await asyncio.wait_for(self.task, 30)


async def _eventually(condition: Callable[[], Awaitable[bool]], failure: str) -> None:
    """Wait (a bounded number of short sleeps) until `condition` holds."""
    for _ in range(600):
        if await condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(failure)


def _app(tmp_path: Path, config: RecruitmentConfig, conversation: Conversation) -> App:
    return App(Settings(data_dir=tmp_path), config, conversation.db, conversation)


async def _outbox(conversation: Conversation) -> list[OutboxMessage]:
    async with conversation.db.transaction() as session:
        query = select(OutboxMessage).order_by(OutboxMessage.id)
        rows = (await session.execute(query)).scalars()
        return [row for row in rows if not row.dedup_key.startswith("turn:")]  # not replies


async def _broadcast(conversation: Conversation, config: RecruitmentConfig, text: str) -> int:
    async with conversation.db.transaction() as session:
        broadcast = await create_broadcast(
            session,
            text=text,
            audience=Audience("complete"),
            created_by=f"telegram:{STAFF_ID}",
            now=conversation.deps.clock.now(),
            quiet_hours=config.quiet_hours,
        )
        return broadcast.id


async def _seeded(session: AsyncSession) -> Applicant:
    query = select(Applicant).where(Applicant.registration_number == seeded_number(1))
    return (await session.execute(query)).scalar_one()


def _number_of(label: str, screen: str) -> str:
    """The number the screen gives the (last) button labelled `label`."""
    *_, number = re.findall(rf"\[(\d+)\] {re.escape(label)}", screen)
    return number


async def test_results_staff_answers_broadcasts_and_reminders_reach_the_terminal_user(
    tmp_path: Path,
    config: RecruitmentConfig,
    catalog: Catalog,
    clock: FrozenClock,
    conversation: Conversation,
) -> None:
    (user,) = await seed_applicants(conversation.db, 1, clock.now(), channel="terminal")
    terminal = Terminal(_app(tmp_path, config, conversation), user)
    await terminal.shows("[1]")  # the answer to /start

    staff = Chat(conversation, STAFF_ID)
    await staff.send("/start")
    await staff.send(f"/hasil {seeded_number(1)} 1 lulus")
    await staff.send("/umumkan 1")
    await staff.press("res:publish")
    (notice,) = [row for row in await _outbox(conversation) if row.recipient == user]
    await terminal.shows(notice.text)

    async with conversation.db.transaction() as session:
        applicant = await _seeded(session)
        report = SobatReport(
            applicant_id=applicant.id,
            step="activate",
            text="E-mail aktivasi tidak datang.",
            created_at=clock.now(),
        )
        session.add(report)
        await session.flush()
        report_id = report.id
    await staff.send(f"/sobat_jawab {report_id} Coba daftar ulang dengan Gmail.")
    await terminal.shows("Coba daftar ulang dengan Gmail.")

    broadcast_id = await _broadcast(conversation, config, "Halo {nama}, bawa KTP asli ya.")
    await terminal.shows("Halo Pendaftar 1, bawa KTP asli ya.")

    async def done() -> bool:  # marked sent, then settled, right after it is shown
        async with conversation.db.transaction() as session:
            broadcast = await session.get(Broadcast, broadcast_id)
            return broadcast is not None and broadcast.state == "done"

    await _eventually(done, "the broadcast never completed")
    # The staff member who sent it (on Telegram) gets the final report there.
    report_key = f"broadcast:{broadcast_id}:report"
    (report_row,) = [row for row in await _outbox(conversation) if row.dedup_key == report_key]
    assert (report_row.channel, report_row.recipient) == ("telegram", STAFF_ID)

    clock.set(datetime(2023, 11, 25, 9, 0))  # 5 days before the deadline: the SOBAT reminder
    stop_label = catalog.text("id", "rem_stop")
    jobs = _app(tmp_path, config, conversation).jobs()
    assert await jobs.run("reminder:sobat:5") == 1
    await terminal.shows(stop_label)
    terminal.keyboard.type(_number_of(stop_label, terminal.screen))
    await terminal.shows(catalog.text("id", "reminders_stopped"))
    await terminal.end()

    async with conversation.db.transaction() as session:
        applicant = await _seeded(session)
        assert applicant.reminders_off_at is not None  # the reminder's own button worked
    mine = [row for row in await _outbox(conversation) if row.channel == "terminal"]
    assert len(mine) == 4 and {row.state for row in mine} == {"sent"}


async def test_messages_queued_while_away_are_shown_first_at_the_next_session(
    tmp_path: Path,
    config: RecruitmentConfig,
    clock: FrozenClock,
    conversation: Conversation,
) -> None:
    (user,) = await seed_applicants(conversation.db, 1, clock.now(), channel="terminal")
    (other,) = await seed_applicants(conversation.db, 1, clock.now(), start=2, channel="terminal")
    await _broadcast(conversation, config, "Jadwal tes untuk {nomor} sudah terbit.")
    terminal = Terminal(_app(tmp_path, config, conversation), user)
    await terminal.shows("Jadwal tes untuk PMK24-00001 sudah terbit.")
    await terminal.end()
    assert terminal.written[0].startswith("Jadwal tes")  # before the /start answer
    assert "PMK24-00002" not in terminal.screen  # another terminal user's message is theirs
    states = {row.recipient: row.state for row in await _outbox(conversation)}
    assert states == {user: "sent", other: "queued"}

    again = Terminal(_app(tmp_path, config, conversation), user)
    await again.end()
    assert "Jadwal tes" not in again.screen  # shown once


def test_two_button_groups_after_one_answer_never_share_a_number() -> None:
    written: list[str] = []
    screen = Screen(written.append)
    screen.arrived(
        Outgoing("siti", "Pendaftaran tercatat.", buttons=(Button(id="sobat", label="Panduan"),))
    )
    menu = (Button(id="menu:status", label="Status"), Button(id="x", label="Y"))
    screen.arrived(Outgoing("siti", "Menu", buttons=menu))
    shown = "".join(written)
    assert "[1] Panduan" in shown and "[2] Status" in shown and "[3] Y" in shown
    assert to_incoming("2", "siti", screen.choices).choice == "menu:status"
    assert to_incoming("1", "siti", screen.choices).choice == "sobat"


async def test_a_session_claims_only_the_messages_to_its_own_user(
    any_db: Database, clock: FrozenClock
) -> None:
    now = clock.now()
    async with any_db.transaction() as session:
        await Outbox(session).enqueue(
            [
                queued_message(
                    f"test:{channel}:{recipient}", channel, recipient, f"untuk {recipient}", now
                )
                for channel, recipient in (
                    ("terminal", "siti"),
                    ("terminal", "budi"),
                    ("telegram", "siti"),
                )
            ]
        )
    async with any_db.transaction() as session:
        claimed = await Outbox(session).claim(
            "t", now, 10, timedelta(seconds=60), False, ["terminal"], "siti"
        )
    assert [(row.channel, row.recipient) for row in claimed] == [("terminal", "siti")]
