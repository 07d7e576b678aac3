"""The delivery queue (outbox) under a platform rate limit, through a crash, and at its ceiling.

Run from the repository root (details and figures: bench/README.md)::

    python bench/outbox.py [--recipients 10000] [--backend sqlite|postgresql|both] [--quick]
    python bench/outbox.py --scenarios broadcast,ceiling,queue --ceiling-recipients 3000
    python bench/outbox.py --backend postgresql --scenarios fleet --fleet 1,2,3 --quick

Scenarios, on each backend (a fresh SQLite file or PostgreSQL database for every scenario):

* ``limited``: N urgent messages to N recipients through the fake Bot API of ``tests/fakes``
  enforcing ``--limit`` (30) messages/s with real 429 answers; a real ``mitrabot worker`` process
  configured with ``MITRABOT_TELEGRAM_RATE`` = the limit. Achieved rate as a fraction of the
  limit (target >= 0.95), 429s received, duplicates (target 0), lost (target 0).
* ``crash``: the same, but the worker gets SIGKILL when half the recipients have their message
  and a new worker is started at once (``MITRABOT_DELIVERY_LEASE_SECONDS`` = ``--lease``).
  Duplicates must stay within the in-flight window (at most the worker's concurrency); the rate
  is given over the whole run and without the outage (kill -> first send of the new worker).
* ``ceiling``: the limit lifted (the fake answers everything; worker rate 5000/s, concurrency
  64): how many messages/s a worker process pushes through HTTP and the queue.
* ``broadcast``: a broadcast (``--broadcast-recipients``, 1200) at ``--limit`` through the fake
  enforcing it, with 5 % of the chats blocked (403) and ten chats answered 429 (retry_after 1 s)
  once each, spread over the run: the fraction of the limit the delivered messages reach
  (target >= 0.9). The fake counts delivered messages against its limit (a 403 delivers none).
* ``fleet``: the ceiling with N = ``--fleet`` (1, 2, 3) worker processes side by side on one
  database (``MITRABOT_DELIVERY_SHARDS`` = N: each holds one shard of the chats), the limit
  lifted: msg/s against 1,000, CPU per process, and the fake's share of the CPU (on 2 cores it
  competes with the workers; the projection "with a core per process" leaves it out).
* ``queue``: the bare queue, no HTTP: a ``DeliveryWorker`` in this process with a sender that
  returns at once, so the per-message cost of claim + mark_sent is isolated.

The worker processes run the console script's code (``bot.cli.main``) configured through the
environment exactly like production; the fake Bot API (uvicorn on 127.0.0.1) runs in this
process. Nothing outside 127.0.0.1 is contacted. Exit status 1 when a run is invalid (a message
lost, rows not all ``sent``, duplicates outside the crash window, a worker that failed).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import logging
import os
import signal
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from datetime import time as day_time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `tests` is not an installed package
    sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select, text  # noqa: E402

from bench.databases import fresh_database, usable_backends  # noqa: E402
from core.clock import Clock  # noqa: E402
from core.recruitment import QuietHours  # noqa: E402
from scheduler.delivery import ChannelLimits, DeliveryWorker, Outgoing  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.files import FileStore  # noqa: E402
from storage.models import Broadcast, OutboxMessage  # noqa: E402
from storage.outbox import Outbox  # noqa: E402
from tests.fakes.telegram_api import FakeBotApi  # noqa: E402

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PROFILED_WORKER = (
    "import cProfile, os; from bot.cli import main; profile = cProfile.Profile(); "
    "profile.enable(); code = main(); profile.disable(); "
    "profile.dump_stats(os.environ['BENCH_PROFILE']); raise SystemExit(code)"
)
WORKER = "from bot.cli import main; raise SystemExit(main())"
QUIET = QuietHours(start=day_time(21, 0), end=day_time(6, 0))
TARGETS = {"paid broadcasts": 1000.0, "WhatsApp (low tier)": 80.0, "WhatsApp (high tier)": 1000.0}

log = logging.getLogger("bench.outbox")


class TimedFake(FakeBotApi):
    """The fake Bot API, stamping every accepted send and every worker start (getMe)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.send_times: list[float] = []
        self.send_chats: list[int] = []
        self.get_me_times: list[float] = []

    def _record(self, method: str, chat_id: int, *rest: Any, **kwargs: Any) -> None:
        super()._record(method, chat_id, *rest, **kwargs)
        if method == "sendMessage":
            self.send_times.append(time.monotonic())
            self.send_chats.append(chat_id)

    async def _get_me(self, params: dict[str, Any]) -> dict[str, Any]:
        self.get_me_times.append(time.monotonic())
        return await super()._get_me(params)

    def distinct(self) -> int:
        return len(set(self.send_chats))

    def forget(self) -> None:
        """Drop what earlier scenarios left (the fake is one per scenario anyway)."""
        self.sent.clear()
        self.calls.clear()


@dataclass
class Result:
    """One scenario on one backend."""

    scenario: str
    backend: str
    recipients: int
    limit: float | None = None
    wall: float = 0.0  # first accepted send -> last accepted send
    sends: int = 0
    rate: float = 0.0
    rate_without_outage: float | None = None
    rate_limited: int = 0
    duplicates: int = 0
    duplicated_recipients: list[int] = field(default_factory=list)
    lost: int = 0
    not_sent: Counter[str] = field(default_factory=Counter)
    largest_claim: int = 0
    claim_limit: int = 0
    worker_cpu: float | None = None  # seconds of CPU of the worker process(es)
    worker_cpus: dict[str, float] = field(default_factory=dict)  # each worker process
    processes: int = 1
    bench_cpu: float = 0.0  # this process: fake Bot API (+ in-process worker for `queue`)
    postgres_cpu: float | None = None
    notes: list[str] = field(default_factory=list)
    gaps: dict[str, float] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


# ----------------------------------------------------------------------------- databases


async def enqueue(database: Database, recipients: int, broadcast: bool = False) -> None:
    """One urgent message to each recipient, as one broadcast (progress recounted) or not."""
    now = datetime.now(UTC)
    broadcast_id = None
    if broadcast:
        async with database.transaction() as session:
            row = Broadcast(
                created_at=now, created_by="cli", text="bench", audience={}, total=recipients
            )
            session.add(row)
            await session.flush()
            broadcast_id = row.id
    rows = [
        {
            "dedup_key": f"bench:{user}",
            "channel": "telegram",
            "recipient": str(user),
            "text": f"Halo {user}, ini pengumuman jadwal tes.",
            "state": "queued",
            "attempts": 0,
            "not_before": now,
            "created_at": now,
            "urgent": True,  # whatever the time of the run, no quiet hours
            "broadcast_id": broadcast_id,
        }
        for user in range(1, recipients + 1)
    ]
    async with database.transaction() as session:
        await Outbox(session).enqueue(rows)


async def outbox_states(database: Database) -> Counter[str]:
    async with database.transaction() as session:
        rows = await session.execute(
            select(OutboxMessage.state, func.count()).group_by(OutboxMessage.state)
        )
        return Counter(dict(rows.all()))  # type: ignore[arg-type]


async def largest_claim(database: Database) -> int:
    """The most rows stamped with one claim (same worker, same claimed_at): a lower bound."""
    async with database.transaction() as session:
        query = (
            select(func.count())
            .where(OutboxMessage.claimed_at.is_not(None))
            .group_by(OutboxMessage.claimed_by, OutboxMessage.claimed_at)
            .order_by(func.count().desc())
            .limit(1)
        )
        return (await session.execute(query)).scalar() or 0


async def postgres_backend_pids(database: Database) -> list[int]:
    if database.is_sqlite:
        return []
    async with database.transaction() as session:
        rows = await session.execute(
            text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        )
        return [pid for (pid,) in rows.all()]


def process_cpu(pid: int) -> float | None:
    """User + system CPU seconds of a process (all its threads), None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def cpu_of(pids: list[int]) -> float:
    return sum(cpu or 0.0 for cpu in map(process_cpu, pids))


# ----------------------------------------------------------------------------- worker processes


def worker_environment(
    database: Database,
    fake: FakeBotApi,
    data_dir: Path,
    *,
    rate: float,
    concurrency: int,
    lease: float,
) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("MITRABOT_")}
    env.update(
        MITRABOT_DATABASE_URL=database.url.render_as_string(hide_password=False),
        MITRABOT_DATA_DIR=str(data_dir),
        MITRABOT_TELEGRAM_TOKEN=fake.token,
        MITRABOT_TELEGRAM_BASE_URL=fake.base_url,
        MITRABOT_TELEGRAM_BASE_FILE_URL=fake.base_file_url,
        MITRABOT_TELEGRAM_RATE=str(rate),
        MITRABOT_TELEGRAM_CHAT_RATE="1",
        MITRABOT_DELIVERY_CONCURRENCY=str(concurrency),
        MITRABOT_DELIVERY_LEASE_SECONDS=str(lease),
        MITRABOT_LOG_LEVEL="WARNING",
        NO_PROXY="127.0.0.1",
        no_proxy="127.0.0.1",
    )
    return env


class Worker:
    """One `mitrabot worker` process; output in a log file."""

    def __init__(self, name: str, env: dict[str, str], folder: Path, profile: Path | None) -> None:
        self.name = name
        self.env = dict(env)
        self.folder = folder
        self.log = folder / f"{name}.log"
        self.profile = profile
        self.process: asyncio.subprocess.Process | None = None
        self.started = 0.0
        self.cpu: float | None = None
        self.cpu_at_first_send: float | None = None
        self.killed = False

    async def start(self) -> None:
        code = WORKER
        if self.profile is not None:
            self.env["BENCH_PROFILE"] = str(self.profile)
            code = PROFILED_WORKER
        self.started = time.monotonic()
        with self.log.open("wb") as output:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                code,
                "worker",
                "--name",
                self.name,
                env=self.env,
                cwd=self.folder,  # the repository's `.env` is not read
                stdin=asyncio.subprocess.DEVNULL,
                stdout=output,
                stderr=asyncio.subprocess.STDOUT,
            )

    def check(self) -> None:
        if self.process is not None and self.process.returncode is not None and not self.killed:
            raise RuntimeError(
                f"worker {self.name} exited ({self.process.returncode}):\n{self.output()}"
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""

    def sample_cpu(self) -> None:
        if self.process is not None and (cpu := process_cpu(self.process.pid)) is not None:
            self.cpu = cpu

    async def stop(self, how: signal.Signals = signal.SIGTERM, wait: float = 30) -> int | None:
        process = self.process
        if process is None or process.returncode is not None:
            return None if process is None else process.returncode
        self.sample_cpu()
        self.killed = how == signal.SIGKILL
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(how)
        try:
            await asyncio.wait_for(process.wait(), wait)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await asyncio.wait_for(process.wait(), 10)
        return process.returncode


async def wait_until(
    what: str, check: Callable[[], Awaitable[bool]], seconds: float, workers: list[Worker]
) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        for worker in workers:
            worker.check()
        if time.monotonic() > deadline:
            logs = "\n".join(f"--- {w.name}\n{w.output()}" for w in workers)
            raise TimeoutError(f"{what}: not within {seconds:.0f} s\n{logs}")
        await asyncio.sleep(0.1)


# ----------------------------------------------------------------------------- figures


def gap_figures(times: list[float], interval: float | None) -> dict[str, float]:
    """Inter-send gaps: median, p99, max, and the time lost to gaps over the target interval."""
    gaps = [b - a for a, b in itertools.pairwise(times)]
    if not gaps:
        return {}
    ordered = sorted(gaps)
    figures = {
        "gap p50 ms": 1000 * statistics.median(ordered),
        "gap p99 ms": 1000 * ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
        "gap max ms": 1000 * ordered[-1],
    }
    if interval is not None:
        figures["lost to gaps > 0.5 s (s)"] = sum(g - interval for g in gaps if g > 0.5)
        figures["lost to small gaps (s)"] = sum(g - interval for g in gaps if interval < g <= 0.5)
    return figures


def delivery_figures(result: Result, fake: TimedFake, expected: int) -> None:
    times = fake.send_times
    result.sends = len(times)
    if len(times) >= 2:
        result.wall = times[-1] - times[0]
        result.rate = (len(times) - 1) / result.wall
    per_chat = Counter(fake.send_chats)
    result.duplicated_recipients = sorted(chat for chat, n in per_chat.items() if n > 1)
    result.duplicates = sum(n - 1 for n in per_chat.values())
    result.lost = expected - len(per_chat)
    result.rate_limited = fake.rate_limited


async def finish(result: Result, database: Database, expected: int, blocked: int = 0) -> None:
    """Wait (bounded) for the last `sent` commits, then read the final states."""
    final = {"sent": expected, "unreachable": blocked}
    for _ in range(50):
        states = await outbox_states(database)
        if all(states.get(state, 0) == count for state, count in final.items()):
            break
        await asyncio.sleep(0.1)
    result.not_sent = Counter({s: n for s, n in states.items() if n != final.get(s, 0)})
    result.largest_claim = await largest_claim(database)
    if result.lost:
        result.problems.append(f"{result.lost} recipient(s) never got the message")
    if result.not_sent:
        result.problems.append(f"rows not sent: {dict(result.not_sent)}")


# ----------------------------------------------------------------------------- scenarios


@dataclass
class Options:
    recipients: int
    limit: float
    lease: float
    concurrency: int
    ceiling_recipients: int
    ceiling_rate: float
    ceiling_concurrency: int
    broadcast_recipients: int
    fleet: list[int]
    folder: Path
    profile: Path | None


class Sampler:
    """CPU from the first send on: worker processes (startup excluded), PostgreSQL backends."""

    def __init__(self, database: Database, workers: list[Worker], first_send: Callable[[], float]):
        self.database = database
        self.workers = workers  # grows when a worker is restarted
        self.first_send = first_send  # monotonic time of the newest send, 0 when none yet
        self.pg_first: dict[int, float] = {}
        self.pg_last: dict[int, float] = {}
        self.bench_first: float | None = None
        self.bench_last = 0.0

    async def run(self) -> None:
        last_pg = 0.0
        while True:
            newest = self.first_send()
            for worker in self.workers:
                if worker.killed or worker.process is None:
                    continue
                if worker.cpu_at_first_send is None and newest > worker.started:
                    worker.cpu_at_first_send = process_cpu(worker.process.pid)
                worker.sample_cpu()
            if newest:
                if self.bench_first is None:
                    self.bench_first = time.process_time()
                self.bench_last = time.process_time()
                if not self.database.is_sqlite and time.monotonic() - last_pg > 1:
                    last_pg = time.monotonic()
                    await self.sample_postgres()
            await asyncio.sleep(0.05)

    async def sample_postgres(self) -> None:
        first_round = not self.pg_first  # backends seen later started later: from 0
        for pid in await postgres_backend_pids(self.database):
            cpu = process_cpu(pid)
            if cpu is not None:
                self.pg_first.setdefault(pid, cpu if first_round else 0.0)
                self.pg_last[pid] = cpu

    async def finish(self, result: Result) -> None:
        if not self.database.is_sqlite:
            await self.sample_postgres()
            result.postgres_cpu = sum(self.pg_last[p] - self.pg_first[p] for p in self.pg_last)
        result.bench_cpu = self.bench_last - (self.bench_first or self.bench_last)
        measured = [w for w in self.workers if w.cpu_at_first_send is not None]
        if measured:
            result.worker_cpus = {
                w.name: (w.cpu or 0.0) - (w.cpu_at_first_send or 0.0) for w in measured
            }
            result.worker_cpu = sum(result.worker_cpus.values())


async def run_http(backend: str, options: Options, scenario: str, processes: int = 1) -> Result:
    """Worker processes against the fake Bot API.

    `limited`: the fake enforces the limit, the worker is configured with it. `crash`: the same,
    SIGKILL when half the recipients have their message, a new worker started at once.
    `ceiling`: no limit at the fake, a fast and wide worker; `fleet`: the same with `processes`
    workers, each one shard of the chats.
    """
    crash = scenario == "crash"
    blocked: set[int] = set()
    flooded: set[int] = set()
    if scenario == "broadcast":
        n, limit = options.broadcast_recipients, options.limit
        rate, concurrency, lease = options.limit, options.concurrency, max(options.lease, 60.0)
        blocked = set(range(20, n + 1, 20))  # 5 %
        flooded = {n * k // 11 + 1 for k in range(1, 11)}  # ten, spread over the run
    elif scenario in ("ceiling", "fleet"):
        n, limit = options.ceiling_recipients, None
        rate, concurrency = options.ceiling_rate, options.ceiling_concurrency
        lease = max(options.lease, 60.0)
    else:
        n, limit = options.recipients, options.limit
        rate, concurrency, lease = options.limit, options.concurrency, options.lease
    result = Result(scenario, backend, n, limit=limit, processes=processes)
    result.claim_limit = min(max(1, int(rate / processes)), 500)
    folder = options.folder / f"{scenario}{processes}-{backend}"
    folder.mkdir(parents=True)
    async with fresh_database(backend, options.folder, "outbox") as database, TimedFake() as fake:
        if limit is not None:
            fake.enforce_rate(limit, count_refused=not blocked)
        for user in range(1, n + 1):
            fake.add_user(user)
        for user in blocked:
            fake.block_user(user)
        fake.flooded_chats.update(dict.fromkeys(flooded, 1))
        await enqueue(database, n, broadcast=scenario == "broadcast")
        delivered = n - len(blocked)
        env = worker_environment(
            database, fake, folder / "data", rate=rate, concurrency=concurrency, lease=lease
        )
        env["MITRABOT_DELIVERY_SHARDS"] = str(processes)

        def new_worker(name: str) -> Worker:
            profile = options.profile
            return Worker(
                name,
                env,
                folder,
                profile / f"{scenario}-{backend}-{name}.prof" if profile else None,
            )

        workers = [new_worker(f"w{i}") for i in range(1, processes + 1)]
        sampler = Sampler(database, workers, lambda: fake.send_times[-1] if fake.send_times else 0)
        sampling = asyncio.create_task(sampler.run())
        # Bounds for the waits: the ceiling is not known in advance (assume >= 20 msg/s).
        expected_seconds = n / min(rate, 20.0)
        killed_at = 0.0
        try:
            for worker in workers:
                await worker.start()
            if crash:

                async def half() -> bool:
                    return fake.distinct() >= n // 2

                await wait_until("half delivered", half, expected_seconds + 60, workers)
                killed_at = time.monotonic()
                await workers[0].stop(signal.SIGKILL)
                before = len(fake.send_times)
                await fake.wait_until_idle(timeout=10)
                states = await outbox_states(database)
                result.notes.append(
                    f"at the kill: {fake.distinct()} delivered, {states.get('sending', 0)} rows "
                    f"`sending`, {len(fake.send_times) - before} send(s) reached the fake after "
                    f"the kill signal"
                )
                workers.append(new_worker("w2"))
                await workers[1].start()

            async def all_delivered() -> bool:
                return fake.distinct() >= delivered

            await wait_until(
                "all delivered", all_delivered, expected_seconds * 1.5 + lease + 60, workers
            )
            await finish(result, database, delivered, len(blocked))
        finally:
            sampling.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sampling
            for worker in workers:
                worker.sample_cpu()
            await sampler.finish(result)
            for worker in workers:
                code = await worker.stop(signal.SIGTERM)
                if code not in (None, 0, -signal.SIGKILL):
                    result.problems.append(f"{worker.name} exit status {code}")
        delivery_figures(result, fake, delivered)
        if blocked or flooded:
            result.notes.append(
                f"{len(blocked)} chats blocked (403), {len(flooded)} answered 429 once "
                f"(retry_after 1 s); the rate counts delivered messages"
            )
        result.gaps = gap_figures(fake.send_times, 1 / limit if limit else None)
        if fake.send_times:
            result.notes.append(
                f"worker start -> first send {fake.send_times[0] - workers[0].started:.2f} s "
                f"(not in the rate)"
            )
        if crash:
            restart = workers[1]
            first_after = next((t for t in fake.send_times if t > restart.started), None)
            ready = next((t for t in fake.get_me_times if t > restart.started), None)
            if first_after is not None and ready is not None:
                last_before = max(t for t in fake.send_times if t < killed_at)
                outage = first_after - last_before
                result.rate_without_outage = (result.sends - 1) / (result.wall - outage)
                result.notes.append(
                    f"outage {outage:.2f} s = last send before the kill -> first send of the "
                    f"new worker: restart (kill -> its getMe) {ready - killed_at:.2f} s, then "
                    f"{first_after - ready:.2f} s to its first send (lease {lease:g} s)"
                )
            if result.duplicates > concurrency:
                result.problems.append(
                    f"{result.duplicates} duplicates > in-flight window (concurrency {concurrency})"
                )
        elif result.duplicates:
            result.problems.append(f"{result.duplicates} duplicate(s) without a crash")
    return result


class StubSender:
    """Returns at once: the cost of the queue alone."""

    def __init__(self, expected: int) -> None:
        self.sent: list[str] = []
        self.times: list[float] = []
        self.expected = expected
        self.done = asyncio.Event()

    async def send(self, message: Outgoing) -> str | None:
        self.sent.append(message.recipient)
        self.times.append(time.monotonic())
        if len(self.sent) >= self.expected:
            self.done.set()
        return str(len(self.sent))

    async def edit(self, recipient: str, message_id: str, text: str) -> None:
        return None


async def run_queue(backend: str, options: Options) -> Result:
    """A DeliveryWorker in this process with a stub sender: claim + mark_sent per message."""
    n = options.ceiling_recipients
    result = Result("queue", backend, n)
    result.claim_limit = 500
    async with fresh_database(backend, options.folder, "outbox") as database:
        await enqueue(database, n)
        stub = StubSender(n)
        worker = DeliveryWorker(
            database,
            {"telegram": stub},
            {"telegram": ChannelLimits(rate=1_000_000, per_chat=1_000_000)},
            Clock(),
            QUIET,
            FileStore(options.folder / "queue-documents"),
            name="stub",
            concurrency=options.ceiling_concurrency,
            idle_wait=0.05,
        )
        sampler = Sampler(database, [], lambda: stub.times[-1] if stub.times else 0)
        sampling = asyncio.create_task(sampler.run())
        stop = asyncio.Event()
        task = asyncio.create_task(worker.run(stop))
        finished = asyncio.create_task(stub.done.wait())
        try:
            await asyncio.wait({task, finished}, timeout=600, return_when=asyncio.FIRST_COMPLETED)
        finally:
            finished.cancel()
            stop.set()
            await asyncio.wait_for(task, 60)
            sampling.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sampling
            await sampler.finish(result)
        await finish(result, database, n)
        result.sends = len(stub.times)
        if len(stub.times) >= 2:
            result.wall = stub.times[-1] - stub.times[0]
            result.rate = (len(stub.times) - 1) / result.wall
        per = Counter(stub.sent)
        result.duplicates = sum(c - 1 for c in per.values())
        result.lost = n - len(per)
        result.gaps = gap_figures(stub.times, None)
        result.notes.append("`this process` is the worker itself here (no HTTP)")
    return result


# ----------------------------------------------------------------------------- report


def fleet_shares(result: Result) -> list[str]:
    """Where the run's CPU went, and the rate with a core for every worker process (the fake's
    and PostgreSQL's CPU left to other cores)."""
    worker = result.worker_cpu or 0.0
    others = {"fake Bot API": result.bench_cpu, "PostgreSQL": result.postgres_cpu or 0.0}
    total = worker + sum(others.values())
    shares = ", ".join(f"{name} {cpu / total:.0%}" for name, cpu in others.items())
    busy = max(result.worker_cpus.values(), default=worker) / result.wall
    projected = result.processes * result.sends / worker if worker else 0.0
    return [
        f"   CPU of the run: {total / result.wall:.2f} cores busy; workers {worker / total:.0%}, "
        f"{shares}; busiest worker {busy:.0%} of a core",
        f"   with a core per worker process: ~{projected:.0f} msg/s "
        f"({projected / 1000:.2f}x 1000/s, from the workers' CPU per message)",
    ]


def describe(result: Result) -> list[str]:
    fleet = f", {result.processes} worker processes" if result.scenario == "fleet" else ""
    lines = [f"== {result.scenario} on {result.backend}: {result.recipients} recipients{fleet}"]
    if result.limit:
        lines.append(
            f"   rate {result.rate:.2f} msg/s = {result.rate / result.limit:.3f} of the limit "
            f"{result.limit:g}/s (target >= {0.9 if result.scenario == 'broadcast' else 0.95}) "
            f"over {result.wall:.1f} s "
            f"(first -> last accepted send)"
        )
        if result.rate_without_outage is not None:
            lines.append(
                f"   without the outage: {result.rate_without_outage:.2f} msg/s = "
                f"{result.rate_without_outage / result.limit:.3f} of the limit"
            )
    else:
        lines.append(f"   {result.rate:.0f} msg/s over {result.wall:.1f} s")
        for name, target in TARGETS.items():
            lines.append(f"     / {target:g} ({name}): {result.rate / target:.2f}x")
    lines.append(
        f"   429s received {result.rate_limited}; sends {result.sends}; duplicates "
        f"{result.duplicates} {result.duplicated_recipients[:20] or ''}; lost {result.lost}; "
        f"rows not sent {dict(result.not_sent) or 0}"
    )
    lines.append(
        f"   largest claim: {result.largest_claim} rows (the worker asks for {result.claim_limit})"
    )
    cpu = []
    per_msg = max(1, result.sends)
    if result.worker_cpu is not None:
        cpu.append(f"worker {1000 * result.worker_cpu / per_msg:.2f}")
    if len(result.worker_cpus) > 1:
        each = ", ".join(f"{name} {cpu:.1f} s" for name, cpu in result.worker_cpus.items())
        lines.append(f"   CPU per worker process over the run: {each}")
    cpu.append(f"this process {1000 * result.bench_cpu / per_msg:.2f}")
    if result.postgres_cpu is not None:
        cpu.append(f"PostgreSQL {1000 * result.postgres_cpu / per_msg:.2f}")
    lines.append(f"   CPU ms/message: {', '.join(cpu)}")
    if result.scenario == "fleet" and result.worker_cpu and result.wall:
        lines.extend(fleet_shares(result))
    if result.gaps:
        lines.append("   " + ", ".join(f"{k} {v:.2f}" for k, v in result.gaps.items()))
    lines.extend(f"   {note}" for note in result.notes)
    lines.extend(f"   PROBLEM: {problem}" for problem in result.problems)
    return lines


async def main_async(args: argparse.Namespace) -> int:
    backends = await usable_backends(args.backend)
    if not backends:
        return 1
    scenarios = args.scenarios.split(",")
    unknown = set(scenarios) - {"limited", "crash", "ceiling", "broadcast", "queue", "fleet"}
    if unknown:
        raise SystemExit(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    recipients = 1500 if args.quick and args.recipients is None else args.recipients or 10_000
    ceiling = args.ceiling_recipients or (3000 if args.quick else recipients)
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="mitrabot-outbox-bench-") as folder:
        options = Options(
            recipients=recipients,
            limit=args.limit,
            lease=args.lease,
            concurrency=args.concurrency,
            ceiling_recipients=ceiling,
            ceiling_rate=args.ceiling_rate,
            ceiling_concurrency=args.ceiling_concurrency,
            broadcast_recipients=args.broadcast_recipients,
            fleet=[int(n) for n in args.fleet.split(",")],
            folder=Path(folder),
            profile=args.profile.resolve() if args.profile else None,
        )
        if options.profile:
            options.profile.mkdir(parents=True, exist_ok=True)
        runs = [
            (backend, scenario, processes)
            for backend in backends
            for scenario in scenarios
            for processes in (options.fleet if scenario == "fleet" else [1])
        ]
        for backend, scenario, processes in runs:
            started = time.monotonic()
            print(f"-- {scenario} on {backend} ...", flush=True)
            try:
                if scenario in ("limited", "crash", "ceiling", "broadcast", "fleet"):
                    result = await run_http(backend, options, scenario, processes)
                else:
                    result = await run_queue(backend, options)
            except Exception as error:  # report it, go on with the other scenarios
                result = Result(scenario, backend, 0)
                result.problems.append(f"{type(error).__name__}: {error}")
            results.append(result)
            print("\n".join(describe(result)), flush=True)
            print(f"   ({time.monotonic() - started:.0f} s)", flush=True)
    print("\nsummary")
    for r in results:
        if r.limit:
            figure = f"{r.rate / r.limit:.3f} of {r.limit:g}/s"
            if r.rate_without_outage is not None:
                figure += f" ({r.rate_without_outage / r.limit:.3f} without the outage)"
        else:
            figure = f"{r.rate:.0f} msg/s = {r.rate / 1000:.2f}x 1000/s, {r.rate / 80:.1f}x 80/s"
        name = f"{r.scenario}{r.processes}" if r.scenario == "fleet" else r.scenario
        print(
            f"  {name:8} {r.backend:10} {figure}; 429s {r.rate_limited}, duplicates "
            f"{r.duplicates}, lost {r.lost}{'  INVALID' if r.problems else ''}"
        )
    return 1 if any(r.problems for r in results) else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipients", type=int, help="rate-limited runs (default 10000)")
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument(
        "--quick", action="store_true", help="1500 recipients (3000 for the ceilings)"
    )
    parser.add_argument(
        "--scenarios",
        default="limited,crash,ceiling,queue",
        help="comma-separated, in order: limited, crash, ceiling, broadcast, queue, fleet",
    )
    parser.add_argument("--fleet", default="1,2,3", help="fleet: worker processes per run")
    parser.add_argument("--broadcast-recipients", type=int, default=1200)
    parser.add_argument("--limit", type=float, default=30.0, help="the fake's messages/s")
    parser.add_argument("--lease", type=float, default=5.0, help="worker lease seconds (>= 5)")
    parser.add_argument("--concurrency", type=int, default=16, help="rate-limited worker")
    parser.add_argument("--ceiling-recipients", type=int, help="default: --recipients")
    parser.add_argument("--ceiling-rate", type=float, default=5000.0)
    parser.add_argument("--ceiling-concurrency", type=int, default=64)
    parser.add_argument("--profile", type=Path, help="cProfile each worker process into DIR")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    raise SystemExit(main())
