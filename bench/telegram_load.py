"""Registration-shaped load through the real Telegram stack, measured against a bare echo bot.

Run from the repository root (details and figures: bench/README.md)::

    python bench/telegram_load.py [--applicants N] [--backend sqlite|postgresql|both]

Simulated applicants each walk the whole registration script (``/start`` to ``sum:confirm``,
28 updates: 25 texts and button presses, and the three documents sent as photos) against the
fake Bot API of ``tests/fakes``; an applicant sends its next update only once the bot's replies
to the previous one arrived, and many applicants are active at once, so their updates interleave
and the bot's bounded concurrency is used.  The same load shape (same number of users and of
steps) also runs against two baselines built with the same builder and polling settings: a bare
python-telegram-bot echo bot (one echoed reply per step, a text where ours gets a photo) and a
"telegram-only" bot that makes our Bot API calls (callback answers, getFile and the download of
each photo, as many replies) without any logic or database.  Our figures are reported as ratios
to them, for all steps and, separately, for the text/button steps and for the photo steps: each
round runs in phases (the text/button steps before the documents, the three photos, then the
confirmation), everybody finishing a phase before the next starts, so that each phase's time and
CPU belong to one kind of step.

Each bot runs in its own child process (``--bot-process same`` puts it in this event loop); the
fake Bot API and the users run here: in production the Bot API is someone else's machine, so the
bot process's own CPU time per update (``time.process_time`` in the child: all its threads,
aiosqlite's included) is the honest cost.  All bots stay up for the whole run and take turns in
interleaved rounds, so a noisy neighbour on the machine hits them alike.

Exit status: 0 when the run completed (whether or not the target was met), 1 on errors (a reply
missing, a button the bot did not offer, a bot or fake error, an applicant without a
registration number, ...).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import logging
import multiprocessing
import os
import re
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict, deque
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Protocol

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `tests` is not an installed package
    sys.path.insert(0, str(ROOT))

from sqlalchemy import event, text  # noqa: E402
from sqlalchemy.ext.asyncio import create_async_engine  # noqa: E402
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update  # noqa: E402
from telegram.ext import (  # noqa: E402
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.settings import TELEGRAM_CONCURRENCY  # noqa: E402
from bot.telegram import (  # noqa: E402
    ALLOWED_UPDATES,
    Polling,
    build_application,
    start_polling,
    stop_polling,
)
from core.catalog import Catalog  # noqa: E402
from core.clock import FrozenClock  # noqa: E402
from core.recruitment import load_recruitment  # noqa: E402
from core.types import Reply  # noqa: E402
from handlers.conversation import Conversation  # noqa: E402
from handlers.flow import Dependencies  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.files import FileStore  # noqa: E402
from tests import images  # noqa: E402
from tests.chat import ELIGIBLE_CHOICES, PROFILE_ANSWERS  # noqa: E402
from tests.fakes.telegram_api import FakeBotApi  # noqa: E402

POSTGRES_ADMIN_URL = os.environ.get(
    "MITRABOT_BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
OPEN_DAY = datetime(2023, 11, 10, 9, 0)  # registration is open
NIK_PREFIX = "352801570895"  # Pamekasan/Tlanakan, 17-08-1995, female (day + 40)
TARGET = 2.0
RTT = "+rtt"
"""The name suffix of a bot whose fake answers every Bot API call after `--rtt` ms."""
RTT_TARGET = 0.8
USER_BASE = 7_000_000
WARMUP_USER_BASE = 6_000_000

STARTUP_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0
IDLE_TIMEOUT = 15.0
PG_TIMEOUT = 15.0

#: (kind, value, replies the bot sends): one update and its answer.  Kinds: "text" (typed),
#: "press" (a button's callback data), "photo" (value: which picture of `PICTURES`).
Step = tuple[str, str, int]

#: The documents step, in the order the bot asks for them: a picture that passes its checks.
PICTURES: dict[str, Callable[[], bytes]] = {
    "photo": images.good_photo,
    "ktp": images.good_ktp,
    "diploma": images.good_diploma,
}
#: Phase labels: steps that are photos, and all the others (typed texts and button presses).
PHOTO, TEXT = "photo", "text"


# --------------------------------------------------------------------------- the scripts


def registration_script(nik: str) -> list[Step]:
    """Everything a new applicant sends from /start to a confirmed registration."""
    profile: list[Step] = []
    for kind, value in PROFILE_ANSWERS:
        answer = nik if kind == "text" and value.isdigit() and len(value) == 16 else value
        replies = 2 if value == "17-08-1995" else 1  # the birth date is echoed back
        profile.append(("text" if kind == "text" else "press", answer, replies))
    if sum(1 for _, value, _ in profile if value == nik) != 1:
        raise RuntimeError("tests/chat.py PROFILE_ANSWERS has no (single) NIK answer to replace")
    return [
        ("text", "/start", 2),
        ("press", "menu:register", 1),
        ("press", "consent:yes", 2),
        *[("press", choice, 1) for choice in ELIGIBLE_CHOICES],
        *profile,
        # Each accepted document: "✅ … diterima." + the next request (after the last one: the
        # summary with its sum:confirm button).
        *[("photo", key, 2) for key in PICTURES],
        ("press", "sum:confirm", 2),
    ]


def echo_script(steps: list[Step]) -> list[Step]:
    """The same number of steps, each a typed text that gets exactly one (echoed) reply."""
    return [("text", value, 1) for _, value, _ in steps]


def make_pictures() -> dict[str, bytes]:
    """The pictures' bytes, made once per run (Pillow) and sent by every applicant."""
    return {key: make() for key, make in PICTURES.items()}


def phases(steps: list[Step]) -> list[tuple[int, int, str]]:
    """(start, end, PHOTO or TEXT): the runs of consecutive photo / non-photo steps."""
    found: list[tuple[int, int, str]] = []
    for index, (kind, _, _) in enumerate(steps):
        label = PHOTO if kind == "photo" else TEXT
        if found and found[-1][2] == label:
            found[-1] = (found[-1][0], index + 1, label)
        else:
            found.append((index, index + 1, label))
    return found


def nik_for(serial: int) -> str:
    if not 1 <= serial <= 9999:
        raise ValueError("at most 9999 applicants (the NIK serial has 4 digits and is not 0000)")
    return f"{NIK_PREFIX}{serial:04d}"


# --------------------------------------------------------------------------- the fake, observed


class CountingFake(FakeBotApi):
    """The fake Bot API plus O(1) per-chat reply counting and completion times.

    ``FakeBotApi.wait_for_messages`` rescans every sent message on every wake-up, which is
    quadratic with a hundred waiting users; this hooks the single place a sent message is
    recorded instead, and stamps the moment the last expected reply arrived.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.replies_to: defaultdict[int, int] = defaultdict(int)
        #: chat id -> callback data of the buttons under the bot's last message there
        self.offered: dict[int, list[str]] = {}
        #: chat id -> the texts of the bot's last few messages there
        self.recent: defaultdict[int, deque[str]] = defaultdict(lambda: deque(maxlen=4))
        self._expected: dict[int, tuple[int, asyncio.Future[float]]] = {}

    def expect(self, chat_id: int, count: int) -> asyncio.Future[float]:
        """A future resolved with ``perf_counter()`` when ``chat_id`` has ``count`` replies."""
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        if self.replies_to[chat_id] >= count:
            future.set_result(time.perf_counter())
        else:
            self._expected[chat_id] = (count, future)
        return future

    def _record(self, method: str, chat_id: int, *rest: Any) -> None:
        super()._record(method, chat_id, *rest)
        self.offered[chat_id] = self.sent[-1].callback_data
        self.recent[chat_id].append(self.sent[-1].text)
        count = self.replies_to[chat_id] + 1
        self.replies_to[chat_id] = count
        waiting = self._expected.get(chat_id)
        if waiting is not None and count >= waiting[0]:
            del self._expected[chat_id]
            if not waiting[1].done():
                waiting[1].set_result(time.perf_counter())


class BenchError(Exception):
    """Something went wrong: the run is invalid (exit status 1)."""


async def walk(
    fake: CountingFake,
    user_id: int,
    steps: list[Step],
    pictures: Mapping[str, bytes],
    latencies: list[float],
    step_names: list[str],
    step_timeout: float,
    check_buttons: bool,
) -> float:
    """One person: send a step, wait for all its replies, go on. Returns the last reply time.

    With `check_buttons` (our bot), a button is only pressed when the bot's last message offers
    it (as for a real person), and a photo must be answered with "… diterima." (accepted), so a
    changed registration flow or a refused picture fails loudly instead of being timed.
    """
    done = time.perf_counter()
    for kind, value, replies in steps:
        if check_buttons and kind == "press" and value not in fake.offered.get(user_id, []):
            last = fake.messages_to(user_id)[-1:]
            raise BenchError(
                f"user {user_id}: the bot does not offer the button {value!r} at this point of "
                f"the script (has the registration flow changed?); its last message: "
                f"{[(m.text[:120], m.callback_data) for m in last]!r}"
            )
        arrived = fake.expect(user_id, fake.replies_to[user_id] + replies)
        sent = time.perf_counter()
        if kind == "press":
            fake.push_callback(user_id, value)
        elif kind == "photo":
            fake.push_photo(user_id, pictures[value])
        else:
            fake.push_text(user_id, value)
        try:
            done = await asyncio.wait_for(arrived, step_timeout)
        except TimeoutError:
            got = [(m.method, m.text[:60]) for m in fake.messages_to(user_id)[-3:]]
            raise BenchError(
                f"user {user_id}: no {replies} repl(y/ies) to {value!r} within {step_timeout}s; "
                f"last messages: {got!r}; fake errors: {fake.internal_errors!r}"
            ) from None
        latencies.append(done - sent)
        step_names.append("NIK" if value.isdigit() and len(value) == 16 else value)
        if check_buttons and kind == "photo":
            answer = list(fake.recent[user_id])[-replies:]
            if "diterima" not in answer[0]:
                raise BenchError(
                    f"user {user_id}: the {value!r} picture was not accepted; the bot said "
                    f"{[text[:120] for text in answer]!r}"
                )
    return done


# --------------------------------------------------------------------------- the bots


@dataclass(frozen=True)
class BotSpec:
    """What a bot process needs (picklable)."""

    kind: str  # "echo", "telegram-only" or "full"
    token: str
    base_url: str
    base_file_url: str
    concurrency: int
    poll_timeout: int
    db_url: str | None = None
    replies: tuple[tuple[str, int], ...] = ()  # telegram-only: replies per update text/data
    photo_replies: int = 2  # telegram-only: replies to a photo
    profile_to: str | None = None  # write a cProfile of the measured window there


@dataclass
class Snapshot:
    """The bot side's counters at one moment."""

    cpu: float | None  # process CPU seconds of the bot process (None: shared process)
    handle_times: list[float] = field(default_factory=list)  # Conversation.handle wall times
    db_connects: int = 0  # new DB-API connections opened by the pool so far
    statements: list[tuple[str, float]] = field(default_factory=list)  # (SQL verb, wall s)
    problems: list[str] = field(default_factory=list)  # WARNING+ log records so far


class _ProblemLog(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = f"{record.levelname} {record.name}: {record.getMessage()}"
        if record.exc_info and record.exc_info[1] is not None:
            message += f" ({record.exc_info[1]!r})"
        self.records.append(message[:500])


MIMIC_TEXT = ("Pertanyaan berikutnya untuk pendaftaran mitra statistik. " * 3)[:140]
MIMIC_BUTTONS = InlineKeyboardMarkup(
    [
        [
            InlineKeyboardButton("Ya", callback_data="x:yes"),
            InlineKeyboardButton("Tidak", callback_data="x:no"),
        ]
    ]
)


def build_baseline_application(spec: BotSpec) -> Application:
    """A bot without conversation logic, with exactly the builder settings of
    `bot.telegram.build_application`.

    ``echo``: a bare echo bot (texts only, one reply each).  ``telegram-only``: the same Bot API
    traffic as ours (callback queries answered, a photo fetched with getFile + download of its
    largest size, as many replies as ours, ~ as long, with a two-button keyboard), but no
    validation, no picture checks, no file store and no database.
    """
    application = (
        ApplicationBuilder()
        .token(spec.token)
        .base_url(spec.base_url)
        .base_file_url(spec.base_file_url)
        .concurrent_updates(spec.concurrency)
        .connection_pool_size(spec.concurrency * 2)
        .build()
    )

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_chat is not None and update.message is not None
        await context.bot.send_message(update.effective_chat.id, update.message.text or "?")

    replies = dict(spec.replies)

    async def mimic(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_chat is not None
        if update.callback_query is not None:
            await update.callback_query.answer()
            said = update.callback_query.data or ""
        else:
            said = update.message.text or "" if update.message is not None else ""
        for _ in range(replies.get(said, 1)):
            await context.bot.send_message(
                update.effective_chat.id, MIMIC_TEXT, reply_markup=MIMIC_BUTTONS
            )

    async def mimic_photo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_chat is not None and update.message is not None
        largest = update.message.photo[-1]  # as bot.telegram does
        telegram_file = await context.bot.get_file(largest.file_id)
        await telegram_file.download_as_bytearray()
        for _ in range(spec.photo_replies):
            await context.bot.send_message(
                update.effective_chat.id, MIMIC_TEXT, reply_markup=MIMIC_BUTTONS
            )

    if spec.kind == "echo":
        application.add_handler(MessageHandler(filters.ChatType.PRIVATE & filters.TEXT, echo))
    else:
        application.add_handler(CallbackQueryHandler(mimic))
        application.add_handler(MessageHandler(filters.ChatType.PRIVATE & filters.TEXT, mimic))
        application.add_handler(
            MessageHandler(filters.ChatType.PRIVATE & filters.PHOTO, mimic_photo)
        )
    return application


_FROM_RE = re.compile(r"\bFROM\s+([\w.\"]+)", re.IGNORECASE)


def _statement_kind(statement: str) -> str:
    """'INSERT INTO x', 'UPDATE x SET', 'SELECT x' (first FROM), 'SAVEPOINT', ..."""
    words = statement.split(None, 3)
    if not words:
        return "?"
    if words[0].upper() in ("INSERT", "UPDATE", "DELETE"):
        return " ".join(words[:3])
    if words[0].upper() == "SELECT" and (found := _FROM_RE.search(statement)):
        return f"SELECT FROM {found.group(1)}"
    return words[0]


class BotRunner:
    """A bot polling the fake: the echo bot, or ours on a database (wherever it runs)."""

    def __init__(self, spec: BotSpec, own_process: bool) -> None:
        self.spec = spec
        self.own_process = own_process
        self.application: Application | None = None
        self.polling: Polling | None = None
        """The bot's durable polling (the full kind); the baselines poll with PTB's Updater."""
        self.db: Database | None = None
        self.files_dir: tempfile.TemporaryDirectory[str] | None = None
        self.handle_times: list[float] = []
        self.db_connects = 0
        self.statements: list[tuple[str, float]] = []
        self.problems = _ProblemLog()

    async def start(self) -> None:
        logging.getLogger().addHandler(self.problems)
        spec = self.spec
        if spec.kind != "full":
            self.application = build_baseline_application(spec)
            await self.application.initialize()
            await self.application.start()
            assert self.application.updater is not None
            await self.application.updater.start_polling(  # as bot.telegram.start_polling
                poll_interval=0, timeout=spec.poll_timeout, allowed_updates=ALLOWED_UPDATES
            )
            return
        assert spec.db_url is not None
        self.db = Database(spec.db_url)
        engine = self.db.engine.sync_engine
        event.listen(engine, "connect", self._on_connect)
        event.listen(engine, "before_cursor_execute", self._before_statement)
        event.listen(engine, "after_cursor_execute", self._after_statement)
        # The document store: a private temporary folder (content-addressed, so the same
        # picture sent by every applicant is written to disk once).
        self.files_dir = tempfile.TemporaryDirectory(prefix="mitrabot-bench-files-")
        deps = Dependencies(
            config=load_recruitment(),
            catalog=Catalog.load(),
            clock=FrozenClock(OPEN_DAY),
            files=FileStore(Path(self.files_dir.name)),
            staff_identities=frozenset(),
        )
        conversation = Conversation(self.db, deps)
        conversation.handle = self._timed(conversation.handle)  # type: ignore[method-assign]
        self.application = build_application(
            conversation,
            spec.token,
            spec.base_url,
            spec.base_file_url,
            concurrency=spec.concurrency,
        )
        self.polling = await start_polling(self.application, poll_timeout=spec.poll_timeout)

    def _on_connect(self, *_args: Any) -> None:
        self.db_connects += 1

    @staticmethod
    def _before_statement(connection: Any, *_args: Any) -> None:
        connection.info.setdefault("bench_started", []).append(time.perf_counter())

    def _after_statement(self, connection: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        started = connection.info["bench_started"].pop()
        self.statements.append((_statement_kind(statement), time.perf_counter() - started))

    def _timed(self, handle: Any) -> Any:
        async def timed(*args: Any, **kwargs: Any) -> list[Reply]:
            started = time.perf_counter()
            try:
                return await handle(*args, **kwargs)
            finally:
                self.handle_times.append(time.perf_counter() - started)

        return timed

    def snapshot(self) -> Snapshot:
        return Snapshot(
            cpu=time.process_time() if self.own_process else None,
            handle_times=list(self.handle_times),
            db_connects=self.db_connects,
            statements=list(self.statements),
            problems=list(self.problems.records),
        )

    async def stop(self) -> None:
        try:
            if self.polling is not None:
                await stop_polling(self.polling)
            elif self.application is not None:
                assert self.application.updater is not None
                await self.application.updater.stop()
                await self.application.stop()
                await self.application.shutdown()
        finally:
            if self.db is not None:
                await self.db.dispose()
            if self.files_dir is not None:
                self.files_dir.cleanup()
            logging.getLogger().removeHandler(self.problems)


class Bot(Protocol):
    async def snapshot(self) -> Snapshot: ...

    async def problems(self) -> list[str]: ...

    async def stop(self) -> Snapshot: ...


class InProcessBot:
    """The bot in this very event loop (shares the CPU with the fake and the users)."""

    def __init__(self, runner: BotRunner) -> None:
        self.runner = runner

    async def snapshot(self) -> Snapshot:
        return self.runner.snapshot()

    async def problems(self) -> list[str]:
        return list(self.runner.problems.records)

    async def stop(self) -> Snapshot:
        await asyncio.wait_for(self.runner.stop(), STOP_TIMEOUT)
        return self.runner.snapshot()


def _bot_process_main(conn: Connection, spec: BotSpec) -> None:
    """Entry point of a bot child process: start, then obey 'snapshot'/'stop' from the pipe."""
    logging.basicConfig(level=logging.WARNING, format="bot process: %(levelname)s %(message)s")

    profiler = cProfile.Profile() if spec.profile_to else None
    snapshots = 0

    async def serve() -> None:
        nonlocal snapshots
        runner = BotRunner(spec, own_process=True)
        await runner.start()
        conn.send(("ready", os.getpid()))
        while True:
            command = await asyncio.to_thread(conn.recv)
            if command == "problems":
                conn.send(("problems", list(runner.problems.records)))
            elif command == "snapshot":  # snapshots come in pairs around each measured window
                snapshots += 1
                if profiler is not None and snapshots % 2 == 0:
                    profiler.disable()
                conn.send(("snapshot", runner.snapshot()))
                if profiler is not None and snapshots % 2 == 1:
                    profiler.enable()
            elif command == "stop":
                if profiler is not None and spec.profile_to:
                    profiler.dump_stats(spec.profile_to)
                await asyncio.wait_for(runner.stop(), STOP_TIMEOUT)
                conn.send(("stopped", runner.snapshot()))
                return

    try:
        asyncio.run(serve())
    except (EOFError, KeyboardInterrupt):
        pass  # the parent went away
    except BaseException as error:
        with contextlib.suppress(Exception):
            conn.send(("error", f"{type(error).__name__}: {error}"))
        raise
    finally:
        conn.close()


class ChildProcessBot:
    """The bot in its own process (spawned, so nothing is shared with this one)."""

    def __init__(self, spec: BotSpec) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child_conn = context.Pipe()
        self.process = context.Process(
            target=_bot_process_main, args=(child_conn, spec), name=f"bot-{spec.kind}", daemon=True
        )
        self.process.start()
        child_conn.close()
        self.stopped = False
        self._talking = asyncio.Lock()  # one request/answer on the pipe at a time

    async def _ask(self, command: str, expected: str, seconds: float) -> Any:
        # Shielded: a caller cancelled mid-way must not leave its answer in the pipe for the
        # next question (the receiving thread cannot be cancelled anyway).
        return await asyncio.shield(self._exchange(command, expected, seconds))

    async def _exchange(self, command: str, expected: str, seconds: float) -> Any:
        async with self._talking:
            self._conn.send(command)
            return await self._receive(expected, seconds)

    async def _receive(self, expected: str, seconds: float) -> Any:
        def receive() -> Any:
            if not self._conn.poll(seconds):
                raise BenchError(f"bot process: no {expected!r} within {seconds}s")
            return self._conn.recv()

        try:
            kind, payload = await asyncio.to_thread(receive)
        except EOFError:
            raise BenchError(f"bot process died (exit code {self.process.exitcode})") from None
        if kind == "error":
            raise BenchError(f"bot process failed: {payload}")
        if kind != expected:
            raise BenchError(f"bot process said {kind!r}, expected {expected!r}")
        return payload

    async def wait_ready(self) -> None:
        await self._receive("ready", STARTUP_TIMEOUT)

    async def snapshot(self) -> Snapshot:
        return await self._ask("snapshot", "snapshot", 10)

    async def problems(self) -> list[str]:
        return await self._ask("problems", "problems", 10)

    async def stop(self) -> Snapshot:
        final = await self._ask("stop", "stopped", STOP_TIMEOUT + 5)
        self.stopped = True
        await asyncio.to_thread(self.process.join, 10)
        return final

    def kill(self) -> None:
        """Make sure the child is gone (after an error)."""
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5)
        self._conn.close()


@contextlib.asynccontextmanager
async def running_bot(spec: BotSpec, separate: bool) -> AsyncIterator[Bot]:
    if not separate:
        runner = BotRunner(spec, own_process=False)
        try:
            await asyncio.wait_for(runner.start(), STARTUP_TIMEOUT)
        except BaseException:
            await asyncio.wait_for(runner.stop(), STOP_TIMEOUT)
            raise
        bot = InProcessBot(runner)
        try:
            yield bot
        finally:
            if runner.application is not None and runner.application.running:
                await asyncio.wait_for(runner.stop(), STOP_TIMEOUT)
        return
    child = ChildProcessBot(spec)
    try:
        await child.wait_ready()
        yield child
    finally:
        if not child.stopped:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(child.stop(), STOP_TIMEOUT + 10)
        child.kill()


# --------------------------------------------------------------------------- CPU accounting


def _clock_ticks() -> int:
    try:
        return os.sysconf("SC_CLK_TCK")
    except (AttributeError, ValueError, OSError):
        return 100


CLK_TCK = _clock_ticks()


def postgres_backend_cpu(database: str | None) -> float | None:
    """CPU seconds of the live PostgreSQL backends serving `database` (Linux /proc), or None.

    Backends that exit during the window take their CPU with them: compare with the count of
    new connections (none expected once the pool is warm).
    """
    if database is None or not Path("/proc").is_dir():
        return None
    total, found = 0, False
    needle = f" {database} ".encode()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/cmdline", "rb") as handle:
                cmdline = handle.read().replace(b"\0", b" ")
            if not cmdline.startswith(b"postgres:") or needle not in cmdline:
                continue
            with open(f"/proc/{entry.name}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
        found = True
    return total / CLK_TCK if found else None


def machine_busy_cpu() -> float | None:
    """CPU seconds all cores spent not idle since boot (Linux /proc/stat), or None."""
    try:
        with open("/proc/stat") as handle:
            values = [int(v) for v in handle.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values) - idle) / CLK_TCK


# --------------------------------------------------------------------------- measured rounds


@dataclass
class Window:
    """One phase of one measured round of one bot: its counters from the first push to the last
    reply."""

    round: int
    phase: str  # PHOTO or TEXT
    updates: int
    wall: float
    latencies: list[float]
    step_names: list[str]
    bot_cpu: float | None
    main_cpu: float
    pg_cpu: float | None
    machine_cpu: float | None
    handle_times: list[float]
    statements: list[tuple[str, float]]
    db_connects: int
    api_calls: Counter[str]

    @property
    def time_per_update(self) -> float:
        return self.wall / self.updates


def _sum(values: list[float | None]) -> float | None:
    return None if any(v is None for v in values) else sum(v or 0.0 for v in values)


@dataclass
class Result:
    """One bot over all its rounds (figures are totals over the rounds)."""

    name: str
    windows: list[Window]
    checks: list[str] = field(default_factory=list)

    def only(self, phase: str | None) -> Result:
        """The same bot over the windows of one kind of step (None: all of them)."""
        if phase is None:
            return self
        return Result(self.name, [w for w in self.windows if w.phase == phase], self.checks)

    def round_times(self) -> list[float]:
        """Time per update of each round (its phases together), in round order."""
        walls: defaultdict[int, float] = defaultdict(float)
        updates: defaultdict[int, int] = defaultdict(int)
        for window in self.windows:
            walls[window.round] += window.wall
            updates[window.round] += window.updates
        return [walls[r] / updates[r] for r in sorted(walls)]

    @property
    def updates(self) -> int:
        return sum(w.updates for w in self.windows)

    @property
    def wall(self) -> float:
        return sum(w.wall for w in self.windows)

    @property
    def latencies(self) -> list[float]:
        return [x for w in self.windows for x in w.latencies]

    @property
    def step_names(self) -> list[str]:
        return [x for w in self.windows for x in w.step_names]

    @property
    def handle_times(self) -> list[float]:
        return [x for w in self.windows for x in w.handle_times]

    @property
    def statements(self) -> list[tuple[str, float]]:
        return [x for w in self.windows for x in w.statements]

    @property
    def bot_cpu(self) -> float | None:
        return _sum([w.bot_cpu for w in self.windows])

    @property
    def main_cpu(self) -> float:
        return sum(w.main_cpu for w in self.windows)

    @property
    def pg_cpu(self) -> float | None:
        return _sum([w.pg_cpu for w in self.windows])

    @property
    def machine_cpu(self) -> float | None:
        return _sum([w.machine_cpu for w in self.windows])

    @property
    def db_connects(self) -> int:
        return sum(w.db_connects for w in self.windows)

    @property
    def api_calls(self) -> Counter[str]:
        return sum((w.api_calls for w in self.windows), Counter())

    @property
    def throughput(self) -> float:
        return self.updates / self.wall

    @property
    def time_per_update(self) -> float:
        return self.wall / self.updates

    def p(self, q: float, values: list[float] | None = None) -> float:
        """The q-th percentile (nearest rank) of the step latencies, or of `values`."""
        data = sorted(self.latencies if values is None else values)
        if not data:
            return float("nan")
        return data[min(len(data) - 1, max(0, round(q / 100 * len(data)) - 1))]

    def per_update(self, seconds: float | None) -> float | None:
        return None if seconds is None else seconds / self.updates

    def cores(self, seconds: float | None) -> str:
        return "-" if seconds is None else f"{seconds / self.wall:.2f}"


@dataclass
class Options:
    applicants: int
    rounds: int
    warmup: int
    concurrency: int
    poll_timeout: int
    max_poll_wait: float
    step_timeout: float
    separate: bool
    profile_dir: Path | None = None
    rtt: float = 0.0
    """Seconds the fake waits before answering each Bot API call of the `+rtt` bots."""

    def round_sizes(self) -> list[int]:
        size, extra = divmod(self.applicants, self.rounds)
        return [size + (1 if r < extra else 0) for r in range(self.rounds)]


async def drive(
    fake: CountingFake,
    users: list[int],
    scripts: list[list[Step]],
    pictures: Mapping[str, bytes],
    step_timeout: float,
    check_buttons: bool,
) -> tuple[float, float, list[float], list[str]]:
    """All users at once; returns (first push, last reply, latencies, step names)."""
    latencies: list[float] = []
    names: list[str] = []
    started = time.perf_counter()
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [
                group.create_task(
                    walk(
                        fake, user, script, pictures, latencies, names, step_timeout, check_buttons
                    )
                )
                for user, script in zip(users, scripts, strict=True)
            ]
    except* BenchError as failures:
        first, more = failures.exceptions[0], len(failures.exceptions) - 1
        raise BenchError(
            f"{first}" + (f" (and {more} more users failed)" if more else "")
        ) from None
    return started, max((task.result() for task in tasks), default=started), latencies, names


async def watched(bot: Bot, work: Any) -> Any:
    """Await `work`, but fail as soon as the bot logs a warning or an error."""

    finished = asyncio.Event()

    async def watchdog() -> None:
        while not finished.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(finished.wait(), 1)
            if not finished.is_set() and (problems := await bot.problems()):
                raise BenchError(f"the bot logged problems: {problems[:3]}")

    try:
        async with asyncio.TaskGroup() as group:
            group.create_task(watchdog())
            task = group.create_task(work)
            await asyncio.wait([task])
            finished.set()
    except* BenchError as failures:
        raise failures.exceptions[0] from None
    return task.result()


def _delta(before: float | None, after: float | None) -> float | None:
    return None if before is None or after is None else after - before


@dataclass
class Contender:
    """One bot polling its own fake, with the users it has been sent so far."""

    name: str
    fake: CountingFake
    bot: Bot
    script_for: Any  # applicant serial (1..9999) -> its script
    check_buttons: bool
    pictures: Mapping[str, bytes]
    phases: list[tuple[int, int, str]]  # the same step positions for every bot
    pg_database: str | None = None
    sent: dict[int, list[Step]] = field(default_factory=dict)  # user id -> script
    windows: list[Window] = field(default_factory=list)

    async def drive(
        self, serials: list[int], step_timeout: float, part: slice = slice(None)
    ) -> Any:
        """Every serial's applicant at once, through the `part` of its script."""
        users = [USER_BASE + serial for serial in serials]
        scripts = [self.script_for(serial) for serial in serials]
        for user, script in zip(users, scripts, strict=True):
            self.sent.setdefault(user, script)
        work = drive(
            self.fake,
            users,
            [script[part] for script in scripts],
            self.pictures,
            step_timeout,
            self.check_buttons,
        )
        return await watched(self.bot, work)

    async def measure(self, round_number: int, serials: list[int], step_timeout: float) -> None:
        """One round: every serial's applicant at once, phase after phase (everybody finishes
        a phase before the next one starts), with counters around each phase."""
        for start, end, label in self.phases:
            await self._measure_phase(round_number, label, serials, step_timeout, start, end)

    async def _measure_phase(
        self,
        round_number: int,
        label: str,
        serials: list[int],
        step_timeout: float,
        start: int,
        end: int,
    ) -> None:
        fake, bot = self.fake, self.bot
        calls_before = len(fake.calls)
        before = await bot.snapshot()
        main_before = time.process_time()
        pg_before, machine_before = postgres_backend_cpu(self.pg_database), machine_busy_cpu()
        started, finished, latencies, names = await self.drive(
            serials, step_timeout, slice(start, end)
        )
        main_after = time.process_time()
        pg_after, machine_after = postgres_backend_cpu(self.pg_database), machine_busy_cpu()
        after = await bot.snapshot()
        self.windows.append(
            Window(
                round=round_number,
                phase=label,
                updates=len(latencies),
                wall=finished - started,
                latencies=latencies,
                step_names=names,
                bot_cpu=_delta(before.cpu, after.cpu),
                main_cpu=main_after - main_before,
                pg_cpu=_delta(pg_before, pg_after),
                machine_cpu=_delta(machine_before, machine_after),
                handle_times=after.handle_times[len(before.handle_times) :],
                statements=after.statements[len(before.statements) :],
                db_connects=after.db_connects - before.db_connects,
                api_calls=Counter(method for method, _ in fake.calls[calls_before:]),
            )
        )
        await fake.wait_until_idle(IDLE_TIMEOUT)

    async def finish(self) -> Result:
        """Stop the bot; check that every user got exactly the expected replies."""
        await self.fake.wait_until_idle(IDLE_TIMEOUT)
        final = await self.bot.stop()
        for user, script in self.sent.items():
            expected = sum(replies for *_, replies in script)
            if self.fake.replies_to[user] != expected:
                raise BenchError(
                    f"{self.name}: user {user} got {self.fake.replies_to[user]} replies, "
                    f"expected {expected}"
                )
        if self.fake.internal_errors:
            raise BenchError(f"{self.name}: the fake failed: {self.fake.internal_errors[:3]!r}")
        if final.problems:
            raise BenchError(f"{self.name}: the bot logged problems: {final.problems[:5]}")
        result = Result(self.name, self.windows)
        result.checks.append(f"{len(self.sent)} users got exactly the expected replies")
        return result


def _spec(kind: str, name: str, fake: FakeBotApi, options: Options, **extra: Any) -> BotSpec:
    profile_to = None
    if options.profile_dir is not None and options.separate:
        profile_to = str(options.profile_dir / f"{name}.prof")
    return BotSpec(
        kind,
        fake.token,
        fake.base_url,
        fake.base_file_url,
        options.concurrency,
        options.poll_timeout,
        profile_to=profile_to,
        **extra,
    )


async def start_contender(
    stack: contextlib.AsyncExitStack,
    name: str,
    options: Options,
    pictures: Mapping[str, bytes],
    db_url: str | None = None,
    pg_database: str | None = None,
    response_delay: float = 0.0,
) -> Contender:
    """Start a bot (and its fake, answering each Bot API call after `response_delay` seconds)
    and warm it up with `options.warmup` users (not measured)."""
    extra: dict[str, Any] = {}
    if name == "echo":
        kind = "echo"

        def script_for(serial: int) -> list[Step]:
            return echo_script(registration_script(nik_for(1)))

    else:
        kind = "telegram-only" if db_url is None else "full"

        def script_for(serial: int) -> list[Step]:
            return registration_script(nik_for(serial))

        if kind == "telegram-only":
            script = script_for(1)
            extra["replies"] = tuple({v: n for k, v, n in script if k != "photo"}.items())
            photo_replies = {n for k, _, n in script if k == "photo"}
            if len(photo_replies) > 1:
                raise RuntimeError("the telegram-only bot answers every photo alike")
            extra["photo_replies"] = photo_replies.pop() if photo_replies else 1
        else:
            extra["db_url"] = db_url
            database = Database(db_url)
            try:
                await database.upgrade()
            finally:
                await database.dispose()
    fake = await stack.enter_async_context(CountingFake(max_poll_wait=options.max_poll_wait))
    fake.response_delay = response_delay
    bot = await stack.enter_async_context(
        running_bot(_spec(kind, name, fake, options, **extra), options.separate)
    )
    steps = phases(registration_script(nik_for(1)))  # the echo bot's too: same positions
    contender = Contender(name, fake, bot, script_for, kind == "full", pictures, steps, pg_database)
    await contender.drive(list(range(1, options.warmup + 1)), options.step_timeout)
    await fake.wait_until_idle(IDLE_TIMEOUT)
    return contender


async def check_registrations(result: Result, fake: CountingFake, url: str, everyone: int) -> None:
    """Every applicant (measured and warm-up) got a registration number; no apology was sent."""
    catalog = Catalog.load()
    sorry = {catalog.text(language, "internal_error") for language in ("id", "en")}
    apologies = sum(1 for message in fake.sent if message.text in sorry)
    if apologies:
        raise BenchError(f"{result.name}: the bot answered 'internal error' {apologies} time(s)")
    database = Database(url)
    try:
        async with database.transaction() as session:
            query = text(
                "SELECT count(*), count(registration_number), "
                "count(DISTINCT registration_number), count(DISTINCT nik) FROM applicants"
            )
            row = tuple((await session.execute(query)).one())
            query = text(
                "SELECT count(*), count(DISTINCT applicant_id), count(DISTINCT kind) FROM documents"
            )
            documents = tuple((await session.execute(query)).one())
    finally:
        await database.dispose()
    if row != (everyone,) * 4:
        raise BenchError(
            f"{result.name}: expected {everyone} applicants, each with its own registration "
            f"number and NIK; (applicants, numbered, distinct numbers, distinct NIKs) = {row}"
        )
    kinds = len(PICTURES)
    if documents != (everyone * kinds, everyone, kinds):
        raise BenchError(
            f"{result.name}: expected {kinds} documents for each of {everyone} applicants; "
            f"(documents, applicants with documents, kinds) = {documents}"
        )
    result.checks.append(
        f"{everyone} applicants in the database (warm-up included), each with a distinct "
        f"registration number and {kinds} documents; no 'internal error' reply"
    )


# --------------------------------------------------------------------------- PostgreSQL


@contextlib.asynccontextmanager
async def postgres_database() -> AsyncIterator[tuple[str, str] | None]:
    """A fresh database (URL, name) dropped at the end, or None when the server is unreachable."""
    name = f"mitrabot_bench_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(
        POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"timeout": 5}
    )
    try:
        async with asyncio.timeout(PG_TIMEOUT), admin.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as error:  # asyncpg raises several unrelated types
        await admin.dispose()
        print(
            f"note: PostgreSQL skipped: cannot create a database via {POSTGRES_ADMIN_URL}: "
            f"{type(error).__name__}: {error}",
            flush=True,
        )
        yield None
        return
    try:
        yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}", name
    finally:
        try:
            async with asyncio.timeout(PG_TIMEOUT), admin.connect() as connection:
                await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        finally:
            await admin.dispose()


# --------------------------------------------------------------------------- report


def _ms(seconds: float | None, digits: int = 2) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.{digits}f}"


def _ratio(ours: float | None, base: float | None) -> str:
    if ours is None or base is None or base <= 0:
        return "-"
    return f"{ours / base:.2f}x"


def _sql_line(row: Result) -> str:
    if not row.statements:
        return "no SQL recorded"
    kinds: defaultdict[str, list[float]] = defaultdict(list)
    for verb, seconds in row.statements:
        kinds[verb].append(seconds)
    total = sum(seconds for _, seconds in row.statements)
    verb, spent = max(kinds.items(), key=lambda item: sum(item[1]))
    durations = [seconds for _, seconds in row.statements]
    per_kind = ", ".join(
        f"{kind} {len(times) / row.updates:.2f}"
        for kind, times in sorted(kinds.items(), key=lambda item: -len(item[1]))
    )
    return (
        f"SQL {len(row.statements) / row.updates:.1f} statements/update (+ commit), wall p50 "
        f"{_ms(row.p(50, durations))} ms, p99 {_ms(row.p(99, durations))} ms; "
        f"{sum(spent) / total:.0%} of statement time in {verb} (p99 {_ms(row.p(99, spent), 1)} ms)"
        f"\n                per update: {per_kind}"
    )


def _table(rows: list[Result]) -> None:
    header = (
        f"{'bot':<14}{'upd/s':>7}{'p50 ms':>8}{'p99 ms':>8}{'wall s':>7}"
        f"{'bot CPU':>9}{'fake CPU':>10}{'PG CPU':>8}{'machine':>9}{'API calls':>10}"
    )
    print(header)
    print(f"{'':<44}{'ms/upd':>9}{'ms/upd':>10}{'ms/upd':>8}{'ms/upd':>9}{'per upd':>10}")
    print("-" * len(header))
    for row in rows:
        print(
            f"{row.name:<14}{row.throughput:>7.1f}{_ms(row.p(50), 1):>8}{_ms(row.p(99), 1):>8}"
            f"{row.wall:>7.1f}{_ms(row.per_update(row.bot_cpu)):>9}"
            f"{_ms(row.per_update(row.main_cpu)):>10}{_ms(row.per_update(row.pg_cpu)):>8}"
            f"{_ms(row.per_update(row.machine_cpu)):>9}"
            f"{sum(row.api_calls.values()) / row.updates:>10.2f}"
        )


def _cores(rows: list[Result]) -> None:
    print("busy cores during the windows (bot / fake + users / PostgreSQL / whole machine):")
    for row in rows:
        print(
            f"  {row.name:<14}{row.cores(row.bot_cpu)} / {row.cores(row.main_cpu)} / "
            f"{row.cores(row.pg_cpu)} / {row.cores(row.machine_cpu)} of {os.cpu_count()}"
        )


def _ratios(baselines: list[Result], results: list[Result]) -> None:
    for base in baselines:
        print(
            f"{'ratio to ' + base.name:<24}{'time/upd':>9}{'p50':>8}{'p99':>8}{'bot CPU/upd':>13}"
            f"{'bot+PG CPU/upd':>16}"
        )
        for row in results:
            both = None if row.bot_cpu is None else row.bot_cpu + (row.pg_cpu or 0.0)
            print(
                f"  {row.name:<22}{_ratio(row.time_per_update, base.time_per_update):>9}"
                f"{_ratio(row.p(50), base.p(50)):>8}{_ratio(row.p(99), base.p(99)):>8}"
                f"{_ratio(row.per_update(row.bot_cpu), base.per_update(base.bot_cpu)):>13}"
                f"{_ratio(row.per_update(both), base.per_update(base.bot_cpu)):>16}"
            )


def _inside(results: list[Result], slowest: bool) -> None:
    for row in results:
        print(
            f"  {row.name:<14}Conversation.handle wall p50 {_ms(row.p(50, row.handle_times))} ms,"
            f" p99 {_ms(row.p(99, row.handle_times))} ms; new DB connections {row.db_connects}"
        )
        print(f"  {'':<14}{_sql_line(row)}")
        if slowest:
            by_step: defaultdict[str, list[float]] = defaultdict(list)
            for step_name, latency in zip(row.step_names, row.latencies, strict=True):
                by_step[step_name].append(latency)
            top = sorted(((statistics.median(v), k) for k, v in by_step.items()), reverse=True)
            print(
                f"  {'':<14}slowest steps (p50 ms): "
                + ", ".join(f"{name[:16]} {_ms(value, 0)}" for value, name in top[:4])
            )


def _verdict(label: str, ours: Result, echo: Result) -> str:
    whole = ours.time_per_update / echo.time_per_update
    # Each round compares the bots next to each other in time: its median is the figure least
    # moved by other work on the machine.
    rounds = sorted(
        mine / base for mine, base in zip(ours.round_times(), echo.round_times(), strict=True)
    )
    ratio = statistics.median(rounds)
    verdict = "met" if ratio <= TARGET else "NOT met"
    detail = f"median of {len(rounds)} rounds, {rounds[0]:.2f}x..{rounds[-1]:.2f}x; "
    return (
        f"{label}: full/echo time per update = {ratio:.2f}x (target <= {TARGET}) {verdict} "
        f"[{detail if len(rounds) > 1 else ''}whole run {whole:.2f}x]"
    )


def report(baselines: list[Result], results: list[Result], options: Options) -> None:
    rows = [*baselines, *results]
    echo = baselines[0]
    script = registration_script(nik_for(1))
    photos = sum(1 for kind, _, _ in script if kind == "photo")
    views = [
        (None, f"ALL STEPS ({len(script)} per applicant)"),
        (TEXT, f"TEXT/BUTTON STEPS ONLY ({len(script) - photos} per applicant, no photo)"),
        (PHOTO, f"PHOTO STEPS ONLY ({photos} per applicant; the echo bot gets a text there)"),
    ]
    bot_cpu = "the bot process" if options.separate else "n/a (the bot shares this process)"
    here = "fake Bot API + users" + ("" if options.separate else " + the bot")
    for phase, title in views:
        print()
        print(f"=== {title}")
        _table([row.only(phase) for row in rows])
        if phase is None:
            print(
                "  p50/p99: one update, from its push to its last reply at the fake.\n"
                f"  CPU per update -- bot: {bot_cpu}; fake: this process ({here});\n"
                "  PG: the PostgreSQL backends of the bench database; machine: all busy cores,"
                " any process."
            )
        print()
        _cores([row.only(phase) for row in rows])
        print()
        _ratios([b.only(phase) for b in baselines], [r.only(phase) for r in results])
    print()
    print("Bot API calls per update, by method (all steps):")
    for row in rows:
        methods = ", ".join(
            f"{method} {count / row.updates:.2f}" for method, count in row.api_calls.most_common()
        )
        print(f"  {row.name:<14}{methods}")
    for phase, title in views:
        print()
        print(f"inside our bot, {title.split(' (')[0].lower()}:")
        _inside([row.only(phase) for row in results], slowest=phase is None)
    print()
    for row in rows:
        for check in row.checks:
            print(f"check {row.name}: {check}")
    print()
    twins = {row.name: row for row in results if row.name.endswith(RTT)}
    for row in results:
        if row.name in twins:
            continue
        print(_verdict(f"{row.name}", row, echo) + f" -- all {len(script)} steps")
        print(
            _verdict(f"{row.name} text/button steps", row.only(TEXT), echo.only(TEXT))
            + f" -- {len(script) - photos} steps"
        )
        mine, base = row.only(PHOTO), echo.only(PHOTO)
        others = "".join(
            f", {b.name} p50 {_ms(b.only(PHOTO).p(50), 0)}/p99 {_ms(b.only(PHOTO).p(99), 0)}"
            for b in baselines[1:]
        )
        print(
            f"{row.name} photo steps: p50 {_ms(mine.p(50), 0)} ms, p99 {_ms(mine.p(99), 0)} ms "
            f"(echo's text steps there p50 {_ms(base.p(50), 0)}/p99 {_ms(base.p(99), 0)}"
            f"{others}); time per update {_ratio(mine.time_per_update, base.time_per_update)}"
            f" echo, bot CPU {_ms(mine.per_update(mine.bot_cpu), 1)} ms/update"
        )
    for row in results:
        if (slow := twins.get(row.name + RTT)) is not None:
            print(_rtt_verdict(row, slow, options.rtt, None))
            print(_rtt_verdict(row, slow, options.rtt, TEXT))


def _rtt_verdict(fast: Result, slow: Result, rtt: float, phase: str | None) -> str:
    """Throughput with every Bot API call `rtt` slower against the same bot without."""
    fast, slow = fast.only(phase), slow.only(phase)
    rounds = sorted(
        base / mine for mine, base in zip(slow.round_times(), fast.round_times(), strict=True)
    )
    ratio, whole = statistics.median(rounds), fast.time_per_update / slow.time_per_update
    verdict = "met" if ratio >= RTT_TARGET else "NOT met"
    steps = "all steps" if phase is None else "text/button steps"
    return (
        f"{fast.name} {steps} with a {rtt * 1000:.0f} ms round trip on every Bot API call: "
        f"{slow.throughput:.1f} upd/s, without {fast.throughput:.1f} upd/s; throughput ratio "
        f"{ratio:.2f} (target >= {RTT_TARGET}) {verdict} [median of {len(rounds)} rounds, "
        f"{rounds[0]:.2f}..{rounds[-1]:.2f}; whole run {whole:.2f}]"
    )


# --------------------------------------------------------------------------- main


def _load_note() -> str:
    try:
        load1 = os.getloadavg()[0]
    except OSError:
        return ""
    note = f"load average before the run: {load1:.2f} on {os.cpu_count()} core(s)"
    if load1 > 0.5:
        note += " (other work is running: expect noisier figures)"
    return note


async def run(args: argparse.Namespace) -> int:
    options = Options(
        applicants=args.applicants,
        rounds=args.rounds,
        warmup=args.warmup,
        concurrency=args.concurrency,
        poll_timeout=args.poll_timeout,
        max_poll_wait=args.max_poll_wait,
        step_timeout=args.step_timeout,
        separate=args.bot_process == "separate",
        profile_dir=args.profile,
        rtt=args.rtt / 1000,
    )
    if options.profile_dir is not None:
        options.profile_dir.mkdir(parents=True, exist_ok=True)
    script = registration_script(nik_for(1))
    steps = len(script)
    photos = sum(1 for kind, _, _ in script if kind == "photo")
    where = "its own process" if options.separate else "this process (one event loop)"
    sizes = options.round_sizes()
    print(
        f"Telegram registration load: {options.applicants} applicants x {steps} updates = "
        f"{options.applicants * steps} measured updates per bot ({steps - photos} texts or "
        f"button presses and {photos} photos each), in "
        + (f"{options.rounds} interleaved rounds" if options.rounds > 1 else "one round")
        + f" of {'/'.join(map(str, sorted(set(sizes))))} applicants at once "
        f"(+ {options.warmup} warm-up users per bot, not counted)"
    )
    print(
        f"bot concurrency {options.concurrency}, connection pool {options.concurrency * 2}, "
        f"getUpdates timeout {options.poll_timeout}s (the fake caps a poll at "
        f"{options.max_poll_wait}s); each bot in {where}; the fake and the users here"
    )
    if note := _load_note():
        print(note)

    started = time.perf_counter()
    pictures = make_pictures()  # once per run: every applicant sends the same pictures
    print(
        "pictures: "
        + ", ".join(f"{key} {len(content) / 1024:.0f} KiB" for key, content in pictures.items())
        + " (JPEG, tests/images.py)"
    )
    async with contextlib.AsyncExitStack() as stack:
        names = ["echo"] + ([] if args.no_telegram_only else ["telegram-only"])
        databases: dict[str, tuple[str, str | None]] = {}
        if args.backend in ("sqlite", "both"):
            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="mitrabot-bench-"))
            databases["sqlite"] = (f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}", None)
        if args.backend in ("postgresql", "both"):
            created = await stack.enter_async_context(postgres_database())
            if created is not None:
                databases["postgresql"] = created
        if options.rtt:  # the same bot again, its own database, every Bot API call slower
            for backend in list(databases):
                if backend == "sqlite":
                    url = f"sqlite+aiosqlite:///{Path(folder) / 'bench-rtt.db'}"
                    databases[f"sqlite{RTT}"] = (url, None)
                elif (twin := await stack.enter_async_context(postgres_database())) is not None:
                    databases[f"{backend}{RTT}"] = twin
        contenders: list[Contender] = []
        for name in [*names, *databases]:
            print(f"starting and warming up: {name} ...", flush=True)
            url, pg_name = databases.get(name, (None, None))
            delay = options.rtt if name.endswith(RTT) else 0.0
            contenders.append(
                await start_contender(stack, name, options, pictures, url, pg_name, delay)
            )

        first = options.warmup + 1
        for index, size in enumerate(sizes):
            serials = list(range(first, first + size))
            first += size
            order = contenders[index % len(contenders) :] + contenders[: index % len(contenders)]
            print(f"round {index + 1}/{len(sizes)}: {', '.join(c.name for c in order)}", flush=True)
            for contender in order:
                await contender.measure(index + 1, serials, options.step_timeout)

        results = [await contender.finish() for contender in contenders]
        everyone = options.warmup + options.applicants
        for contender, result in zip(contenders, results, strict=True):
            if contender.name in databases:
                url = databases[contender.name][0]
                await check_registrations(result, contender.fake, url, everyone)
    report(results[: len(names)], results[len(names) :], options)
    if options.profile_dir is not None:
        print(
            f"cProfile of each bot process over its measured windows: {options.profile_dir}/"
            "<bot>.prof (profiling slows the bots: compare profiles, not these figures)"
            if options.separate
            else "note: --profile needs --bot-process separate; nothing was profiled"
        )
    print(f"(whole benchmark: {time.perf_counter() - started:.0f} s)")
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--applicants", type=int, default=80, help="measured applicants")
    parser.add_argument(
        "--rounds",
        type=int,
        default=4,
        help="split the applicants into this many rounds, bots taking turns (fairer under noise)",
    )
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--warmup", type=int, default=5, help="warm-up users (not counted)")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=TELEGRAM_CONCURRENCY,
        help="bot concurrent updates (default: mitrabot's)",
    )
    parser.add_argument("--poll-timeout", type=int, default=10, help="getUpdates timeout (s)")
    parser.add_argument(
        "--max-poll-wait", type=float, default=2.0, help="the fake's cap on a long poll (s)"
    )
    parser.add_argument("--step-timeout", type=float, default=30.0, help="per step (s)")
    parser.add_argument(
        "--bot-process",
        choices=["separate", "same"],
        default="separate",
        help="each bot in its own process (default) or in this event loop with the fake",
    )
    parser.add_argument(
        "--no-telegram-only",
        action="store_true",
        help="skip the second baseline (our Bot API traffic without logic or database)",
    )
    parser.add_argument(
        "--rtt",
        type=float,
        default=0.0,
        metavar="MS",
        help="also run our bot(s) with every Bot API call answered after MS ms (own database), "
        "and print the throughput with and without it",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="write a cProfile of each bot process' measured window to DIR/<bot>.prof",
    )
    args = parser.parse_args(argv)
    if args.applicants < 1 or args.warmup < 0 or args.applicants + args.warmup > 9999:
        parser.error("need 1 <= applicants and applicants + warmup <= 9999 (NIK serials)")
    if not 1 <= args.rounds <= args.applicants:
        parser.error("need 1 <= rounds <= applicants")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # No per-request INFO lines from httpx/uvicorn; warnings and errors still show.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return asyncio.run(run(args))
    except BenchError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
