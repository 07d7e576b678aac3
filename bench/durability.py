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
(they are sent again once, by the restarted worker, after the lease). Each repeat is matched to
the window message by message; a run is valid when lost is 0 and every repeat is in the window
(exit status 1 otherwise).

    python bench/durability.py                  # SQLite and PostgreSQL, ~1-3 min each
    python bench/durability.py --backend sqlite --users 50
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.databases import fresh_database, usable_backends
from tests.fakes.graph_api import FakeGraphApi
from tests.fakes.telegram_api import FakeBotApi
from tests.webhook_load import (
    SCRIPT,
    Child,
    Load,
    Repeat,
    Window,
    applicants,
    environment,
    free_port,
    stored,
    tally,
)

LEASE_SECONDS = 5
KILLS = (0.25, 0.5, 0.75)


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
    outside: list[Repeat] = field(default_factory=list)
    """The repeats no kill's window accounts for, one line per applicant and message part."""
    kills: list[str] = field(default_factory=list)
    seconds: float = 0.0


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
            port = free_port()
            env = environment(database, telegram, graph, folder / "data", port, LEASE_SECONDS)
            server = Child(["serve"], env, folder, "serve")
            people = applicants(users, telegram)
            await server.start()
            try:
                async with httpx.AsyncClient(
                    base_url=f"http://127.0.0.1:{port}", timeout=30
                ) as http:
                    load = Load(http, telegram, graph)
                    crowd, expected = await load.references(people)
                    texts = {channel: answers[-1] for channel, answers in expected.items()}
                    report.expected = sum(texts[p.channel].total() for p in crowd)
                    started = time.monotonic()
                    walks = asyncio.gather(
                        *(load.walk(person, expected[person.channel]) for person in crowd)
                    )
                    window = Window(load, crowd)
                    for share in KILLS:
                        target = share * report.expected
                        while sum(len(load.received(p)) for p in crowd) < target:  # noqa: ASYNC110
                            await asyncio.sleep(0.05)
                        await server.kill()
                        await telegram.wait_until_idle(timeout=30, requests_only=True)
                        await graph.wait_until_idle(timeout=30)
                        killed = server.holders
                        unsettled, in_window = await window.after_kill(database, killed)
                        report.kills.append(
                            f"{share:.0%}: {await stored(database)} updates stored not done, "
                            f"{unsettled} replies not recorded as sent, {in_window} "
                            "messages of them newly at the platform"
                        )
                        print(f"kill at {report.kills[-1]}", flush=True)
                        await server.start()
                    await walks
                    await load.settled(database)
                    report.seconds = time.monotonic() - started
                    report.posted = load.posted
                    report.window = window.total
                    report.received, report.lost, report.duplicated = tally(load, crowd, texts)
                    report.outside = window.outside(crowd, texts)
            finally:
                await server.stop()
    return report


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
    print(f"outside the window  {sum(repeat.copies for repeat in report.outside)}")
    for line in report.outside[:20]:
        print(f"  {line}")
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
        valid &= report.lost == 0 and not report.outside
    return 0 if valid else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
