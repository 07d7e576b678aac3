"""The staff desk's funnel and applicant list over 20,000 applicants, SQLite + PostgreSQL.

Run from the repository root (details and figures: bench/README.md)::

    python bench/desk.py [--backend sqlite|postgresql|both] [--applicants 20000] [--repeat 7]

In a fresh database per backend (a new SQLite file, or a new PostgreSQL database
``mitrabot_bench_<hex>`` dropped at the end), N synthetic applicants are written with SQLAlchemy
Core bulk inserts (not measured), spread like a recruitment: over 30 days and the 13 kecamatan
(and a few outside the regency), Telegram / WhatsApp / terminal (some linked on two), every
stage of the registration (said hello only, declined, ineligible, halfway through the profile,
0-3 documents, registered), SOBAT progress (enrolled, stuck, begun), and results of stages 1, 2,
3 and final. On PostgreSQL the tables are then ANALYZEd, as autovacuum would have done.

First the pages themselves: whole requests of the web app (`GET /desk/funnel`, list pages),
signed in, over ASGI in this process (the server's time of the request: session check,
queries, template, no network). Then each query is the service call a desk page makes
(`services/desk_views.py`), in its own transaction, timed from call to return in this process
(SQL and Python, no HTTP), repeated; the median and the slowest are printed. The target is
200 ms on PostgreSQL for each page and each part of one (not for the export, a download).
Nothing outside 127.0.0.1 is contacted. Exit status 1 when the funnel's numbers do not match
the lists they link to.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from sqlalchemy import insert, text  # noqa: E402

from bench.databases import fresh_database, usable_backends  # noqa: E402
from bench.rows import document_row, profile_values  # noqa: E402
from bot.desk import DeskDeps  # noqa: E402
from bot.web import build_web_app  # noqa: E402
from core.applicant_filter import ApplicantFilter, SortKey, StageFilter  # noqa: E402
from core.catalog import Catalog  # noqa: E402
from core.clock import Clock  # noqa: E402
from core.recruitment import RecruitmentConfig, load_recruitment  # noqa: E402
from handlers.flow import Dependencies  # noqa: E402
from services.desk_views import (  # noqa: E402
    applicant_page,
    export_xlsx,
    funnel,
    registrations_per_day,
    registrations_per_kecamatan,
)
from storage.db import Database  # noqa: E402
from storage.files import FileStore  # noqa: E402
from storage.models import (  # noqa: E402
    Applicant,
    ChatIdentity,
    DocumentFile,
    SobatProgress,
    StageResult,
)
from tests.desk.accounts import csrf_in, seed_accounts, sign_in  # noqa: E402

CHUNK = 1000
TARGET_MS = 200.0
FIRST_DAY = datetime(2023, 11, 1, 1, 0, tzinfo=UTC)
DAYS = 30
SEARCH_NAME = "siti"


# ----------------------------------------------------------------------------- seeding


def _profile(config: RecruitmentConfig, i: int, rng: random.Random) -> dict[str, Any]:
    """Every profile answer of applicant `i`: varied names, kecamatan of unequal sizes, a few
    outside the regency."""
    names = ("Siti", "Ahmad", "Nur", "Moh.", "Fitri", "Rizki", "Dewi", "Hasan", "Aisyah", "Budi")
    family = ("Aminah", "Hidayat", "Rahman", "Lestari", "Santoso", "Wahyuni", "Maulana")
    kecamatan = config.kecamatan
    weights = [1 + (n * 7) % 5 for n in range(len(kecamatan))]
    place = "luar" if rng.random() < 0.02 else rng.choices(kecamatan, weights)[0].code
    return {
        **profile_values(config, i),
        "full_name": f"{rng.choice(names)} {rng.choice(family)} {i}",
        "kecamatan": place,
    }


@dataclass
class Rows:
    applicants: list[dict[str, Any]]
    chats: list[dict[str, Any]]
    documents: list[dict[str, Any]]
    sobat: list[dict[str, Any]]
    results: list[dict[str, Any]]


def _applicant_rows(config: RecruitmentConfig, i: int, rng: random.Random, rows: Rows) -> None:
    """Applicant `i` and what hangs on it, at a random point of the registration."""
    started = FIRST_DAY + timedelta(seconds=rng.uniform(0, DAYS * 86_400))
    row = {column.name: None for column in Applicant.__table__.columns}
    row.update(id=i, created_at=started, updated_at=started, eligibility={}, version=1)
    channel = rng.choices(("telegram", "whatsapp", "terminal"), (60, 38, 2))[0]
    rows.chats.append(
        {"applicant_id": i, "channel": channel, "external_id": f"{i}", "created_at": started}
    )
    if rng.random() < 0.04:
        other = "whatsapp" if channel == "telegram" else "telegram"
        rows.chats.append(
            {"applicant_id": i, "channel": other, "external_id": f"{i}", "created_at": started}
        )
    rows.applicants.append(row)
    reach = rng.random()
    if reach < 0.08:  # said hello only
        return
    if reach < 0.12:  # declined
        return
    row.update(consent_at=started, consent_version="pamekasan-2024-v2")
    required = [str(item.number) for item in config.required_items]
    if reach < 0.18:  # ineligible, or halfway through the questions
        answered = required[: rng.randrange(1, len(required))]
        row["eligibility"] = {**dict.fromkeys(answered, True), answered[-1]: reach < 0.15}
        return
    row["eligibility"] = dict.fromkeys(required, True)
    profile = _profile(config, i, rng)
    if reach < 0.30:  # halfway through the profile
        row.update(dict(list(profile.items())[: rng.randrange(1, len(profile))]))
        return
    row.update(profile)
    kinds = [document.key for document in config.documents]
    if reach < 0.45:  # at the documents
        for kind in kinds[: rng.randrange(0, len(kinds))]:
            rows.documents.append(document_row(i, kind, started))
        return
    confirmed = started + timedelta(hours=rng.uniform(0.1, 30))
    row.update(registration_number=f"PMK24-{i:05d}", confirmed_at=confirmed)
    missing = kinds[-1] if rng.random() < 0.03 else None  # asked to send one again
    rows.documents += [document_row(i, kind, started) for kind in kinds if kind != missing]
    _sobat_rows(config, i, rng, row, confirmed, rows)
    _result_rows(i, rng, confirmed, rows)


def _sobat_rows(
    config: RecruitmentConfig,
    i: int,
    rng: random.Random,
    row: dict[str, Any],
    at: datetime,
    rows: Rows,
) -> None:
    if rng.random() < 0.2:
        return
    path = "new" if rng.random() < 0.6 else "existing"
    row["sobat_path"] = path
    steps = [step.key for step in config.sobat.path(path)]
    done = len(steps) if rng.random() < 0.6 else rng.randrange(0, len(steps))
    for step in steps[:done]:
        rows.sobat.append({"applicant_id": i, "step": step, "state": "done", "updated_at": at})
    if done < len(steps) and rng.random() < 0.3:
        rows.sobat.append(
            {"applicant_id": i, "step": steps[done], "state": "stuck", "updated_at": at}
        )


def _result_rows(i: int, rng: random.Random, at: datetime, rows: Rows) -> None:
    for stage, passes in (("1", 0.8), ("2", 0.6), ("3", 0.7), ("final", 0.8)):
        outcome = "passed" if rng.random() < passes else "not_passed"
        if rng.random() < 0.03:
            outcome = "pending"
        rows.results.append(
            {
                "applicant_id": i,
                "stage": stage,
                "outcome": outcome,
                "note": None,
                "set_by": "bench",
                "set_at": at,
                "source": "cli",
            }
        )
        if outcome != "passed":
            return


def _chunks(config: RecruitmentConfig, n: int, rng: random.Random) -> Iterator[Rows]:
    for first in range(1, n + 1, CHUNK):
        rows = Rows([], [], [], [], [])
        for i in range(first, min(first + CHUNK, n + 1)):
            _applicant_rows(config, i, rng, rows)
        yield rows


async def seed(database: Database, config: RecruitmentConfig, n: int) -> float:
    """N applicants by Core executemany; the seconds it took (with ANALYZE on PostgreSQL)."""
    started = time.perf_counter()
    tables = (
        ("applicants", Applicant.__table__),
        ("chats", ChatIdentity.__table__),
        ("documents", DocumentFile.__table__),
        ("sobat", SobatProgress.__table__),
        ("results", StageResult.__table__),
    )
    async with database.engine.begin() as connection:
        for rows in _chunks(config, n, random.Random(2023)):
            for name, table in tables:
                if getattr(rows, name):
                    await connection.execute(insert(table), getattr(rows, name))
    if not database.is_sqlite:
        async with database.engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.execute(text("ANALYZE"))
    return time.perf_counter() - started


# ----------------------------------------------------------------------------- measuring


Call = Callable[[Any], Awaitable[Any]]


def _queries(config: RecruitmentConfig, catalog: Catalog, nik: str) -> list[tuple[str, Call]]:
    """(what, the service call with a session) for every figure."""

    def page(**view: Any) -> Call:
        return lambda session: applicant_page(session, config, catalog, ApplicantFilter(**view))

    async def whole_funnel(session: Any) -> None:
        await funnel(session, config, catalog)
        await registrations_per_day(session, config)
        await registrations_per_kecamatan(session, config, catalog)

    kecamatan = config.kecamatan[3].code
    return [
        ("funnel: all three parts", whole_funnel),
        ("funnel: steps", lambda session: funnel(session, config, catalog)),
        ("funnel: per day", lambda session: registrations_per_day(session, config)),
        (
            "funnel: per kecamatan",
            lambda session: registrations_per_kecamatan(session, config, catalog),
        ),
        ("list: default sort, page 1", page()),
        ("list: by name, page 1", page(sort=SortKey.NAME)),
        ("list: search a name", page(search=SEARCH_NAME)),
        ("list: search a NIK", page(search=nik)),
        ("list: search a number", page(search="PMK24-01234")),
        ("list: kecamatan + missing KTP", page(kecamatan=kecamatan, missing_documents=("ktp",))),
        ("list: stage 2 not passed", page(stage=StageFilter(stage="2", outcome="not_passed"))),
        ("list: SOBAT stuck", page(sobat="stuck")),
        ("list: funnel step documents complete", page(step="documents_complete")),
        ("list: funnel step passed stage 3", page(step="passed:3")),
        ("list: last page, default sort", page(page=400)),
        ("list: last page, by name desc", page(sort=SortKey.NAME, descending=True, page=400)),
        ("list: last page, registered at", page(sort=SortKey.REGISTERED_AT, page=400)),
    ]


async def _timed(database: Database, call: Call, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        async with database.transaction() as session:
            started = time.perf_counter()
            await call(session)
            times.append((time.perf_counter() - started) * 1000)
    return times


async def _pages(
    database: Database, config: RecruitmentConfig, catalog: Catalog, folder: Path, repeat: int
) -> list[tuple[str, list[float]]]:
    """Whole desk requests (session check, queries, template, headers) of the web app, over
    ASGI in this process (no network), signed in as a reviewer."""
    clock = Clock()
    deps = Dependencies(config, catalog, clock, FileStore(folder / "documents"))
    await seed_accounts(database, clock.now())
    app = build_web_app(database, now=clock.now, desk=DeskDeps(database, deps))
    figures = []
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://desk.bench") as client:
        await sign_in(client, "rudi")
        form = await client.get("/desk/applicants")
        search = {"csrf_token": csrf_in(form.text), "search": SEARCH_NAME, "sort": "name"}
        searched = (await client.post("/desk/applicants", data=search)).headers["location"]
        for name, path in (
            ("page: funnel (GET /desk/funnel)", "/desk/funnel"),
            ("page: list, page 1", "/desk/applicants"),
            ("page: list, last page", "/desk/applicants?page=400"),
            ("page: list, a kept search by name", searched),
        ):
            times = []
            for _ in range(repeat):
                started = time.perf_counter()
                response = await client.get(path)
                times.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, (path, response.status_code)
            figures.append((name, times))
    return figures


async def _check(database: Database, config: RecruitmentConfig, catalog: Catalog) -> list[str]:
    """Steps whose count differs from the length of their list (none, if all is well)."""
    wrong = []
    async with database.transaction() as session:
        for step in await funnel(session, config, catalog):
            listed = await applicant_page(session, config, catalog, step.view)
            if listed.total != step.count:
                wrong.append(f"{step.step}: {step.count} counted, {listed.total} listed")
    return wrong


async def run(
    backend: str, config: RecruitmentConfig, catalog: Catalog, n: int, repeat: int
) -> tuple[list[tuple[str, list[float]]], list[str]]:
    with tempfile.TemporaryDirectory() as folder:
        async with fresh_database(backend, Path(folder), "desk") as database:
            seconds = await seed(database, config, n)
            print(f"{backend}: {n} applicants seeded in {seconds:.1f} s")
            async with database.transaction() as session:
                for step in await funnel(session, config, catalog):
                    print(f"  {step.label}: {step.count}")
            figures = await _pages(database, config, catalog, Path(folder), repeat)
            for name, call in _queries(config, catalog, f"3528{n // 2:012d}"):
                figures.append((name, await _timed(database, call, repeat)))
            everything = ApplicantFilter(step="registered")
            figures.append(
                (
                    "export: XLSX of every registered",
                    await _timed(
                        database,
                        lambda session: export_xlsx(session, config, catalog, everything),
                        1,
                    ),
                )
            )
            return figures, await _check(database, config, catalog)


def _print(backend: str, figures: list[tuple[str, list[float]]]) -> None:
    print(f"\n{backend}: milliseconds, median / slowest")
    width = max(len(name) for name, _ in figures)
    for name, times in figures:
        median = statistics.median(times)
        page = not name.startswith("export")
        over = "  over target" if backend == "postgresql" and page and median > TARGET_MS else ""
        print(f"  {name:<{width}}  {median:8.1f} / {max(times):8.1f}{over}")


async def main_async(args: argparse.Namespace) -> int:
    config, catalog = load_recruitment(), Catalog.load()
    status = 0
    for backend in await usable_backends(args.backend):
        figures, wrong = await run(backend, config, catalog, args.applicants, args.repeat)
        _print(backend, figures)
        if wrong:
            print("INVALID: " + "; ".join(wrong))
            status = 1
    return status


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--applicants", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=7)
    return asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
