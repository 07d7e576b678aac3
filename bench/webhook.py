"""WhatsApp webhook intake: absorb rate, time to 200, dedup under redelivery, forged posts.

Run from the repository root (details and figures: bench/README.md)::

    python bench/webhook.py [--backend sqlite|postgresql|both] [--quick] [--messages 2000]

The server is the real web app of ``mitrabot serve``: ``bot.serve.build_served`` (webhook,
delivery worker and scheduler in its lifespan) built from ``MITRABOT_*`` environment settings, in
its own process, under uvicorn on 127.0.0.1 (a free port), configured like ``bot/serve.py``.
pywa in that process sends to the fake Graph API of ``tests/fakes/graph_api.py``, which runs in
this process next to the simulated Meta: ``--clients`` (32) ``httpx.AsyncClient`` each with one
keep-alive connection, each posting signed payloads (``tests/fakes/whatsapp_webhook.py``) one at
a time. Two routes are added in front of the app (an ASGI dispatcher, the app untouched):
``/bench/baseline``, which only reads the body and checks the signature (``bot.web
.signature_valid``) before answering 200, and ``/bench/state``, the number of tasks in
``app.state.background``.

Phases, in order, on one server per backend (a fresh SQLite file or PostgreSQL database):

* warm-up (not measured): 8 users send a first and a second message; the replies each gets
  (welcome + menu, then the answer to a second text) are counted: they are the expectations.
* baseline, first half: M/2 signed posts to ``/bench/baseline``: HTTP + HMAC alone.
* absorb: M first messages from M distinct users (``Sender(user_id, wa_id)``): posts/s accepted
  and the time to the 200; then the wait (bounded) until every reply reached the fake and the
  background is empty: messages fully handled per second, time to a user's last reply, backlog.
* redelivery: the same M bodies posted again; then P pairs of new messages of known users, each
  pair two identical posts at once. No new applicant, one reply set per pair, no extra reply.
* forged: F posts signed with a wrong secret: all 403, nothing stored, nothing sent.
* baseline, second half (so that drift on the machine hits both sides alike).
* stop with a backlog: K first messages of new users, SIGTERM to the server right after the last
  200: how long the lifespan's drain takes, and whether all K were handled before the exit.
  ``--kill-after S`` sends SIGKILL if the server still runs S seconds later (a container's stop
  timeout) and counts the messages that were answered 200 but left no trace.

Each phase's CPU is read from ``/proc``: the server process, this process (Meta + the fake Graph
API), the PostgreSQL backends of the bench database, and the cores other processes used
meanwhile (the machine is shared). Ratios are against the baseline of the same run. Nothing
outside 127.0.0.1 is contacted. ``--profile DIR`` writes a cProfile of the server process.

Exit status 1 when a run is invalid: a post not answered as expected, counts of applicants,
processed updates or replies other than expected, a user answered twice, an error logged by the
server, an error of the fake, a drain that did not end in ``--drain-timeout``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import logging
import math
import os
import signal
import socket
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).resolve()
ROOT = SCRIPT.parents[1]
if str(ROOT) not in sys.path:  # `tests` is not an installed package
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from sqlalchemy import func, select, text  # noqa: E402
from starlette.requests import ClientDisconnect, Request  # noqa: E402
from starlette.responses import JSONResponse, PlainTextResponse, Response  # noqa: E402
from starlette.types import ASGIApp, Receive, Scope, Send  # noqa: E402

from bench.databases import fresh_database, usable_backends  # noqa: E402
from bot.web import WHATSAPP_PATH, signature_valid  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.models import (  # noqa: E402
    Applicant,
    ChatIdentity,
    InboundPayload,
    OutboxMessage,
    ProcessedUpdate,
)
from tests.fakes.graph_api import FakeGraphApi  # noqa: E402
from tests.fakes.whatsapp_webhook import Sender, WebhookBuilder, sign, signed_request  # noqa: E402

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
BASELINE_PATH = "/bench/baseline"
STATE_PATH = "/bench/state"
OPEN_DAY = "2023-11-10T09:00:00"  # registration open (MITRABOT_CLOCK_AT: the clock ticks on)
WARM_USERS = 8
WRONG_SECRET = "not-the-app-secret"
FIRST_TEXT = "halo"
SECOND_TEXT = "halo lagi"
TARGET_RATE, TARGET_P99_MS, TARGET_HANDLED = 800, 50, 80  # issue 20: posts/s, ms, msg/s

log = logging.getLogger("bench.webhook")

Request_ = tuple[bytes, dict[str, str]]


# ----------------------------------------------------------------------------- the server side


def with_bench_routes(web: Any, app_secret: str) -> ASGIApp:
    """`web` untouched, plus the baseline route and the background-size route in front of it."""

    async def baseline(request: Request) -> Response:
        body = await request.body()
        if not signature_valid(app_secret, body, request.headers.get("x-hub-signature-256")):
            return PlainTextResponse("bad signature", status_code=403)
        return PlainTextResponse("ok")

    async def state(request: Request) -> Response:
        return JSONResponse({"pending": len(web.state.background.tasks)})

    routes: dict[str, Callable[[Request], Awaitable[Response]]] = {
        BASELINE_PATH: baseline,
        STATE_PATH: state,
    }

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        handler = routes.get(scope.get("path", "")) if scope["type"] == "http" else None
        if handler is None:
            await web(scope, receive, send)
            return
        response = await handler(Request(scope, receive))
        await response(scope, receive, send)

    return app


async def serve_child() -> int:
    """The server process: `mitrabot serve`'s app from the environment, on a free port."""
    import uvicorn

    from bot.app import build_app
    from bot.serve import build_served
    from bot.settings import Settings

    settings = Settings()
    assert settings.whatsapp_app_secret is not None
    app = await build_app(settings, metered=True)
    try:
        served = build_served(app)
        web = with_bench_routes(served.web, settings.whatsapp_app_secret.get_secret_value())
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        # As bot/serve.py configures it (host/port given here as the bound socket).
        config = uvicorn.Config(web, log_level=settings.log_level.lower(), access_log=False)
        print(f"PORT {sock.getsockname()[1]}", flush=True)
        await uvicorn.Server(config).serve(sockets=[sock])
    finally:
        await app.close()
    return 0


def child_main() -> int:
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for chatty in ("httpx", "httpcore", "alembic"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    target = os.environ.get("BENCH_PROFILE")
    if not target:
        return asyncio.run(serve_child())
    import cProfile

    # uvicorn re-raises the SIGTERM it caught after its shutdown; a handler of ours makes that
    # a no-op, so that serve() returns and the profile is written.
    signal.signal(signal.SIGTERM, lambda *_: None)
    profile = cProfile.Profile()
    profile.enable()
    try:
        return asyncio.run(serve_child())
    finally:
        profile.disable()
        profile.dump_stats(target)


# ----------------------------------------------------------------------------- the fake


class TimedGraphApi(FakeGraphApi):
    """The fake Graph API, stamping every accepted send per recipient (not mark-as-read)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.arrivals: dict[str, list[float]] = defaultdict(list)
        self.sends = 0

    async def _messages(self, request: Request) -> Response:
        response = await super()._messages(request)
        if response.status_code == 200:
            data = json.loads(bytes(response.body))
            if data.get("messages"):
                self.arrivals[str(data["contacts"][0]["input"])].append(time.perf_counter())
                self.sends += 1
        return response


# ----------------------------------------------------------------------------- databases, CPU


def process_cpu(pid: int) -> float | None:
    """User + system CPU seconds of a process (all its threads), None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


@dataclass
class Counts:
    """What the database holds."""

    applicants: int
    processed: int
    outbox: int


async def counts(database: Database) -> Counts:
    async with database.transaction() as session:
        applicants = (await session.execute(select(func.count(Applicant.id)))).scalar_one()
        processed = (
            await session.execute(select(func.count()).select_from(ProcessedUpdate))
        ).scalar_one()
        outbox = (await session.execute(select(func.count(OutboxMessage.id)))).scalar_one()
    return Counts(applicants, processed, outbox)


def machine_busy() -> float:
    """Busy CPU seconds of the whole machine so far (all cores, any process)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / CLOCK_TICKS


@dataclass
class CpuSnapshot:
    """CPU seconds so far: server process, this process, PostgreSQL backends by pid, machine."""

    server: float
    bench: float
    postgres: dict[int, float]
    machine: float
    at: float


@dataclass
class Cpu:
    """CPU seconds spent between two snapshots, and the wall time between them."""

    server: float = 0.0
    bench: float = 0.0
    postgres: float | None = None
    machine: float = 0.0
    wall: float = 0.0

    def __add__(self, other: Cpu) -> Cpu:
        postgres = None
        if self.postgres is not None or other.postgres is not None:
            postgres = (self.postgres or 0.0) + (other.postgres or 0.0)
        return Cpu(
            self.server + other.server,
            self.bench + other.bench,
            postgres,
            self.machine + other.machine,
            self.wall + other.wall,
        )

    def per(self, n: int) -> str:
        """`server / bench / PG` milliseconds per item."""
        cell = f"{1000 * self.server / n:.2f} / {1000 * self.bench / n:.2f}"
        return cell + (f" / {1000 * self.postgres / n:.2f}" if self.postgres is not None else "")

    @property
    def others(self) -> float:
        """Cores used meanwhile by other processes on the machine (not ours, not PG's)."""
        if not self.wall:
            return 0.0
        ours = self.server + self.bench + (self.postgres or 0.0)
        return max(0.0, self.machine - ours) / self.wall


class CpuMeter:
    """Snapshots of the server process, this process and the bench database's backends."""

    def __init__(self, database: Database, server_pid: int) -> None:
        self.database = database
        self.server_pid = server_pid

    async def snapshot(self) -> CpuSnapshot:
        postgres: dict[int, float] = {}
        if not self.database.is_sqlite:
            async with self.database.transaction() as session:
                rows = await session.execute(
                    text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
                )
                for (pid,) in rows.all():
                    if (cpu := process_cpu(pid)) is not None:
                        postgres[pid] = cpu
        return CpuSnapshot(
            process_cpu(self.server_pid) or 0.0,
            time.process_time(),
            postgres,
            machine_busy(),
            time.perf_counter(),
        )

    @staticmethod
    def spent(before: CpuSnapshot, after: CpuSnapshot) -> Cpu:
        """What was spent between two snapshots (backends that exited meanwhile are missed)."""
        postgres = None
        if after.postgres or before.postgres:
            postgres = sum(
                cpu - before.postgres.get(pid, 0.0) for pid, cpu in after.postgres.items()
            )
        return Cpu(
            after.server - before.server,
            after.bench - before.bench,
            postgres,
            after.machine - before.machine,
            after.at - before.at,
        )


# ----------------------------------------------------------------------------- posting


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..1) of unsorted values; 0 when empty."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1))]


@dataclass
class PostRun:
    """A batch of posts: per-post send time, latency and status (0: no answer)."""

    name: str
    sent_at: list[float]
    latencies: list[float]
    statuses: list[int]
    wall: float
    cpu: Cpu = field(default_factory=Cpu)
    failures: Counter[str] = field(default_factory=Counter)

    @property
    def posts(self) -> int:
        return len(self.latencies)

    @property
    def rate(self) -> float:
        return self.posts / self.wall if self.wall else 0.0

    def ms(self, q: float) -> float:
        return 1000 * percentile(self.latencies, q)

    def answered(self, status: int) -> int:
        return sum(1 for s in self.statuses if s == status)

    @staticmethod
    def merge(name: str, runs: Sequence[PostRun]) -> PostRun:
        """Several runs as one (latencies pooled, walls and CPU added)."""
        merged = PostRun(
            name,
            [t for r in runs for t in r.sent_at],
            [t for r in runs for t in r.latencies],
            [s for r in runs for s in r.statuses],
            sum(r.wall for r in runs),
            sum((r.cpu for r in runs), Cpu()),
        )
        for r in runs:
            merged.failures.update(r.failures)
        return merged


async def post_all(
    clients: Sequence[httpx.AsyncClient],
    path: str,
    requests: Sequence[Request_],
    name: str,
    *,
    pairs: bool = False,
) -> PostRun:
    """Post every request through `clients` at once, each client one request at a time.

    With `pairs`, each request is posted twice at once by two clients, so `len(clients) // 2`
    pairs are in flight; the run then has two entries per request.
    """
    copies = 2 if pairs else 1
    n = len(requests) * copies
    sent_at, latencies, statuses = [0.0] * n, [0.0] * n, [0] * n
    failures: Counter[str] = Counter()
    indexes = iter(range(len(requests)))

    async def one(http: httpx.AsyncClient, slot: int, request: Request_) -> None:
        body, headers = request
        started = time.perf_counter()
        sent_at[slot] = started
        try:
            response = await http.post(path, content=body, headers=headers)
            statuses[slot] = response.status_code
        except httpx.HTTPError as error:
            failures[type(error).__name__] += 1
        latencies[slot] = time.perf_counter() - started

    async def worker(own: Sequence[httpx.AsyncClient]) -> None:
        for index in indexes:
            await asyncio.gather(
                *(one(http, copies * index + k, requests[index]) for k, http in enumerate(own))
            )

    groups = [clients[k : k + copies] for k in range(0, len(clients) - copies + 1, copies)]
    started = time.perf_counter()
    await asyncio.gather(*(worker(group) for group in groups))
    wall = time.perf_counter() - started
    return PostRun(name, sent_at, latencies, statuses, wall, failures=failures)


# ----------------------------------------------------------------------------- the run


@dataclass
class Options:
    messages: int
    clients: int
    pairs: int
    forged: int
    backlog: int
    drain_timeout: float
    folder: Path
    profile: Path | None = None
    kill_after: float | None = None
    graph_delay: float = 0.0


@dataclass
class Report:
    """One backend's run."""

    backend: str
    messages: int
    clients: int
    graph_delay: float = 0.0
    runs: dict[str, PostRun] = field(default_factory=dict)
    replies_first: int = 0
    replies_second: int = 0
    handled_wall: float = 0.0  # absorb: first post -> last reply
    drain_after_last_200: float = 0.0
    reply_times: list[float] = field(default_factory=list)  # post -> last reply, per user
    absorb_handled_cpu: Cpu = field(default_factory=Cpu)
    backlog_peak: int = 0
    backlog_at_last_200: int = 0
    stop_pending: int = 0
    stop_seconds: float = 0.0
    stop_exit: int | None = None
    stop_handled: int = 0
    stop_within: dict[int, int] = field(default_factory=dict)  # seconds after SIGTERM -> users
    stop_stored: int = 0  # late users with a chat identity (their message reached the database)
    stop_kept: int = 0  # accepted payloads left in inbound_payloads for the next start
    late: list[Sender] = field(default_factory=list)
    checks: list[tuple[str, object, object]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def check(self, what: str, expected: object, found: object) -> None:
        self.checks.append((what, expected, found))
        if expected != found:
            self.problems.append(f"{what}: expected {expected}, found {found}")


class Server:
    """The server process (this file with `--child`), its log, its port."""

    def __init__(self, folder: Path, env: dict[str, str], profile: Path | None = None) -> None:
        self.folder = folder
        self.env = dict(env)
        if profile is not None:
            self.env["BENCH_PROFILE"] = str(profile)
        self.log = folder / "server.log"
        self.process: asyncio.subprocess.Process | None = None
        self.url = ""

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    async def start(self) -> None:
        with self.log.open("wb") as output:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                str(SCRIPT),
                "--child",
                env=self.env,
                cwd=self.folder,  # the repository's `.env` is not read
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=output,
            )
        assert self.process.stdout is not None
        line = await asyncio.wait_for(self.process.stdout.readline(), 60)
        if not line.startswith(b"PORT "):
            raise RuntimeError(f"server did not start:\n{self.output()}")
        self.url = f"http://127.0.0.1:{int(line.split()[1])}"
        async with httpx.AsyncClient(base_url=self.url, trust_env=False) as probe:
            deadline = time.monotonic() + 60
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if (await probe.get("/healthz")).status_code == 200:
                        return
                if time.monotonic() > deadline or self.process.returncode is not None:
                    raise RuntimeError(f"server not healthy:\n{self.output()}")
                await asyncio.sleep(0.1)

    async def stop(self, how: signal.Signals = signal.SIGTERM, wait: float = 120) -> int | None:
        process = self.process
        if process is None or process.returncode is not None:
            return None if process is None else process.returncode
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(how)
        try:
            await asyncio.wait_for(process.wait(), wait)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await asyncio.wait_for(process.wait(), 10)
        return process.returncode

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""

    def errors(self) -> list[str]:
        if not self.log.exists():
            return []
        return [
            line
            for line in self.log.read_text(errors="replace").splitlines()
            if " ERROR " in line or " CRITICAL " in line or line.startswith("Traceback")
        ]


def server_environment(database: Database, fake: FakeGraphApi, data_dir: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("MITRABOT_")}
    env.update(
        MITRABOT_DATABASE_URL=database.url.render_as_string(hide_password=False),
        MITRABOT_DATA_DIR=str(data_dir),
        MITRABOT_WHATSAPP_PHONE_ID=fake.phone_id,
        MITRABOT_WHATSAPP_TOKEN=fake.token,
        MITRABOT_WHATSAPP_APP_SECRET=fake.app_secret,
        MITRABOT_WHATSAPP_VERIFY_TOKEN=fake.verify_token,
        MITRABOT_WHATSAPP_BASE_URL=fake.root_url,
        MITRABOT_WHATSAPP_API_VERSION=fake.api_version,
        MITRABOT_CLOCK_AT=OPEN_DAY,
        MITRABOT_LOG_LEVEL="WARNING",
        NO_PROXY="127.0.0.1",
        no_proxy="127.0.0.1",
    )
    return env


class Users:
    """Distinct WhatsApp users (business-scoped id + phone number), never reused."""

    def __init__(self, builder: WebhookBuilder, app_secret: str) -> None:
        self.builder = builder
        self.app_secret = app_secret
        self.serial = 0

    def new(self, n: int) -> list[Sender]:
        users = []
        for _ in range(n):
            self.serial += 1
            users.append(
                Sender(
                    user_id=f"ID.{1_349_120_000_000_000 + self.serial}",
                    wa_id=f"62812{self.serial:08d}",
                    name=f"Pelamar {self.serial}",
                )
            )
        return users

    def signed(self, users: Sequence[Sender], body: str) -> list[Request_]:
        """One fresh message (new wamid) per user, signed with the app secret."""
        return [
            signed_request(self.builder.text(body, sender=user), self.app_secret) for user in users
        ]

    def forged(self, users: Sequence[Sender], body: str) -> list[Request_]:
        """Like `signed`, but the signature is made with another secret."""
        requests = []
        for raw, headers in self.signed(users, body):
            headers = dict(headers)
            headers["X-Hub-Signature-256"] = sign(raw, WRONG_SECRET)
            requests.append((raw, headers))
        return requests


class Probe:
    """Reads the server's background size; keeps the peak while `watch` runs."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.peak = 0
        self.last = 0

    async def pending(self) -> int:
        response = await self.http.get(STATE_PATH)
        self.last = int(response.json()["pending"])
        self.peak = max(self.peak, self.last)
        return self.last

    async def watch(self, every: float = 0.1) -> None:
        while True:
            with contextlib.suppress(httpx.HTTPError):
                await self.pending()
            await asyncio.sleep(every)


async def settle(
    probe: Probe, fake: TimedGraphApi, expected_sends: int | None, seconds: float
) -> bool:
    """Wait until the background is empty (and the fake has `expected_sends`); False: timeout."""
    deadline = time.monotonic() + seconds
    while True:
        with contextlib.suppress(httpx.HTTPError):
            if await probe.pending() == 0 and (
                expected_sends is None or fake.sends >= expected_sends
            ):
                return True
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)


def replies_per_user(fake: TimedGraphApi, users: Sequence[Sender]) -> Counter[int]:
    """How many users got how many replies (so far)."""
    return Counter(len(fake.arrivals.get(user.wa_id or "", [])) for user in users)


def quiet_gc() -> None:
    """Keep this process's collector from pausing the simulated Meta in a measured phase.

    This process holds every request and everything the fake recorded; a full collection
    scanning them paused all 32 clients for 200-300 ms (the p99 of every phase). Frozen
    objects are not scanned; the server process is left alone (its pauses are measured).
    """
    gc.collect()
    gc.freeze()


async def measured(meter: CpuMeter, run: Callable[[], Awaitable[PostRun]]) -> PostRun:
    quiet_gc()
    before = await meter.snapshot()
    result = await run()
    result.cpu = CpuMeter.spent(before, await meter.snapshot())
    return result


async def run_backend(backend: str, options: Options) -> Report:
    """Every phase on one server and one fresh database."""
    report = Report(backend, options.messages, options.clients, options.graph_delay)
    folder = options.folder / backend
    folder.mkdir(parents=True)
    async with (
        fresh_database(backend, options.folder, "webhook") as database,
        TimedGraphApi() as fake,
    ):
        fake.response_delay = options.graph_delay
        profile = options.profile / f"server-{backend}.prof" if options.profile else None
        server = Server(folder, server_environment(database, fake, folder / "data"), profile)
        await server.start()
        meter = CpuMeter(database, server.pid)
        users = Users(
            WebhookBuilder(
                phone_id=fake.phone_id,
                waba_id=fake.waba_id,
                display_phone_number=fake.display_phone_number,
            ),
            fake.app_secret,
        )
        # One connection per client (one pool of 32 costs the client ~2x the CPU per post).
        one = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        try:
            async with contextlib.AsyncExitStack() as stack:
                http = [
                    await stack.enter_async_context(
                        httpx.AsyncClient(
                            base_url=server.url, limits=one, timeout=120, trust_env=False
                        )
                    )
                    for _ in range(options.clients)
                ]
                side = await stack.enter_async_context(
                    httpx.AsyncClient(base_url=server.url, timeout=120, trust_env=False)
                )
                probe = Probe(side)
                await run_phases(report, options, database, fake, server, meter, users, http, probe)
        finally:
            report.stop_exit = await server.stop()
            for line in server.errors()[:20]:
                report.problems.append(f"server log: {line}")
            errors = fake.internal_errors
            if report.stop_exit == -signal.SIGKILL:  # sends cut off by the kill are expected
                errors = [e for e in errors if not isinstance(e, ClientDisconnect)]
            if errors:
                report.problems.append(f"fake internal errors: {errors[:5]!r}")
            if fake.rejected:
                report.problems.append(f"sends the fake refused: {len(fake.rejected)}")
        await final_checks(report, database, fake, users, options)
    return report


async def run_phases(
    report: Report,
    options: Options,
    database: Database,
    fake: TimedGraphApi,
    server: Server,
    meter: CpuMeter,
    users: Users,
    http: Sequence[httpx.AsyncClient],
    probe: Probe,
) -> None:
    m, timeout = options.messages, options.drain_timeout

    async def drained(what: str, expected_sends: int | None) -> None:
        if not await settle(probe, fake, expected_sends, timeout):
            report.problems.append(
                f"{what}: not drained within {timeout:.0f} s ({probe.last} tasks pending, "
                f"{fake.sends} replies, expected {expected_sends})"
            )

    # -- warm-up: the replies a first and a second message get
    warm = users.new(WARM_USERS)
    await post_all(http, WHATSAPP_PATH, users.signed(warm, FIRST_TEXT), "warm-up")
    await drained("warm-up", None)
    first = replies_per_user(fake, warm)
    await post_all(http, WHATSAPP_PATH, users.signed(warm, SECOND_TEXT), "warm-up 2")
    await drained("warm-up 2", None)
    both = replies_per_user(fake, warm)
    if len(first) != 1 or len(both) != 1:
        report.problems.append(f"warm-up users got different reply counts: {first}, {both}")
    report.replies_first = max(first)
    report.replies_second = max(both) - report.replies_first
    if report.replies_first < 1 or report.replies_second < 1:
        report.problems.append(f"warm-up: no replies ({first}, {both})")
        return
    await post_all(http, BASELINE_PATH, users.signed(users.new(200), FIRST_TEXT), "warm baseline")
    r1, r2 = report.replies_first, report.replies_second
    expected_sends = WARM_USERS * (r1 + r2)
    start = await counts(database)

    # -- baseline, first half (bodies of users who never reach the webhook)
    half = users.signed(users.new(m // 2), FIRST_TEXT)
    baseline_runs = [await measured(meter, lambda: post_all(http, BASELINE_PATH, half, "baseline"))]

    # -- absorb: M first messages of M new users
    crowd = users.new(m)
    absorb_requests = users.signed(crowd, FIRST_TEXT)
    quiet_gc()
    before = await meter.snapshot()
    probe.peak = 0
    watching = asyncio.create_task(probe.watch())
    try:
        absorb = await post_all(http, WHATSAPP_PATH, absorb_requests, "absorb")
        absorb.cpu = CpuMeter.spent(before, await meter.snapshot())
        last_200 = max(s + lat for s, lat in zip(absorb.sent_at, absorb.latencies, strict=True))
        with contextlib.suppress(httpx.HTTPError):
            report.backlog_at_last_200 = await probe.pending()
        expected_sends += m * r1
        await drained("absorb", expected_sends)
    finally:
        watching.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watching
    report.absorb_handled_cpu = CpuMeter.spent(before, await meter.snapshot())
    report.backlog_peak = probe.peak
    report.runs["absorb"] = absorb
    got = replies_per_user(fake, crowd)
    report.check("absorb: users with exactly the first-message replies", m, got.get(r1, 0))
    last_replies = []
    for user, sent_at in zip(crowd, absorb.sent_at, strict=True):
        arrivals = fake.arrivals.get(user.wa_id or "", [])
        if arrivals:
            last_replies.append(arrivals[-1])
            report.reply_times.append(arrivals[-1] - sent_at)
    if last_replies:
        report.handled_wall = max(last_replies) - min(absorb.sent_at)
        report.drain_after_last_200 = max(last_replies) - last_200
    after_absorb = await counts(database)
    report.check("absorb: new applicants", m, after_absorb.applicants - start.applicants)
    report.check("absorb: new processed updates", m, after_absorb.processed - start.processed)

    # -- redelivery: the same M bodies again
    sends_before = fake.sends
    redelivery = await measured(
        meter, lambda: post_all(http, WHATSAPP_PATH, absorb_requests, "redelivery")
    )
    await drained("redelivery", None)
    report.runs["redelivery"] = redelivery
    report.check("redelivery: replies sent", 0, fake.sends - sends_before)
    after_redelivery = await counts(database)
    report.check(
        "redelivery: new applicants + processed updates",
        (0, 0),
        (
            after_redelivery.applicants - after_absorb.applicants,
            after_redelivery.processed - after_absorb.processed,
        ),
    )

    # -- pairs: a new message of a known user, posted twice at once
    pair_users = crowd[: options.pairs]
    pair_requests = users.signed(pair_users, SECOND_TEXT)
    sends_before = fake.sends
    pairs = await measured(
        meter,
        lambda: post_all(http, WHATSAPP_PATH, pair_requests, "pairs", pairs=True),
    )
    expected_sends += options.pairs * r2
    await drained("pairs", expected_sends)
    report.runs["pairs"] = pairs
    report.check("pairs: replies sent", options.pairs * r2, fake.sends - sends_before)
    got = replies_per_user(fake, pair_users)
    report.check("pairs: users with one set of replies", options.pairs, got.get(r1 + r2, 0))
    after_pairs = await counts(database)
    report.check(
        "pairs: new applicants + processed updates",
        (0, options.pairs),
        (
            after_pairs.applicants - after_redelivery.applicants,
            after_pairs.processed - after_redelivery.processed,
        ),
    )

    # -- forged signatures
    sends_before = fake.sends
    forged_requests = users.forged(users.new(options.forged), FIRST_TEXT)
    forged = await measured(meter, lambda: post_all(http, WHATSAPP_PATH, forged_requests, "forged"))
    await drained("forged", None)
    report.runs["forged"] = forged
    report.check("forged: answered 403", options.forged, forged.answered(403))
    after_forged = await counts(database)
    report.check(
        "forged: rows stored (applicants, processed) + replies sent",
        (0, 0, 0),
        (
            after_forged.applicants - after_pairs.applicants,
            after_forged.processed - after_pairs.processed,
            fake.sends - sends_before,
        ),
    )

    # -- baseline, second half
    rest = users.signed(users.new(m - m // 2), FIRST_TEXT)
    baseline_runs.append(
        await measured(meter, lambda: post_all(http, BASELINE_PATH, rest, "baseline"))
    )
    report.runs["baseline"] = PostRun.merge("baseline", baseline_runs)
    for name, run in report.runs.items():
        wanted = 403 if name == "forged" else 200
        if run.answered(wanted) != run.posts:
            report.problems.append(
                f"{name}: {run.posts - run.answered(wanted)} post(s) not answered {wanted} "
                f"({Counter(run.statuses)}, {dict(run.failures)})"
            )

    # -- stop with a backlog: K first messages, SIGTERM right after the last 200
    if options.backlog:
        late = report.late = users.new(options.backlog)
        quiet_gc()
        stop_run = await post_all(http, WHATSAPP_PATH, users.signed(late, FIRST_TEXT), "stop")
        report.runs["stop with backlog"] = stop_run
        with contextlib.suppress(httpx.HTTPError):
            report.stop_pending = await probe.pending()
        sends_before = fake.sends
        started = time.perf_counter()
        report.stop_exit = await server.stop(wait=options.kill_after or 120)
        report.stop_seconds = time.perf_counter() - started
        report.stop_handled = replies_per_user(fake, late).get(r1, 0)
        done = [
            fake.arrivals[user.wa_id or ""][-1] - started
            for user in late
            if len(fake.arrivals.get(user.wa_id or "", [])) == r1
        ]
        for limit in (2, 10, 30):
            report.stop_within[limit] = sum(1 for t in done if t <= limit)
        report.stop_stored = await stored_users(database, late)
        report.stop_kept = await kept_payloads(database)
        report.notes.append(
            f"stop: {fake.sends - sends_before} replies reached the fake after SIGTERM"
        )
        # uvicorn re-raises the SIGTERM it caught once it has shut down: -15 is a clean exit.
        clean = (0, -signal.SIGTERM)
        if options.kill_after is None:
            report.check(
                "stop: users handled before the exit + kept for the next start",
                options.backlog,
                report.stop_handled + report.stop_kept,
            )
            report.check("stop: server exit status", True, report.stop_exit in clean)
        else:
            report.check(
                "stop: server exit status", True, report.stop_exit in (*clean, -signal.SIGKILL)
            )
            report.notes.append(
                f"stop: SIGKILL {options.kill_after:g} s after SIGTERM "
                f"({'sent' if report.stop_exit == -signal.SIGKILL else 'not needed'}): of "
                f"{options.backlog} messages answered 200, {options.backlog - report.stop_stored} "
                f"were not handled; {report.stop_kept} of them are kept in `inbound_payloads` "
                f"for the sweep of the next start, "
                f"{options.backlog - report.stop_stored - report.stop_kept} left no trace "
                f"(lost); {report.stop_stored - report.stop_handled} stored but not fully "
                f"answered"
            )


async def kept_payloads(database: Database) -> int:
    """Accepted payloads still waiting in `inbound_payloads` (handled at the next start)."""
    async with database.transaction() as session:
        query = select(func.count()).where(InboundPayload.handled_at.is_(None))
        return (await session.execute(query)).scalar_one()


async def stored_users(database: Database, users: Sequence[Sender]) -> int:
    """How many of `users` have a WhatsApp chat identity (their message was handled)."""
    async with database.transaction() as session:
        query = select(func.count(ChatIdentity.id)).where(
            ChatIdentity.channel == "whatsapp",
            ChatIdentity.external_id.in_([user.user_id for user in users]),
        )
        return (await session.execute(query)).scalar_one()


async def final_checks(
    report: Report, database: Database, fake: TimedGraphApi, users: Users, options: Options
) -> None:
    """Totals over the whole run, and no user answered twice."""
    if not report.replies_first:
        return
    final = await counts(database)
    m, pairs, r1, r2 = options.messages, options.pairs, report.replies_first, report.replies_second
    killed = options.kill_after is not None
    # After a SIGKILL: what was stored; after a clean stop: all but what waits in the database
    # (`inbound_payloads`) for the next start.
    late = report.stop_stored if killed else options.backlog - report.stop_kept
    late_ids = {user.wa_id or "" for user in report.late}
    report.check("total applicants", WARM_USERS + m + late, final.applicants)
    report.check("total processed updates", 2 * WARM_USERS + m + pairs + late, final.processed)
    late_sends = sum(len(fake.arrivals.get(wa, [])) for wa in late_ids)
    expected = WARM_USERS * (r1 + r2) + m * r1 + pairs * r2
    report.check(
        "total replies at the fake (but the stop phase's)", expected, fake.sends - late_sends
    )
    if not killed:
        report.check("replies of the stop phase", late * r1, late_sends)
    report.notes.append(f"outbox rows at the end: {final.outbox}")
    allowed = {r1, r1 + r2}
    odd = [
        wa
        for wa, times in fake.arrivals.items()
        if len(times) not in allowed and not (killed and wa in late_ids)
    ]
    report.check("users with an unexpected number of replies", 0, len(odd))


# ----------------------------------------------------------------------------- report


def describe(report: Report) -> list[str]:
    name = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}[report.backend]
    lines = [
        f"== {name}: {report.messages} messages, {report.clients} clients; replies per first "
        f"message {report.replies_first}, per second message {report.replies_second}"
        + (f"; Graph API answers after {report.graph_delay:g} s" if report.graph_delay else ""),
        f"   {'phase':<26}{'posts':>7}{'answered':>14}{'posts/s':>9}{'p50 ms':>8}{'p95 ms':>8}"
        f"{'p99 ms':>8}{'max ms':>8}   {'CPU ms/post: srv/bench/PG':<26}{'others':>7}",
    ]
    labels = {
        "baseline": "baseline (HMAC only)",
        "absorb": "absorb (new users)",
        "redelivery": "redelivery (same bodies)",
        "pairs": "identical pairs at once",
        "forged": "forged signature",
        "stop with backlog": "stop with backlog",
    }
    for key, label in labels.items():
        run = report.runs.get(key)
        if run is None:
            continue
        answered = ", ".join(f"{n}×{s}" for s, n in sorted(Counter(run.statuses).items()))
        lines.append(
            f"   {label:<26}{run.posts:>7}{answered:>14}{run.rate:>9.0f}{run.ms(0.5):>8.1f}"
            f"{run.ms(0.95):>8.1f}{run.ms(0.99):>8.1f}{run.ms(1.0):>8.1f}   "
            + (f"{run.cpu.per(run.posts):<26}{run.cpu.others:>7.2f}" if run.cpu.wall else "-")
        )
    absorb, base = report.runs.get("absorb"), report.runs.get("baseline")
    if absorb is not None and report.handled_wall:
        times = report.reply_times
        lines.append(
            f"   end to end: {report.messages} messages handled in {report.handled_wall:.1f} s = "
            f"{report.messages / report.handled_wall:.1f} msg/s (first post -> last reply); "
            f"CPU ms/message srv/bench/PG {report.absorb_handled_cpu.per(report.messages)}, "
            f"others {report.absorb_handled_cpu.others:.2f} cores"
        )
        lines.append(
            f"   post -> user's last reply: p50 {percentile(times, 0.5):.2f} s, p95 "
            f"{percentile(times, 0.95):.2f} s, p99 {percentile(times, 0.99):.2f} s, max "
            f"{max(times):.2f} s; last 200 -> last reply {report.drain_after_last_200:.1f} s; "
            f"background tasks: {report.backlog_at_last_200} at the last 200, peak "
            f"{report.backlog_peak}"
        )
    if base is not None and base.rate:
        ratios = []
        for key in ("absorb", "redelivery", "pairs", "forged"):
            run = report.runs.get(key)
            if run is not None and run.rate:
                ratios.append(
                    f"{key} p99 {run.ms(0.99) / base.ms(0.99):.2f}×, p50 "
                    f"{run.ms(0.5) / base.ms(0.5):.2f}×, rate {run.rate / base.rate:.2f}×"
                )
        lines.append("   to the baseline: " + "; ".join(ratios))
    if report.stop_seconds:
        lines.append(
            f"   stop: {report.stop_pending} tasks pending at SIGTERM, exit {report.stop_exit} "
            f"after {report.stop_seconds:.1f} s, {report.stop_handled} of "
            f"{len(report.runs['stop with backlog'].latencies)} users handled before the exit"
        )
        within = ", ".join(f"{n} within {t} s" for t, n in report.stop_within.items())
        lines.append(f"   stop: users fully answered after SIGTERM: {within}")
    for what, expected, found in report.checks:
        mark = "ok" if expected == found else "FAILED"
        lines.append(f"   check {what}: expected {expected}, found {found} [{mark}]")
    lines.extend(f"   {note}" for note in report.notes)
    lines.extend(f"   PROBLEM: {problem}" for problem in report.problems)
    return lines


async def main_async(args: argparse.Namespace) -> int:
    backends = await usable_backends(args.backend)
    if not backends:
        return 1
    messages = args.messages or (300 if args.quick else 2000)
    options = Options(
        messages=messages,
        clients=args.clients,
        pairs=args.pairs if args.pairs is not None else max(1, messages // 10),
        forged=args.forged if args.forged is not None else max(1, messages // 4),
        backlog=args.backlog if args.backlog is not None else max(1, messages // 4),
        drain_timeout=args.drain_timeout,
        folder=Path(),
        profile=args.profile.resolve() if args.profile else None,
        kill_after=args.kill_after,
        graph_delay=args.graph_delay,
    )
    if options.profile:
        options.profile.mkdir(parents=True, exist_ok=True)
    reports: list[Report] = []
    with tempfile.TemporaryDirectory(prefix="mitrabot-webhook-bench-") as folder:
        options.folder = Path(folder)
        for backend in backends:
            started = time.monotonic()
            print(f"-- {backend} ...", flush=True)
            try:
                report = await run_backend(backend, options)
            except Exception as error:  # report it, go on with the other backend
                log.exception("run on %s failed", backend)
                report = Report(backend, messages, args.clients)
                report.problems.append(f"{type(error).__name__}: {error}")
            reports.append(report)
            print("\n".join(describe(report)), flush=True)
            print(f"   ({time.monotonic() - started:.0f} s)", flush=True)
    print("\nsummary")
    for r in reports:
        absorb, base = r.runs.get("absorb"), r.runs.get("baseline")
        if absorb is None or base is None or not r.handled_wall:
            print(f"  {r.backend:10} INVALID")
            continue
        print(
            f"  {r.backend:10} absorb {absorb.rate:.0f} posts/s (p99 {absorb.ms(0.99):.0f} ms = "
            f"{absorb.ms(0.99) / base.ms(0.99):.1f}× baseline's {base.ms(0.99):.0f} ms); "
            f"handled {r.messages / r.handled_wall:.1f} msg/s; backlog peak {r.backlog_peak}"
            f"{'  INVALID' if r.problems else ''}"
        )
        handled = r.messages / r.handled_wall
        print(
            f"  {'':10} targets (issue 20): absorb >= {TARGET_RATE} posts/s "
            f"[{'met' if absorb.rate >= TARGET_RATE else 'not met'}], p99 < {TARGET_P99_MS} ms "
            f"[{'met' if absorb.ms(0.99) < TARGET_P99_MS else 'not met'}], handled >= "
            f"{TARGET_HANDLED} msg/s [{'met' if handled >= TARGET_HANDLED else 'not met'}]"
        )
    return 1 if any(r.problems for r in reports) else 0


def main() -> int:
    if sys.argv[1:] == ["--child"]:
        return child_main()
    # httpcore tries `import sniffio` on every request (not installed: each try walks
    # sys.path). In this process only (simulated Meta + fake Graph API), make the failure
    # immediate; the server process is left as production runs.
    sys.modules.setdefault("sniffio", None)  # type: ignore[arg-type]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="postgresql")
    parser.add_argument("--quick", action="store_true", help="300 messages instead of 2000")
    parser.add_argument("--messages", type=int, help="M: first messages of new users (2000)")
    parser.add_argument("--clients", type=int, default=32, help="concurrent connections (32)")
    parser.add_argument("--pairs", type=int, help="pairs of identical posts (default M/10)")
    parser.add_argument("--forged", type=int, help="posts with a wrong signature (default M/4)")
    parser.add_argument("--backlog", type=int, help="messages before the SIGTERM (default M/4)")
    parser.add_argument(
        "--drain-timeout", type=float, default=240.0, help="seconds to wait for a drain (240)"
    )
    parser.add_argument("--profile", type=Path, help="cProfile the server process into DIR")
    parser.add_argument(
        "--graph-delay",
        type=float,
        default=0.0,
        help="seconds the fake Graph API waits before answering each request (0)",
    )
    parser.add_argument(
        "--kill-after",
        type=float,
        help="stop phase: SIGKILL this many seconds after the SIGTERM if still running "
        "(a container's stop timeout); the messages lost are counted, not an error",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    raise SystemExit(main())
