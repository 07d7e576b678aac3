"""One reminder job (registration, D-7) and the publication of the final result over 10,000 and
100,000 applicants, SQLite + PostgreSQL.

Run from the repository root (details and figures: bench/README.md)::

    python bench/reminders.py [--backend sqlite|postgresql|both] [--quick] [--sizes 10000,100000]

For every size N, on each backend, in a fresh database (a new SQLite file, or a new PostgreSQL
database ``mitrabot_bench_<hex>`` dropped at the end):

1. N synthetic applicants are written with SQLAlchemy Core bulk inserts (not measured), one
   Telegram chat each: ~35 % confirmed (registration number set), ~5 % unfinished but opted out
   of reminders, ~60 % unfinished (said hello only, ineligible, halfway through the yes/no
   questions or the profile, at the documents with 0-2 files). Confirmed applicants have their
   three documents. On PostgreSQL the tables are then ANALYZEd, as autovacuum would have done.
2. baseline: the same number of outbox rows as the job will queue, precomputed (fixed text),
   written with ``Outbox(session).enqueue`` in transactions of 1000 rows: the cost of the queue
   writes alone (median of 3). The rows are deleted after each (and the outbox VACUUMed on
   PostgreSQL), so the job starts on an empty outbox like the baseline did.
3. job: ``send_reminder`` for the ``registration:7`` reminder of the bundled config, at its
   moment. Measured: wall and CPU time, the time in SQL by statement (candidates page, receipts
   insert, applicants load, documents, outbox insert; the first and last candidates pages), the
   time inside its steps ``Reminders.claim_receipts`` and ``_enqueue`` (wrapped while the job
   runs), and
   the growth of the process's peak RSS (VmHWM reset through /proc/self/clear_refs). Checked: the
   count queued equals the eligible applicants seeded (unfinished, consented, not opted out,
   not ineligible), the outbox holds exactly their rows, and a second run queues 0 (timed too).
4. memory: ``registration:3`` (same applicants, a different key, so it queues them all again)
   under ``tracemalloc``: the peak of Python allocations during the job, kept apart from the
   timed run because tracing slows every allocation.
5. results (same population; not measured: stages 1-3 passed and a final result, passed or not
   passed, for every confirmed applicant, by Core executemany): the scheduler's
   ``announce_if_due`` at the announcement moment, in one transaction as ``Jobs._announce``
   runs it (``publish_results`` of the final stage: one outbox message per chat not yet told).
   Measured like the reminder (wall, CPU, SQL by statement, peak RSS growth); checked: one
   ``result:final:…`` row per confirmed applicant with its own outcome, and publishing again
   (staff, ``publish_results``) queues 0 (timed too). Then the rows are deleted and the
   publication run again under ``tracemalloc``.

The figures are printed per backend, with the growth from the smaller to the larger size (time
linear in N would be 10x; a job that streams keeps its peak memory flat). Nothing outside
127.0.0.1 is contacted. Exit status 1 when a run is invalid (wrong count, a duplicate, a second
run that queued anything).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import random
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from sqlalchemy import delete, event, func, insert, select, text  # noqa: E402

import services.reminders  # noqa: E402
import storage.reminders  # noqa: E402
from bench.databases import fresh_database, usable_backends  # noqa: E402
from bench.rows import document_row, profile_values  # noqa: E402
from core.catalog import Catalog  # noqa: E402
from core.recruitment import RecruitmentConfig, load_recruitment  # noqa: E402
from handlers.profile import FIELDS  # noqa: E402
from services.reminders import (  # noqa: E402
    Reminder,
    count_reach,
    planned_reminders,
    reminder_buttons,
    send_reminder,
)
from services.result_publish import announce_if_due, publish_results  # noqa: E402
from services.results import DECIDED, FINAL, stage_keys  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.models import (  # noqa: E402
    Applicant,
    Broadcast,
    ChatIdentity,
    ChatSession,
    DocumentFile,
    OutboxMessage,
    ReminderReceipt,
    StageResult,
)
from storage.outbox import Outbox  # noqa: E402

SIZES = (10_000, 100_000)
QUICK_SIZES = (2_000, 20_000)
CHUNK = 1000
FIRST_CHAT_ID = 100_000_000
JOB_KEY = "registration:7"
MEMORY_KEY = "registration:3"
BASELINE_REPEAT = 3
BASELINE_TEXT = (
    "⏰ Pengingat: pendaftaran ditutup 30 November 2023, 23.59 WIB (7 hari lagi).\n"
    "Pendaftaran Anda belum selesai. Yang masih kurang:\n"
    "• Tanggal lahir\n• Nomor HP\n• Alamat email\n• Kartu Tanda Penduduk (KTP)\n"
    "• Ijazah terakhir\n"
    'Tekan "Lanjutkan pendaftaran" untuk menyelesaikannya.'
)
STATEMENT_KINDS = (
    ("INSERT INTO reminder_receipts", "receipts insert"),
    ("INSERT INTO outbox", "outbox insert"),
    ("SELECT applicants.id, chat_identities.channel", "candidates page"),
    ("SELECT applicants.id, applicants.created_at", "applicants load"),
    ("SELECT documents.applicant_id", "documents"),
)
RESULT_STATEMENT_KINDS = (
    ("SELECT applicants.id, coalesce((SELECT chat_sessions.language", "recipients"),
    ("SELECT outbox.dedup_key", "known keys"),
    ("INSERT INTO outbox", "outbox insert"),
)
PUBLISH_ACTOR = "bench"
FINAL_PASSED = 0.3
"""Share of the confirmed applicants who pass the final stage (all passed stages 1-3)."""

log = logging.getLogger("bench.reminders")


# ----------------------------------------------------------------------------- databases


async def maintain(database: Database, statement: str) -> None:
    """Run VACUUM / ANALYZE outside a transaction (PostgreSQL only)."""
    if database.is_sqlite:
        return
    async with database.engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        await autocommit.execute(text(statement))


# ----------------------------------------------------------------------------- seeding


@dataclass
class Population:
    """What was seeded, and who the D-7 reminder must reach."""

    applicants: int = 0
    documents: int = 0
    kinds: dict[str, int] = field(default_factory=dict)
    eligible: list[int] = field(default_factory=list)
    """Ids of unfinished applicants who consented, not opted out, not ineligible: the expected
    recipients."""
    confirmed: list[int] = field(default_factory=list)
    """Ids of the confirmed applicants: the ones with results, each told their final one."""
    seconds: float = 0.0


def _empty_applicant() -> dict[str, Any]:
    """A row with every column of `applicants` but `id` (executemany needs the same keys),
    plus the chat session's `language`, `step` and `step_data` (split off before inserting)."""
    row = {column.name: None for column in Applicant.__table__.columns if column.name != "id"}
    row.update(language="id", step="menu", step_data={}, eligibility={}, version=1)
    return row


def synthetic_chunks(
    config: RecruitmentConfig, n: int, now: datetime, rng: random.Random, population: Population
) -> Iterator[tuple[list[dict[str, Any]], ...]]:
    """Applicant, chat, chat session and document rows, CHUNK applicants at a time; fills
    `population`."""
    start = config.local(config.schedule.registration_start)
    span = (now - start).total_seconds()
    required = [str(item.number) for item in config.required_items]
    documents = [doc.key for doc in config.documents]
    template = _empty_applicant()
    kinds = population.kinds
    for first in range(1, n + 1, CHUNK):
        applicants, chats, sessions, files = [], [], [], []
        for i in range(first, min(first + CHUNK, n + 1)):
            created = start + timedelta(seconds=rng.random() * span)
            updated = min(now, created + timedelta(hours=rng.random() * 72))
            row = dict(template, id=i, created_at=created, updated_at=updated)
            row["language"] = "en" if rng.random() < 0.1 else "id"
            draw = rng.random()
            opted_out = 0.35 <= draw < 0.40
            if draw < 0.35:
                kind = "confirmed"
                row.update(profile_values(config, i))
                row.update(
                    consent_at=created,
                    consent_version=config.consent.version,
                    eligibility=dict.fromkeys(required, True),
                    registration_number=f"BENCH-{i:06d}",
                    confirmed_at=updated,
                )
                files += [document_row(i, key, updated) for key in documents]
                population.confirmed.append(i)
            else:
                kind = _unfinished(config, row, i, created, rng, required)
                if kind == "documents":
                    count = rng.choice((0, 1, 1, 2, 2))
                    files += [document_row(i, key, updated) for key in documents[:count]]
                if opted_out:
                    row["reminders_off_at"] = updated
                    kind = "opted out"
                elif kind not in ("ineligible", "hello only"):  # no consent: never reminded
                    population.eligible.append(i)
            kinds[kind] = kinds.get(kind, 0) + 1
            chat = {"channel": "telegram", "external_id": str(FIRST_CHAT_ID + i)}
            sessions.append(
                {
                    **chat,
                    "language": row.pop("language"),
                    "step": row.pop("step"),
                    "data": row.pop("step_data"),
                    "created_at": created,
                    "updated_at": updated,
                    "version": 1,
                }
            )
            applicants.append(row)
            chats.append({**chat, "id": i, "applicant_id": i, "created_at": created})
        population.applicants += len(applicants)
        population.documents += len(files)
        yield applicants, chats, sessions, files


def _unfinished(
    config: RecruitmentConfig,
    row: dict[str, Any],
    i: int,
    created: datetime,
    rng: random.Random,
    required: list[str],
) -> str:
    """Make `row` an unfinished registration at a random point; which kind of unfinished."""
    draw = rng.random()
    if draw < 0.25:  # said hello (or was shown the consent), nothing more
        row["step"] = rng.choice(("menu", "consent"))
        return "hello only"
    row.update(consent_at=created, consent_version=config.consent.version)
    if draw < 0.33:
        answered = rng.randrange(len(required))
        row["eligibility"] = {
            **dict.fromkeys(required[:answered], True),
            required[answered]: False,
        }
        row.update(step="ineligible", step_data={"number": int(required[answered])})
        return "ineligible"
    if draw < 0.50:
        answered = rng.randrange(len(required))
        row["eligibility"] = dict.fromkeys(required[:answered], True)
        row.update(step="eligibility", step_data={"number": int(required[answered])})
        return "eligibility"
    row["eligibility"] = dict.fromkeys(required, True)
    values = profile_values(config, i)
    if draw < 0.83:
        filled = rng.randrange(len(FIELDS))
        row.update({spec.name: values[spec.name] for spec in FIELDS[:filled]})
        row.update(step="field", step_data={"field": FIELDS[filled].name})
        return "profile"
    row.update(values)
    row["step"] = "documents"
    return "documents"


async def seed(
    database: Database, config: RecruitmentConfig, n: int, now: datetime, seed_value: int
) -> Population:
    """N applicants (with chats and documents) by Core executemany, CHUNK rows a statement."""
    population = Population()
    started = time.perf_counter()
    rng = random.Random(seed_value)
    tables = (
        Applicant.__table__,
        ChatIdentity.__table__,
        ChatSession.__table__,
        DocumentFile.__table__,
    )
    async with database.engine.begin() as connection:
        for chunk in synthetic_chunks(config, n, now, rng, population):
            for table, rows in zip(tables, chunk, strict=True):
                if rows:
                    await connection.execute(insert(table), rows)
    # Explicit ids leave PostgreSQL's sequences behind; nothing inserts applicants later here.
    await maintain(database, "ANALYZE")
    population.seconds = time.perf_counter() - started
    return population


# ----------------------------------------------------------------------------- measuring


@dataclass
class StatementTimes:
    """Time spent executing SQL during a run, by kind of statement (driver included)."""

    seconds: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    pages: list[float] = field(default_factory=list)
    """Each candidates page, in order."""


@contextlib.contextmanager
def statement_timer(
    database: Database, kinds: tuple[tuple[str, str], ...] = STATEMENT_KINDS
) -> Iterator[StatementTimes]:
    """Collect StatementTimes while the block runs (SQLAlchemy cursor events), by the first of
    `kinds` (statement prefix, name) that matches."""
    times = StatementTimes()
    engine = database.engine.sync_engine

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        conn.info.setdefault("bench_started", []).append(time.perf_counter())

    def after(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        took = time.perf_counter() - conn.info["bench_started"].pop()
        kind = next((k for prefix, k in kinds if statement.startswith(prefix)), "other")
        times.seconds[kind] = times.seconds.get(kind, 0.0) + took
        times.counts[kind] = times.counts.get(kind, 0) + 1
        if kind == "candidates page":
            times.pages.append(took)

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        yield times
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)


STEPS: dict[str, tuple[Any, str]] = {
    "Reminders.claim_receipts": (storage.reminders.Reminders, "claim_receipts"),
    "_enqueue": (services.reminders, "_enqueue"),
}
"""Steps of `send_reminder` (called once per batch) timed in the job: name → (owner, attribute)."""


@dataclass
class StepTimes:
    """Wall and CPU seconds inside each of STEPS, SQL included."""

    wall: dict[str, float] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)


@contextlib.contextmanager
def step_timer() -> Iterator[StepTimes]:
    """Time STEPS while the block runs: wrappers around them, the originals put back after.

    One wrapper call per batch of 1000 applicants: no measurable overhead. The project code is
    not changed; `send_reminder` looks these up (a module function, a method) at every call.
    """
    times = StepTimes()
    originals = {name: getattr(owner, attribute) for name, (owner, attribute) in STEPS.items()}

    def timed(name: str, function: Callable[..., Awaitable[Any]]) -> Callable[..., Any]:
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            wall, cpu = time.perf_counter(), time.process_time()
            try:
                return await function(*args, **kwargs)
            finally:
                times.wall[name] = times.wall.get(name, 0.0) + time.perf_counter() - wall
                times.cpu[name] = times.cpu.get(name, 0.0) + time.process_time() - cpu

        return wrapper

    for name, (owner, attribute) in STEPS.items():
        setattr(owner, attribute, timed(name, originals[name]))
    try:
        yield times
    finally:
        for name, (owner, attribute) in STEPS.items():
            setattr(owner, attribute, originals[name])


def _status_kb(name: str) -> int | None:
    """A `Vm...` line of /proc/self/status, in kB (None when not on Linux)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(name + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


class PeakRss:
    """Growth of the process's peak RSS over a block: VmHWM reset first when Linux allows it."""

    def __init__(self) -> None:
        self.before_kb = 0
        self.peak_kb = 0
        self.reset = False

    def __enter__(self) -> PeakRss:
        try:
            Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
            self.reset = True
        except OSError:
            self.reset = False
        self.before_kb = (_status_kb("VmHWM") if self.reset else None) or _maxrss_kb()
        return self

    def __exit__(self, *exc: object) -> None:
        self.peak_kb = (_status_kb("VmHWM") if self.reset else None) or _maxrss_kb()

    @property
    def growth_mb(self) -> float:
        return (self.peak_kb - self.before_kb) / 1024


def _maxrss_kb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


@dataclass(kw_only=True)
class JobRun:
    """The figures of one measured job (the reminder, or the publication) at one size."""

    expected: int = 0
    seconds: float = 0.0
    cpu: float = 0.0
    queued: int = 0
    sql: StatementTimes = field(default_factory=StatementTimes)
    rss_growth_mb: float = 0.0
    rss_reset: bool = False
    second_seconds: float = 0.0
    second_queued: int = -1
    traced_seconds: float = 0.0
    traced_queued: int = 0
    traced_peak_mb: float = 0.0
    traced_kept_mb: float = 0.0
    mean_text: float = 0.0


@dataclass(kw_only=True)
class ResultsRun(JobRun):
    """Publishing the final result over one population."""

    expected_passed: int = 0
    seed_seconds: float = 0.0


@dataclass
class SizeResult(JobRun):
    """One size on one backend: the reminder job's figures, and the publication's."""

    backend: str
    size: int
    population: Population
    reach: int = 0
    reach_seconds: float = 0.0
    baseline_seconds: float = 0.0
    """Median of `baselines`."""
    baselines: list[float] = field(default_factory=list)
    steps: StepTimes = field(default_factory=StepTimes)
    results: ResultsRun | None = None
    problems: list[str] = field(default_factory=list)


def reminder_by_key(config: RecruitmentConfig, key: str) -> Reminder:
    """The planned reminder with `key`."""
    return next(reminder for reminder in planned_reminders(config) if reminder.key == key)


def baseline_rows(
    catalog: Catalog, recipients: list[int], now: datetime
) -> list[list[dict[str, Any]]]:
    """Outbox rows like the job's (fixed text), in transactions of CHUNK rows."""
    buttons = reminder_buttons(catalog, "id", "registration")
    rows = [
        {
            "dedup_key": f"baseline:applicant:{applicant_id}",
            "applicant_id": applicant_id,
            "channel": "telegram",
            "recipient": str(FIRST_CHAT_ID + applicant_id),
            "text": BASELINE_TEXT,
            "buttons": buttons,
            "urgent": False,
            "state": "queued",
            "attempts": 0,
            "not_before": now,
            "created_at": now,
        }
        for applicant_id in recipients
    ]
    return [rows[start : start + CHUNK] for start in range(0, len(rows), CHUNK)]


async def run_baseline(
    database: Database, catalog: Catalog, recipients: list[int], now: datetime, repeat: int
) -> list[float]:
    """Seconds to enqueue one outbox row per recipient, `repeat` times (rows deleted after each)."""
    chunks = baseline_rows(catalog, recipients, now)
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        for rows in chunks:
            async with database.transaction() as session:
                await Outbox(session).enqueue(rows)
        times.append(time.perf_counter() - started)
        async with database.transaction() as session:
            await session.execute(delete(OutboxMessage))
        await maintain(database, "VACUUM ANALYZE outbox")
    return times


async def outbox_of(database: Database, key: str) -> tuple[list[int], float]:
    """Applicant ids of the outbox rows of reminder `key` (duplicates kept), mean text length."""
    prefix = f"reminder:{key}:applicant:%"
    async with database.transaction() as session:
        rows = await session.execute(
            select(OutboxMessage.applicant_id).where(OutboxMessage.dedup_key.like(prefix))
        )
        ids = [applicant_id for (applicant_id,) in rows.all()]
        mean = await session.execute(
            select(func.avg(func.length(OutboxMessage.text))).where(
                OutboxMessage.dedup_key.like(prefix)
            )
        )
        return ids, float(mean.scalar() or 0.0)


async def receipts_of(database: Database, key: str) -> int:
    """How many receipts reminder `key` has."""
    async with database.transaction() as session:
        query = select(func.count()).where(ReminderReceipt.key == key)
        return (await session.execute(query)).scalar_one()


async def measure(
    backend: str, size: int, folder: Path, config: RecruitmentConfig, catalog: Catalog, seed_: int
) -> SizeResult:
    """Seed `size` applicants in a fresh database, then baseline, job, second run, traced run."""
    job = reminder_by_key(config, JOB_KEY)
    traced = reminder_by_key(config, MEMORY_KEY)
    async with fresh_database(backend, folder, "rem") as database:
        population = await seed(database, config, size, job.at, seed_)
        result = SizeResult(backend, size, population, expected=len(population.eligible))
        print(
            f"   seeded {size:,} applicants, {population.documents:,} documents in "
            f"{population.seconds:.1f} s: {population.kinds}",
            flush=True,
        )
        started = time.perf_counter()
        async with database.transaction() as session:
            result.reach = await count_reach(session, config, job, job.at)
        result.reach_seconds = time.perf_counter() - started
        result.baselines = await run_baseline(
            database, catalog, population.eligible, job.at, BASELINE_REPEAT
        )
        result.baseline_seconds = statistics.median(result.baselines)

        with PeakRss() as rss, statement_timer(database) as sql, step_timer() as steps:
            started, cpu = time.perf_counter(), time.process_time()
            result.queued = await send_reminder(database, config, catalog, job, job.at)
            result.seconds = time.perf_counter() - started
            result.cpu = time.process_time() - cpu
        result.sql, result.steps, result.rss_growth_mb = sql, steps, rss.growth_mb
        result.rss_reset = rss.reset

        started = time.perf_counter()
        result.second_queued = await send_reminder(database, config, catalog, job, job.at)
        result.second_seconds = time.perf_counter() - started

        tracemalloc.start()
        try:
            before, _ = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            started = time.perf_counter()
            result.traced_queued = await send_reminder(database, config, catalog, traced, traced.at)
            result.traced_seconds = time.perf_counter() - started
            after, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        result.traced_peak_mb = (peak - before) / 2**20
        result.traced_kept_mb = (after - before) / 2**20

        queued_ids, result.mean_text = await outbox_of(database, JOB_KEY)
        check(result, queued_ids, await receipts_of(database, JOB_KEY))
        result.results = await measure_results(
            database, config, catalog, population, seed_, result.problems
        )
    return result


def check(result: SizeResult, queued_ids: list[int], receipts: int) -> None:
    """Record every way the run went wrong in `result.problems`."""
    expected = set(result.population.eligible)
    if result.reach != result.expected:
        result.problems.append(f"count_reach {result.reach} != expected {result.expected}")
    if result.queued != result.expected:
        result.problems.append(f"job queued {result.queued} != expected {result.expected}")
    if len(queued_ids) != len(set(queued_ids)):
        result.problems.append(f"{len(queued_ids) - len(set(queued_ids))} duplicate outbox rows")
    if set(queued_ids) != expected:
        missing, extra = len(expected - set(queued_ids)), len(set(queued_ids) - expected)
        result.problems.append(f"outbox: {missing} eligible missing, {extra} not eligible queued")
    if receipts != result.expected:
        result.problems.append(f"{receipts} receipts != expected {result.expected}")
    if result.second_queued != 0:
        result.problems.append(f"second run queued {result.second_queued}")
    if result.traced_queued != result.expected:
        result.problems.append(f"traced run queued {result.traced_queued} != {result.expected}")


# ----------------------------------------------------------------------------- results


async def seed_results(
    database: Database, config: RecruitmentConfig, confirmed: list[int], at: datetime, seed_: int
) -> dict[int, str]:
    """Stages before the final passed, and a final result, for every confirmed applicant (Core
    executemany, not measured); {applicant id: final outcome}."""
    rng = random.Random(seed_ + 1)  # its own draws: the seeded applicants stay the same
    outcomes = {i: "passed" if rng.random() < FINAL_PASSED else "not_passed" for i in confirmed}
    common = {"note": None, "set_by": "bench", "set_at": at, "source": "import:bench.csv"}
    async with database.engine.begin() as connection:
        for stage in stage_keys(config):
            for start in range(0, len(confirmed), CHUNK):
                rows = [
                    {
                        **common,
                        "applicant_id": i,
                        "stage": stage,
                        "outcome": outcomes[i] if stage == FINAL else "passed",
                    }
                    for i in confirmed[start : start + CHUNK]
                ]
                await connection.execute(insert(StageResult.__table__), rows)
    await maintain(database, "ANALYZE")
    return outcomes


async def results_outbox(database: Database) -> tuple[list[tuple[int, str]], float]:
    """(applicant id, outcome) of every final-result outbox row, and their mean text length."""
    prefix = f"result:{FINAL}:%"
    async with database.transaction() as session:
        rows = await session.execute(
            select(OutboxMessage.applicant_id, OutboxMessage.dedup_key).where(
                OutboxMessage.dedup_key.like(prefix)
            )
        )
        told = [(applicant_id, key.split(":")[2]) for applicant_id, key in rows.all()]
        mean = await session.execute(
            select(func.avg(func.length(OutboxMessage.text))).where(
                OutboxMessage.dedup_key.like(prefix)
            )
        )
        return told, float(mean.scalar() or 0.0)


async def forget_publication(database: Database) -> None:
    """Delete the final result's outbox rows and deliveries, so it is published anew."""
    async with database.transaction() as session:
        await session.execute(delete(OutboxMessage).where(OutboxMessage.broadcast_id.is_not(None)))
        await session.execute(delete(Broadcast))
    await maintain(database, "VACUUM ANALYZE outbox")


async def measure_results(
    database: Database,
    config: RecruitmentConfig,
    catalog: Catalog,
    population: Population,
    seed_: int,
    problems: list[str],
) -> ResultsRun:
    """Seed results, then the announcement, publishing again, and a traced publication."""
    now = config.local(config.schedule.announcement_at)
    started = time.perf_counter()
    outcomes = await seed_results(
        database, config, population.confirmed, now - timedelta(days=1), seed_
    )
    run = ResultsRun(
        expected=len(outcomes),
        expected_passed=sum(outcome == "passed" for outcome in outcomes.values()),
        seed_seconds=time.perf_counter() - started,
    )
    with PeakRss() as rss, statement_timer(database, RESULT_STATEMENT_KINDS) as sql:
        started, cpu = time.perf_counter(), time.process_time()
        async with database.transaction() as session:  # as `Jobs._announce` runs it
            broadcast = await announce_if_due(session, config, catalog, now)
        run.seconds = time.perf_counter() - started
        run.cpu = time.process_time() - cpu
    run.queued = broadcast.total if broadcast else 0
    run.sql, run.rss_growth_mb, run.rss_reset = sql, rss.growth_mb, rss.reset

    started = time.perf_counter()
    async with database.transaction() as session:  # staff publishing again: nothing new
        again = await publish_results(session, config, catalog, FINAL, PUBLISH_ACTOR, now)
    run.second_seconds = time.perf_counter() - started
    run.second_queued = again.total if again else 0

    told, run.mean_text = await results_outbox(database)
    await forget_publication(database)
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        started = time.perf_counter()
        async with database.transaction() as session:
            traced = await publish_results(session, config, catalog, FINAL, PUBLISH_ACTOR, now)
        run.traced_seconds = time.perf_counter() - started
        after, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    run.traced_queued = traced.total if traced else 0
    run.traced_peak_mb = (peak - before) / 2**20
    run.traced_kept_mb = (after - before) / 2**20
    check_results(run, outcomes, told, problems)
    return run


def check_results(
    run: ResultsRun, outcomes: dict[int, str], told: list[tuple[int, str]], problems: list[str]
) -> None:
    """Add to `problems` every way the publication went wrong."""
    if run.queued != run.expected:
        problems.append(f"results queued {run.queued} != expected {run.expected}")
    ids = [applicant_id for applicant_id, _ in told]
    if len(ids) != len(set(ids)):
        problems.append(f"{len(ids) - len(set(ids))} duplicate result rows")
    wrong = sum(outcomes.get(applicant_id) != outcome for applicant_id, outcome in told)
    missing = len(set(outcomes) - set(ids))
    if wrong or missing:
        problems.append(f"results: {missing} applicants not told, {wrong} told a wrong outcome")
    if any(outcome not in DECIDED for _, outcome in told):
        problems.append("results: an undecided outcome told")
    if run.second_queued != 0:
        problems.append(f"publishing again queued {run.second_queued}")
    if run.traced_queued != run.expected:
        problems.append(f"traced publication queued {run.traced_queued} != {run.expected}")


# ----------------------------------------------------------------------------- report


def _spread(values: list[float]) -> str:
    return f"{min(values):.2f}-{max(values):.2f}" if values else "-"


def _pages(sql: StatementTimes) -> str:
    pages = sql.pages
    if not pages:
        return "-"
    ends = max(1, min(5, len(pages) // 4))
    first = 1000 * sum(pages[:ends]) / ends
    last = 1000 * sum(pages[-ends - 1 : -1] or pages[-1:]) / ends
    return f"{first:.1f} / {last:.1f}"


Rows = list[tuple[str, str, float | None]]
"""(measure, formatted figure, number for the growth column or None), one per table line."""


def _time_rows(run: JobRun, job: str, item: str) -> Rows:
    """How many `run` queued, and its wall and CPU time."""
    return [
        (f"queued by the {job} / expected", f"{run.queued:,} / {run.expected:,}", run.queued),
        (f"{job} wall (s)", f"{run.seconds:.2f}", run.seconds),
        (f"{job} CPU of this process (s)", f"{run.cpu:.2f}", run.cpu),
        (f"{job} µs per queued {item}", f"{1e6 * run.seconds / max(1, run.queued):.0f}", None),
    ]


def _sql_rows(run: JobRun, kinds: tuple[tuple[str, str], ...]) -> Rows:
    """The time `run` spent in each kind of statement, and how many it ran."""
    rows: Rows = []
    for _, kind in (*kinds, ("", "other")):
        seconds, count = run.sql.seconds.get(kind, 0.0), run.sql.counts.get(kind, 0)
        rows.append((f"· {kind} (s, statements)", f"{seconds:.2f} ({count})", seconds))
    return rows


def _memory_rows(run: JobRun, job: str, item: str) -> Rows:
    """Peak RSS growth of the timed run; the traced run's peak, what it kept, its wall time."""
    return [
        (
            f"peak RSS growth in the {job} (MB)" + ("" if run.rss_reset else ", ru_maxrss"),
            f"{run.rss_growth_mb:.1f}",
            None,
        ),
        (f"tracemalloc peak in the {job} (MB)", f"{run.traced_peak_mb:.1f}", run.traced_peak_mb),
        (f"tracemalloc kept after the {job} (MB)", f"{run.traced_kept_mb:.2f}", None),
        ("traced run wall (s)", f"{run.traced_seconds:.2f}", run.traced_seconds),
        (f"mean {item} text (chars)", f"{run.mean_text:.0f}", None),
    ]


def rows_of(result: SizeResult) -> Rows:
    """The reminder job's table lines for one size."""
    in_sql = sum(result.sql.seconds.values())
    rows: Rows = [
        ("applicants seeded", f"{result.size:,}", result.size),
        *_time_rows(result, "job", "reminder"),
        (
            f"baseline: enqueue only (s, median of {len(result.baselines)})",
            f"{result.baseline_seconds:.2f} ({_spread(result.baselines)})",
            result.baseline_seconds,
        ),
        ("job / baseline", f"{result.seconds / result.baseline_seconds:.1f}x", None),
        ("job: time in SQL (s)", f"{in_sql:.2f}", in_sql),
        *_sql_rows(result, STATEMENT_KINDS),
        ("· candidates page ms, first / last", _pages(result.sql), None),
    ]
    for name in STEPS:
        wall, cpu = result.steps.wall.get(name, 0.0), result.steps.cpu.get(name, 0.0)
        rows.append((f"job: in `{name}` (s wall / CPU)", f"{wall:.2f} / {cpu:.2f}", wall))
    return [
        *rows,
        ("job: outside SQL (s)", f"{result.seconds - in_sql:.2f}", result.seconds - in_sql),
        (
            "second run: queued, wall (s)",
            f"{result.second_queued}, {result.second_seconds:.2f}",
            result.second_seconds,
        ),
        ("count_reach before the job (s)", f"{result.reach_seconds:.2f}", result.reach_seconds),
        *_memory_rows(result, "job", "reminder"),
    ]


def result_rows_of(result: SizeResult) -> Rows:
    """The publication's table lines for one size."""
    run = result.results or ResultsRun()
    in_sql = sum(run.sql.seconds.values())
    return [
        ("confirmed applicants (final results seeded)", f"{run.expected:,}", run.expected),
        ("of which passed", f"{run.expected_passed:,}", run.expected_passed),
        *_time_rows(run, "announcement", "result"),
        ("announcement: time in SQL (s)", f"{in_sql:.2f}", in_sql),
        *_sql_rows(run, RESULT_STATEMENT_KINDS),
        ("announcement: outside SQL (s)", f"{run.seconds - in_sql:.2f}", run.seconds - in_sql),
        (
            "publishing again: queued, wall (s)",
            f"{run.second_queued}, {run.second_seconds:.2f}",
            run.second_seconds,
        ),
        *_memory_rows(run, "publication", "result"),
        ("seeding the results (s, not measured)", f"{run.seed_seconds:.2f}", None),
    ]


def table(results: list[SizeResult], rows: Callable[[SizeResult], Rows] | None = None) -> list[str]:
    """A Markdown table of `rows` (the reminder's by default): measures down, sizes across,
    growth largest/smallest last."""
    columns = [(rows or rows_of)(result) for result in results]
    sizes = [f"{result.size:,}" for result in results]
    growth = len(results) > 1
    header = ["measure", *sizes] + ([f"{sizes[-1]} / {sizes[0]}"] if growth else [])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    labels = [label for label, _, _ in columns[0]]
    for index, label in enumerate(labels):
        cells = [column[index][1] if index < len(column) else "-" for column in columns]
        if growth:
            first, last = columns[0][index][2], columns[-1][index][2]
            cells.append(f"{last / first:.1f}x" if first and last is not None else "")
        lines.append("| " + " | ".join([label, *cells]) + " |")
    return lines


async def main_async(args: argparse.Namespace) -> int:
    """Every size on every backend; the tables; 1 when a run is invalid."""
    backends = await usable_backends(args.backend)
    if not backends:
        return 1
    if args.sizes:
        sizes = tuple(int(size) for size in args.sizes.split(","))
    else:
        sizes = QUICK_SIZES if args.quick else SIZES
    config = load_recruitment()
    catalog = Catalog.load()
    by_backend: dict[str, list[SizeResult]] = {}
    with tempfile.TemporaryDirectory(prefix="mitrabot-reminders-bench-") as folder:
        for backend in backends:
            for size in sizes:
                started = time.monotonic()
                print(f"-- {size:,} applicants on {backend} ...", flush=True)
                result = await measure(backend, size, Path(folder), config, catalog, args.seed)
                by_backend.setdefault(backend, []).append(result)
                print(
                    f"   job {result.seconds:.2f} s for {result.queued:,} queued "
                    f"(baseline {result.baseline_seconds:.2f} s) "
                    f"({time.monotonic() - started:.0f} s in all; load average "
                    f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)",
                    flush=True,
                )
                if result.results:
                    print(
                        f"   results: announcement {result.results.seconds:.2f} s for "
                        f"{result.results.queued:,} queued, traced peak "
                        f"{result.results.traced_peak_mb:.1f} MB (load average "
                        f"{os.getloadavg()[0]:.1f})",
                        flush=True,
                    )
                for problem in result.problems:
                    print(f"   PROBLEM: {problem}", flush=True)
    for backend, results in by_backend.items():
        print(f"\n{backend} (reminder {JOB_KEY}, batch of 1000 applicants per transaction)")
        print("\n".join(table(results)))
        print(f"\n{backend} (final result published by the announcement, one transaction)")
        print("\n".join(table(results, result_rows_of)))
    invalid = [r for results in by_backend.values() for r in results if r.problems]
    for result in invalid:
        print(f"INVALID: {result.backend} {result.size:,}: {'; '.join(result.problems)}")
    return 1 if invalid else 0


def main() -> int:
    """Parse the command line and run."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--quick", action="store_true", help="2,000 and 20,000 applicants")
    parser.add_argument("--sizes", help="comma-separated applicant counts (default 10000,100000)")
    parser.add_argument("--seed", type=int, default=2023, help="random seed of the population")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    raise SystemExit(main())
