"""Real `mitrabot` processes and applicants posting to their webhooks as the platforms do: the
harness of bench/durability.py, bench/scale_out.py and tests/test_scale_out.py.

Applicants on Telegram and WhatsApp walk the first ten steps of the registration, each step once
the whole answer to the previous one arrived (a person reading). Every update is posted until the
bot acknowledges it with a 200, as Telegram and Meta re-deliver a webhook post that failed or was
not answered, so a killed process loses nothing it had not stored. What a kill leaves unsettled
and already at the platform is the documented window (sent again once, after the lease).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import secrets
import signal
import socket
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from bot.web import TELEGRAM_PATH, WHATSAPP_PATH
from core.recruitment import RecruitmentConfig
from scheduler.delivery import DEFAULT_LEASE
from services.broadcasts import Audience, create_broadcast
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
LIST_IDS = "\n#rows: "
"""Between a WhatsApp list message's text and its rows' ids in `Load.received`."""
STEP_PATIENCE = 120.0
"""Seconds an applicant waits for an answer before the run counts it lost."""
OPEN_DAY = datetime(2023, 11, 10, 9, 0, tzinfo=timezone(timedelta(hours=7)))
"""Registration is open: the clocks of the processes start here, at `ORIGIN`."""
ORIGIN = "CLOCK_ORIGIN"
"""The environment variable with the moment (Unix time) at which `MITRABOT_CLOCK_AT` was."""
CODE = (
    "import os, time\n"
    "from datetime import datetime, timedelta\n"
    "from bot.cli import main\n"
    f"origin = float(os.environ.pop({ORIGIN!r}))\n"
    "start = datetime.fromisoformat(os.environ['MITRABOT_CLOCK_AT'])\n"
    "moment = start + timedelta(seconds=time.time() - origin)\n"
    "os.environ['MITRABOT_CLOCK_AT'] = moment.isoformat()\n"
    "raise SystemExit(main())"
)
"""A child's code: its clock set once its imports are done, to where the clock of the first
one is by then. All processes are on one time line (started at any time, after a kill too),
as in production: a lease or an orphan's age read by one process is what another wrote."""


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


def applicants(users: int, telegram: FakeBotApi) -> list[Applicant]:
    """`users` applicants, half on each channel, plus one reference applicant per channel
    (first of its channel); the Telegram ones known to the fake."""
    people = [Applicant("telegram", n, telegram_id=700000 + n) for n in range(users // 2 + 1)] + [
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
    return people


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def environment(
    database: Database,
    telegram: FakeBotApi,
    graph: FakeGraphApi,
    data: Path,
    port: int,
    lease_seconds: float,
) -> dict[str, str]:
    """The settings of a `serve` (webhook mode, both channels) or `worker` on these fakes."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("MITRABOT_")}
    env.update(
        MITRABOT_DATABASE_URL=database.url.render_as_string(hide_password=False),
        MITRABOT_DATA_DIR=str(data),
        MITRABOT_TELEGRAM_TOKEN=telegram.token,
        MITRABOT_TELEGRAM_BASE_URL=telegram.base_url,
        MITRABOT_TELEGRAM_BASE_FILE_URL=telegram.base_file_url,
        MITRABOT_TELEGRAM_WEBHOOK_URL=f"https://mitrabot.example{TELEGRAM_PATH}",
        MITRABOT_TELEGRAM_WEBHOOK_SECRET=SECRET,
        MITRABOT_DELIVERY_LEASE_SECONDS=str(lease_seconds),
        MITRABOT_DATABASE_POOL_SIZE="5",  # 4 processes in PostgreSQL's 100 connections
        MITRABOT_INBOUND_ORPHAN_SECONDS="1",
        MITRABOT_INBOUND_SWEEP_SECONDS="0.5",
        MITRABOT_HOST="127.0.0.1",
        MITRABOT_PORT=str(port),
        MITRABOT_CLOCK_AT=OPEN_DAY.isoformat(),
        **{ORIGIN: str(time.time())},
        MITRABOT_LOG_LEVEL="WARNING",
        NO_PROXY="127.0.0.1",
        no_proxy="127.0.0.1",
        **graph.settings(),
    )
    return env


class Child:
    """One `mitrabot <command>` child process, its output in `folder/<name><n>.log`."""

    def __init__(self, command: list[str], env: dict[str, str], folder: Path, name: str) -> None:
        self.command = command
        self.env = env
        self.folder = folder
        self.name = name
        self.process: asyncio.subprocess.Process | None = None
        self.starts = 0

    @property
    def log(self) -> Path:
        return self.folder / f"{self.name}{self.starts}.log"

    async def start(self) -> None:
        self.starts += 1
        with self.log.open("wb") as output:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                CODE,
                *self.command,
                env=self.env,
                cwd=self.folder,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=output,
                stderr=asyncio.subprocess.STDOUT,
            )

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the process has used so far (from /proc; 0 once gone)."""
        if not self.alive():
            return 0.0
        assert self.process is not None
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def alive(self) -> bool:
        return self.process is not None and self.process.returncode is None

    @property
    def holders(self) -> set[str]:
        """The names under which this process claims outbox rows (`worker_name`: a named
        worker's name; a `serve`'s delivery worker `host:pid` and its turns `host:pid:turns`)."""
        if "--name" in self.command:
            return {self.command[self.command.index("--name") + 1]}
        assert self.process is not None
        process = f"{socket.gethostname()}:{self.process.pid}"
        return {process, f"{process}:turns"}

    async def kill(self) -> None:
        """SIGKILL: no clean-up of any kind."""
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()
        await self.process.wait()

    async def stop(self, patience: float = 60) -> int | None:
        """SIGTERM and wait (SIGKILL after `patience` seconds); the exit status."""
        if self.process is None:
            return None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), patience)
            except TimeoutError:
                await self.kill()
        return self.process.returncode


class Load:
    """Posts the applicants' updates as the platforms would and reads what came back."""

    def __init__(self, http: httpx.AsyncClient, telegram: FakeBotApi, graph: FakeGraphApi) -> None:
        self.http = http
        self.telegram = telegram
        self.graph = graph
        self.update_ids = iter(range(1, 10**9))
        self.posted = 0

    def received(self, person: Applicant) -> list[str]:
        """What `person` has received: each message's text; a WhatsApp list's with its rows'
        ids (`LIST_IDS`), so that a list continuing a message's choices is told apart from
        another message's (they all read the same)."""
        if person.whatsapp is not None:
            return [
                (m.text or "") + (LIST_IDS + ",".join(row.id for row in m.rows) if m.rows else "")
                for m in self.graph.messages_to(person.whatsapp.wa_id or "")
            ]
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

    async def expected(self, person: Applicant) -> list[Counter[str]]:
        """Walk a reference applicant alone, step by step: what it has after each step."""
        fake = self.telegram if person.whatsapp is None else self.graph
        answers = []
        for kind, value in SCRIPT:
            await self.post(person, kind, value)
            await asyncio.sleep(0.3)
            await fake.wait_until_idle(timeout=30)
            answers.append(Counter(self.received(person)))
        return answers

    async def references(
        self, people: list[Applicant]
    ) -> tuple[list[Applicant], dict[str, list[Counter[str]]]]:
        """Walk the first applicant of each channel alone, one after the other: (the others,
        per channel what an applicant has received after each step)."""
        firsts = {person.channel: person for person in reversed(people)}
        expected = {channel: await self.expected(person) for channel, person in firsts.items()}
        self.posted = 0
        return [person for person in people if person not in firsts.values()], expected

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

    async def settled(self, database: Database) -> None:
        """Wait until the outbox has nothing queued or claimed and both fakes are idle."""
        while await unsettled(database):  # noqa: ASYNC110 - the last leases
            await asyncio.sleep(0.2)
        await self.telegram.wait_until_idle(timeout=30)
        await self.graph.wait_until_idle(timeout=30)


@dataclass(frozen=True)
class Repeat:
    """Copies of one message part an applicant received beyond what it should have."""

    applicant: str
    part: str
    copies: int

    def __str__(self) -> str:
        return f"{self.applicant}: {self.part[:60]!r} x{self.copies}"


class Window:
    """The documented window of the kills: per message a killed process held (claimed, not
    recorded as sent) at a kill, the copies of each of its parts the platform had then (the
    latest kill's count: a reply the next process re-sent, and that a kill caught unrecorded
    again, repeats once more). A message a process that lives on holds is not in it: that
    process records it. Each repeat a chat received is matched to this, part by part."""

    def __init__(self, load: Load, crowd: list[Applicant]) -> None:
        self.load = load
        self.crowd = crowd
        self.copies: dict[tuple[str, str], int] = {}
        """Per (applicant key, message part): copies at the platform at the latest kill that
        caught its message unrecorded."""
        self.killed: set[str] = set()
        """The claim holders of every process killed so far."""

    async def after_kill(self, database: Database, holders: set[str]) -> tuple[int, int]:
        """Look once the kill of the process claiming as `holders` is done and the fakes are
        idle: (messages killed processes held, messages of them newly at the platform)."""
        self.killed |= holders
        rows = await unsettled(database, self.killed)
        new = 0
        for channel, recipient, text, buttons in rows:
            person = _person(self.crowd, channel, recipient)
            if person is None:
                continue
            received = self.load.received(person)
            for part, copies in Counter(_parts(text, buttons, received)).items():
                key = (person.key, part)
                new += max(0, copies - self.copies.get(key, 0))
                self.copies[key] = copies
        return len(rows), new

    @property
    def total(self) -> int:
        return sum(self.copies.values())

    def outside(
        self, crowd: list[Applicant], texts: dict[str, Counter[str]], ignore: str = ""
    ) -> list[Repeat]:
        """Every repeat no kill accounts for: copies of a message part beyond the whole answer
        (`texts`) and beyond what the window counted for it."""
        found = []
        for person in crowd:
            got = Counter(text for text in self.load.received(person) if text != ignore)
            for part, extra in (got - texts[person.channel]).items():
                beyond = extra - self.copies.get((person.key, part), 0)
                if beyond > 0:
                    found.append(Repeat(person.key, part, beyond))
        return found


async def unsettled(
    database: Database, holders: set[str] | None = None
) -> list[tuple[str, str, str, frozenset[str]]]:
    """(channel, recipient, text, button ids) of the messages still to be sent (claimed or
    queued); with `holders`, only those claimed by them."""
    if holders is None:
        still = OutboxMessage.state.in_(("queued", "sending"))
    else:
        still = (OutboxMessage.state == "sending") & OutboxMessage.claimed_by.in_(holders)
    async with database.transaction() as session:
        rows = await session.execute(
            select(
                OutboxMessage.channel,
                OutboxMessage.recipient,
                OutboxMessage.text,
                OutboxMessage.buttons,
            ).where(still)
        )
        return [
            (channel, recipient, text, frozenset(button["id"] for button in buttons or ()))
            for channel, recipient, text, buttons in rows.all()
        ]


async def slowest_confirmation(database: Database) -> float:
    """The longest time (seconds) from a claim to the record that its message was sent: what
    the lease must exceed, else a message sent slowly is taken over and sent again."""
    async with database.transaction() as session:
        rows = await session.execute(
            select(OutboxMessage.claimed_at, OutboxMessage.sent_at).where(
                OutboxMessage.state == "sent"
            )
        )
        return max(
            ((sent - claimed).total_seconds() for claimed, sent in rows.all() if claimed and sent),
            default=0.0,
        )


async def stored(database: Database) -> int:
    """Inbound updates stored and not handled yet."""
    async with database.transaction() as session:
        query = select(InboundPayload.id).where(InboundPayload.handled_at.is_(None))
        return len((await session.execute(query)).all())


def _parts(text: str, buttons: frozenset[str], received: list[str]) -> list[str]:
    """The messages a chat received that are (parts of) the message `text` with `buttons`: a
    long text goes out in several messages, choices beyond one WhatsApp list in more lists
    (`LIST_IDS`), and each copy counts."""

    def belongs(part: str) -> bool:
        shown, _, ids = part.partition(LIST_IDS)
        if shown == text or (len(shown) >= 20 and shown in text):
            return True
        return bool(ids) and buttons.issuperset(ids.split(","))

    return [part for part in received if part and belongs(part)]


def _person(crowd: list[Applicant], channel: str, recipient: str) -> Applicant | None:
    for person in crowd:
        if channel == "telegram" and str(person.telegram_id) == recipient:
            return person
        if person.whatsapp is not None and person.whatsapp.wa_id == recipient:
            return person
    return None


def tally(
    load: Load, crowd: list[Applicant], texts: dict[str, Counter[str]], ignore: str = ""
) -> tuple[int, int, int]:
    """(received, lost, duplicated) over the crowd's replies, against the whole answer per
    channel (`texts`); messages reading `ignore` (a broadcast) are not replies."""
    received = lost = duplicated = 0
    for person in crowd:
        got = Counter(text for text in load.received(person) if text != ignore)
        want = texts[person.channel]
        received += got.total()
        lost += (want - got).total()
        duplicated += (got - want).total()
    return received, lost, duplicated


BROADCAST = "Pengumuman uji: jadwal tes diumumkan minggu depan."
"""The broadcast sent to all applicants mid-run."""


@dataclass
class FleetRun:
    """What one run of `run_fleet` found."""

    serves: int
    workers: int
    posted: int = 0
    expected: int = 0
    received: int = 0
    lost: int = 0
    duplicated: int = 0
    window: int = 0
    outside: list[Repeat] = field(default_factory=list)
    """The repeats (replies and broadcast) no kill's window accounts for (`Window.outside`)."""
    broadcast_recipients: int = 0
    broadcast_missing: int = 0
    broadcast_repeated: int = 0
    seconds: float = 0.0
    slowest: float = 0.0
    """The longest a message stayed claimed before its send was recorded (seconds)."""
    kills: list[str] = field(default_factory=list)
    cpu: dict[str, float] = field(default_factory=dict)
    """CPU seconds per process (`load` is this one: the fakes and the applicants)."""
    exits: list[int | None] = field(default_factory=list)
    """Exit status of every process still running at the end, stopped with SIGTERM."""

    @property
    def throughput(self) -> float:
        """Updates answered per second."""
        return self.posted / self.seconds if self.seconds else 0.0


async def run_fleet(
    database: Database,
    folder: Path,
    telegram: FakeBotApi,
    graph: FakeGraphApi,
    config: RecruitmentConfig,
    *,
    serves: int,
    workers: int,
    users: int,
    kill_at: float | None,
    lease_seconds: float = DEFAULT_LEASE.total_seconds(),
) -> FleetRun:
    """`serves` webhook processes on one port (SO_REUSEPORT) and `workers` delivery workers on
    `database` (migrated), `users` applicants walking the script; a broadcast to all applicants
    (those who consented) once 40 % of the replies arrived; with `kill_at` (a share of the
    replies), the first `serve` and the first worker SIGKILLed then. The rest is stopped with
    SIGTERM at the end. The lease is production's (60 s): a lease shorter than the longest a
    live process legitimately keeps a message claimed before recording it sent (a turn's
    reply on a starved machine: 9.8 s measured at a sixth of a core) lets a worker take the
    claim over and send the message again, outside any kill's window."""
    run = FleetRun(serves, workers)
    port = free_port()
    env = environment(database, telegram, graph, folder / "data", port, lease_seconds)
    env.update(MITRABOT_REUSE_PORT="true", MITRABOT_LOG_LEVEL="INFO")
    children = [Child(["serve"], env, folder, f"serve{n}-") for n in range(serves)]
    children += [
        Child(["worker", "--name", f"w{n}"], env, folder, f"worker{n}-") for n in range(workers)
    ]
    cpu: dict[str, float] = {}
    people = applicants(users, telegram)
    before = resource.getrusage(resource.RUSAGE_SELF)
    for child in children:
        await child.start()
    try:
        await _ready([child for child in children if child.command == ["serve"]])
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            load = Load(http, telegram, graph)
            crowd, expected = await load.references(people)
            texts = {channel: answers[-1] for channel, answers in expected.items()}
            run.expected = sum(texts[p.channel].total() for p in crowd)
            started = time.monotonic()
            walks = asyncio.gather(*(load.walk(p, expected[p.channel]) for p in crowd))
            window = Window(load, people)
            await _replies(load, crowd, run.expected * 0.4, walks)
            async with database.transaction() as session:
                broadcast = await create_broadcast(
                    session,
                    text=BROADCAST,
                    audience=Audience("all"),
                    created_by="scale-out",
                    now=OPEN_DAY,
                    quiet_hours=config.quiet_hours,
                    urgent=True,
                )
            run.broadcast_recipients = broadcast.total
            if kill_at is not None:
                await _replies(load, crowd, run.expected * kill_at, walks)
                killed = (children[0], children[serves])
                for child in killed:
                    cpu[child.log.stem] = child.cpu_seconds()
                    await child.kill()
                await telegram.wait_until_idle(timeout=30, requests_only=True)
                await graph.wait_until_idle(timeout=30)
                held = set().union(*(child.holders for child in killed))
                unsettled_rows, in_window = await window.after_kill(database, held)
                run.kills.append(
                    f"{kill_at:.0%}: {await stored(database)} updates stored not done, "
                    f"{unsettled_rows} messages held by the killed processes, {in_window} of "
                    "them at the platform"
                )
            await walks
            await load.settled(database)
            run.seconds = time.monotonic() - started
            run.posted = load.posted
            run.window = window.total
            run.slowest = await slowest_confirmation(database)
            run.received, run.lost, run.duplicated = tally(load, crowd, texts, BROADCAST)
            run.outside = window.outside(crowd, texts, BROADCAST)
            await _broadcast_copies(run, window, people, database, broadcast.id)
    finally:
        for child in children:
            if child.alive():
                cpu[child.log.stem] = child.cpu_seconds()
        run.exits = [await child.stop() for child in children if child.alive()]
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu["load"] = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    run.cpu = cpu
    return run


async def _ready(serves: list[Child]) -> None:
    """Until every `serve` said it serves (its log), or one died."""
    for child in serves:
        while "serving " not in child.log.read_text():
            if not child.alive():
                raise AssertionError(f"{child.log.name}:\n{child.log.read_text()[-3000:]}")
            await asyncio.sleep(0.1)


async def _replies(
    load: Load, crowd: list[Applicant], count: float, walks: asyncio.Future[Any]
) -> None:
    """Until `count` replies reached the crowd (or the walks ended)."""
    while sum(len(load.received(p)) for p in crowd) < count and not walks.done():  # noqa: ASYNC110
        await asyncio.sleep(0.05)


async def _broadcast_copies(
    run: FleetRun, window: Window, people: list[Applicant], database: Database, broadcast: int
) -> None:
    """Count the broadcast's recipients that did not get it, and the copies beyond one (those
    beyond the window too, in `run.outside`)."""
    async with database.transaction() as session:
        rows = await session.execute(
            select(OutboxMessage.channel, OutboxMessage.recipient).where(
                OutboxMessage.broadcast_id == broadcast
            )
        )
        recipients = rows.all()
    for channel, recipient in recipients:
        person = _person(people, channel, recipient)
        if person is None:
            run.broadcast_missing += 1
            continue
        copies = window.load.received(person).count(BROADCAST)
        run.broadcast_missing += copies == 0
        run.broadcast_repeated += max(0, copies - 1)
        beyond = copies - 1 - window.copies.get((person.key, BROADCAST), 0)
        if beyond > 0:
            run.outside.append(Repeat(person.key, BROADCAST, beyond))
