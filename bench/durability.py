"""Nothing lost, nothing twice: `mitrabot serve` (Telegram and WhatsApp webhooks) killed three
times under load.

200 applicants (100 on Telegram, 100 on WhatsApp) each walk the first ten steps of the
registration (`/start`, the menu's register button, consent, seven eligibility answers): 2,000
updates, posted to a real `mitrabot serve` process as the platforms post them (a POST refused or
unanswered is posted again, as Telegram and Meta do) against the loopback fakes of the Bot API
and the Graph API. An applicant sends the next step once the whole answer to the previous one
arrived (a person reading). When a quarter, a half and three quarters of the expected replies
have arrived, the process is SIGKILLed and started again at once.

Printed per database: updates posted, replies expected and received, **lost** (expected, never
received), **duplicated** (received more often than expected), and the documented window: the
replies the platform had received at a kill while the database did not yet record them as sent
(they are sent again once, by the restarted worker, after the lease). A run is valid when lost is
0 and every duplicate is in the window (exit status 1 otherwise).

    python bench/durability.py                  # SQLite and PostgreSQL, ~1-3 min each
    python bench/durability.py --backend sqlite --users 50
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import signal
import socket
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.databases import fresh_database, usable_backends
from bot.web import TELEGRAM_PATH, WHATSAPP_PATH
from storage.db import Database
from storage.models import InboundPayload, OutboxMessage
from tests.chat import ELIGIBLE_CHOICES
from tests.fakes.graph_api import FakeGraphApi
from tests.fakes.telegram_api import FakeBotApi, text_update
from tests.fakes.whatsapp_webhook import Sender, WebhookBuilder, signed_request

SCRIPT: list[tuple[str, str]] = [
    ("text", "/start"),
    ("press", "menu:register"),
    ("press", "consent:yes"),
    *[("press", choice) for choice in ELIGIBLE_CHOICES[:7]],
]
"""Ten steps whose answers are the same for everybody (no personal value yet)."""
SECRET = "bench-webhook-secret"
LEASE_SECONDS = 5
KILLS = (0.25, 0.5, 0.75)
STEP_PATIENCE = 120.0
"""Seconds an applicant waits for an answer before the run counts it lost."""
CODE = "from bot.cli import main; raise SystemExit(main())"
OPEN_DAY = datetime(2023, 11, 10, 9, 0, tzinfo=timezone(timedelta(hours=7)))
"""Registration is open: the clock of every process starts here (and goes on across kills)."""


@dataclass
class Applicant:
    """One simulated person on one channel."""

    channel: str
    number: int
    telegram_id: int = 0
    whatsapp: Sender | None = None

    @property
    def key(self) -> str:
        return f"{self.channel}:{self.number}"


@dataclass
class Report:
    """What one run found."""

    backend: str
    posted: int = 0
    expected: int = 0
    received: int = 0
    lost: int = 0
    duplicated: int = 0
    window: int = 0
    kills: list[str] = field(default_factory=list)
    seconds: float = 0.0


class Server:
    """`mitrabot serve` as a child process, killed and started again."""

    def __init__(self, env: dict[str, str], folder: Path) -> None:
        self.env = env
        self.folder = folder
        self.process: asyncio.subprocess.Process | None = None
        self.starts = 0
        self.began: float | None = None

    async def start(self) -> None:
        """Start a process whose clock goes on from where the first one's started: one time
        line across restarts, as in production (leases are measured on it)."""
        if self.began is None:
            self.began = time.time()
        moment = OPEN_DAY + timedelta(seconds=time.time() - self.began)
        self.env["MITRABOT_CLOCK_AT"] = moment.isoformat()
        self.starts += 1
        log = (self.folder / f"serve{self.starts}.log").open("wb")
        with log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                CODE,
                "serve",
                env=self.env,
                cwd=self.folder,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
            )

    async def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        await self.process.wait()

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), 30)
            except TimeoutError:
                await self.kill()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _environment(
    database: Database, telegram: FakeBotApi, graph: FakeGraphApi, data: Path, port: int
) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("MITRABOT_")}
    env.update(
        MITRABOT_DATABASE_URL=database.url.render_as_string(hide_password=False),
        MITRABOT_DATA_DIR=str(data),
        MITRABOT_TELEGRAM_TOKEN=telegram.token,
        MITRABOT_TELEGRAM_BASE_URL=telegram.base_url,
        MITRABOT_TELEGRAM_BASE_FILE_URL=telegram.base_file_url,
        MITRABOT_TELEGRAM_WEBHOOK_URL=f"https://mitrabot.example{TELEGRAM_PATH}",
        MITRABOT_TELEGRAM_WEBHOOK_SECRET=SECRET,
        MITRABOT_DELIVERY_LEASE_SECONDS=str(LEASE_SECONDS),
        MITRABOT_INBOUND_ORPHAN_SECONDS="1",
        MITRABOT_INBOUND_SWEEP_SECONDS="0.5",
        MITRABOT_HOST="127.0.0.1",
        MITRABOT_PORT=str(port),
        MITRABOT_LOG_LEVEL="WARNING",
        NO_PROXY="127.0.0.1",
        no_proxy="127.0.0.1",
        **graph.settings(),
    )
    return env


class Load:
    """Posts the applicants' updates as the platforms would and reads what came back."""

    def __init__(self, http: httpx.AsyncClient, telegram: FakeBotApi, graph: FakeGraphApi) -> None:
        self.http = http
        self.telegram = telegram
        self.graph = graph
        self.update_ids = iter(range(1, 10**9))
        self.posted = 0
        self.builder = WebhookBuilder(phone_id=graph.phone_id)

    def received(self, person: Applicant) -> list[str]:
        if person.whatsapp is not None:
            return [m.text or "" for m in self.graph.messages_to(person.whatsapp.wa_id or "")]
        return [m.text for m in self.telegram.messages_to(person.telegram_id)]

    def _telegram_body(self, person: Applicant, kind: str, value: str) -> dict[str, Any]:
        update_id = next(self.update_ids)
        if kind == "text":
            return text_update(update_id, person.telegram_id, value)
        user = {"id": person.telegram_id, "is_bot": False, "first_name": "Siti"}
        chat = {"id": person.telegram_id, "type": "private", "first_name": "Siti"}
        message = {"message_id": 1, "date": 1700000000, "chat": chat, "from": user, "text": "-"}
        query = {
            "id": secrets.token_hex(8),
            "from": user,
            "message": message,
            "chat_instance": "1",
            "data": value,
        }
        return {"update_id": update_id, "callback_query": query}

    async def post(self, person: Applicant, kind: str, value: str) -> None:
        """One update, posted until the bot acknowledges it (200)."""
        if person.whatsapp is not None:
            builder = WebhookBuilder(phone_id=self.graph.phone_id, sender=person.whatsapp)
            payload = (
                builder.text(value) if kind == "text" else builder.button_reply(value, "Pilih")
            )
            body, headers = signed_request(payload, self.graph.app_secret)
            path = WHATSAPP_PATH
        else:
            body = httpx.Request("POST", "/", json=self._telegram_body(person, kind, value)).read()
            headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
            path = TELEGRAM_PATH
        headers = {**headers, "Content-Type": "application/json"}
        for _ in range(10_000):
            with contextlib.suppress(httpx.TransportError):
                response = await self.http.post(path, content=body, headers=headers)
                if response.status_code == 200:
                    self.posted += 1
                    return
            await asyncio.sleep(0.2)
        raise RuntimeError("the bot never acknowledged an update")

    async def walk(self, person: Applicant, expected: list[Counter[str]]) -> None:
        """The script, each step once the whole answer to the previous one is there (the
        messages the reference applicant had by then: a repeat does not stand for another)."""
        for (kind, value), answer in zip(SCRIPT, expected, strict=True):
            await self.post(person, kind, value)
            deadline = time.monotonic() + STEP_PATIENCE
            while answer - Counter(self.received(person)):
                if time.monotonic() > deadline:
                    return  # counted as lost
                await asyncio.sleep(0.05)


async def _unsettled(database: Database) -> list[tuple[str, str, str]]:
    """(channel, recipient, text) of the replies still to be sent (claimed or queued)."""
    async with database.transaction() as session:
        rows = await session.execute(
            select(OutboxMessage.channel, OutboxMessage.recipient, OutboxMessage.text).where(
                OutboxMessage.state.in_(("queued", "sending"))
            )
        )
        return [(channel, recipient, text) for channel, recipient, text in rows.all()]


async def _stored(database: Database) -> int:
    async with database.transaction() as session:
        return len((await session.execute(select(InboundPayload.id))).all())


async def run_backend(backend: str, users: int) -> Report:
    """One run on one database."""
    report = Report(backend)
    with tempfile.TemporaryDirectory(prefix="mitrabot-durability-") as temporary:
        folder = Path(temporary)
        async with (
            fresh_database(backend, folder, "durability") as database,
            FakeBotApi() as telegram,
            FakeGraphApi() as graph,
        ):
            port = _free_port()
            server = Server(_environment(database, telegram, graph, folder / "data", port), folder)
            people = [
                Applicant("telegram", n, telegram_id=700000 + n) for n in range(users // 2 + 1)
            ] + [
                Applicant(
                    "whatsapp",
                    n,
                    whatsapp=Sender(user_id=f"ID.{800000 + n}", wa_id=f"62813{n:07d}", name="S"),
                )
                for n in range(users - users // 2 + 1)
            ]
            for person in people:
                if person.whatsapp is None:
                    telegram.add_user(person.telegram_id)
            references = {"telegram": people[0], "whatsapp": people[users // 2 + 1]}
            crowd = [person for person in people if person not in references.values()]
            await server.start()
            try:
                async with httpx.AsyncClient(
                    base_url=f"http://127.0.0.1:{port}", timeout=30
                ) as http:
                    load = Load(http, telegram, graph)
                    expected: dict[str, list[Counter[str]]] = {}
                    """Per channel, what an applicant has received after each step."""
                    for channel, person in references.items():  # one at a time: the answers
                        expected[channel] = []
                        for kind, value in SCRIPT:
                            await load.post(person, kind, value)
                            await asyncio.sleep(0.3)
                            await (telegram if channel == "telegram" else graph).wait_until_idle(
                                timeout=30
                            )
                            expected[channel].append(Counter(load.received(person)))
                    texts = {channel: answers[-1] for channel, answers in expected.items()}
                    load.posted = 0
                    report.expected = sum(texts[p.channel].total() for p in crowd)
                    started = time.monotonic()
                    walks = asyncio.gather(
                        *(load.walk(person, expected[person.channel]) for person in crowd)
                    )
                    window: dict[tuple[str, str, str], int] = {}
                    """Per reply unsettled at a kill, the copies the platform had then (the
                    latest kill's count: a reply the next process re-sent, and that a kill
                    caught unrecorded again, repeats once more)."""
                    for share in KILLS:
                        target = share * report.expected
                        while sum(len(load.received(p)) for p in crowd) < target:  # noqa: ASYNC110
                            await asyncio.sleep(0.05)
                        await server.kill()
                        await telegram.wait_until_idle(timeout=30, requests_only=True)
                        await graph.wait_until_idle(timeout=30)
                        unsettled = await _unsettled(database)
                        in_window = 0
                        for row in unsettled:
                            person = _person(crowd, row[0], row[1])
                            copies = _at_platform(row[2], load.received(person)) if person else 0
                            if copies:
                                in_window += copies - window.get(row, 0)
                                window[row] = copies
                        report.window = sum(window.values())
                        report.kills.append(
                            f"{share:.0%}: {await _stored(database)} updates stored not done, "
                            f"{len(unsettled)} replies not recorded as sent, {in_window} "
                            "messages of them newly at the platform"
                        )
                        print(f"kill at {report.kills[-1]}", flush=True)
                        await server.start()
                    await walks
                    while await _unsettled(database):  # noqa: ASYNC110 - the last leases
                        await asyncio.sleep(0.2)
                    await telegram.wait_until_idle(timeout=30)
                    await graph.wait_until_idle(timeout=30)
                    report.seconds = time.monotonic() - started
                    report.posted = load.posted
                    for person in crowd:
                        got = Counter(load.received(person))
                        want = texts[person.channel]
                        report.received += sum(got.values())
                        report.lost += sum((want - got).values())
                        report.duplicated += sum((got - want).values())
            finally:
                await server.stop()
    return report


def _at_platform(text: str, received: list[str]) -> int:
    """How many of the messages a chat received are (parts of) the reply `text`: a long text
    goes out in several messages, and each copy counts."""
    return sum(
        1 for part in received if part and (part == text or (len(part) >= 20 and part in text))
    )


def _person(crowd: list[Applicant], channel: str, recipient: str) -> Applicant | None:
    for person in crowd:
        if channel == "telegram" and str(person.telegram_id) == recipient:
            return person
        if person.whatsapp is not None and person.whatsapp.wa_id == recipient:
            return person
    return None


def _print(report: Report) -> None:
    print(f"\n== {report.backend}")
    print(f"updates posted      {report.posted} ({len(SCRIPT)} steps per applicant)")
    print(f"replies expected    {report.expected}")
    print(f"replies received    {report.received}")
    print(f"lost                {report.lost}")
    print(f"duplicated          {report.duplicated}")
    print(
        f"in the window       {report.window} (messages at the platform, not recorded, at a kill)"
    )
    print(f"outside the window  {max(0, report.duplicated - report.window)}")
    print(f"wall time           {report.seconds:.1f} s (three kills, {LEASE_SECONDS} s lease)")


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--users", type=int, default=200, help="applicants, half per channel")
    args = parser.parse_args()
    valid = True
    for backend in await usable_backends(args.backend):
        report = await run_backend(backend, args.users)
        _print(report)
        valid &= report.lost == 0 and report.duplicated <= report.window
    return 0 if valid else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
