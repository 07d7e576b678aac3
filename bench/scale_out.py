"""Scale-out on one machine: 1 `serve` + 1 worker against 2 + 2 (one port, SO_REUSEPORT), one
PostgreSQL, the same load; then 2 + 2 with one `serve` and one worker SIGKILLed half-way.

200 applicants (half on Telegram, half on WhatsApp) walk ten steps each (2,000 updates), posted
as the platforms post them (again until a 200) to real processes against the loopback fakes
(tests/webhook_load.py, the harness of bench/durability.py and tests/test_scale_out.py); a
broadcast to all applicants is queued 40 % of the way in. Printed per run: updates answered
per second, lost and duplicated replies, the broadcast's missing and repeated copies, the kill
window, and the CPU seconds of every process and of the load (this process: the fakes and the
applicants), which says what limits the run on this machine.

    python bench/scale_out.py                 # ~3-5 min
    python bench/scale_out.py --users 60      # quicker
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.databases import fresh_database, usable_backends
from core.recruitment import DEFAULT_CONFIG_PATH, load_recruitment
from tests.fakes.graph_api import FakeGraphApi
from tests.fakes.telegram_api import FakeBotApi
from tests.webhook_load import FleetRun, run_fleet

RUNS = [(1, 1, None), (2, 2, None), (2, 2, 0.5)]
"""(serve processes, workers, share of the replies at which one of each is SIGKILLed)."""


async def one_run(serves: int, workers: int, kill_at: float | None, users: int) -> FleetRun:
    """One run on a fresh PostgreSQL database."""
    config = load_recruitment(DEFAULT_CONFIG_PATH)
    with tempfile.TemporaryDirectory(prefix="mitrabot-scale-out-") as temporary:
        folder = Path(temporary)
        async with (
            fresh_database("postgresql", folder, "scale_out") as database,
            FakeBotApi() as telegram,
            FakeGraphApi() as graph,
        ):
            return await run_fleet(
                database,
                folder,
                telegram,
                graph,
                config,
                serves=serves,
                workers=workers,
                users=users,
                kill_at=kill_at,
            )


def _print(run: FleetRun, kill_at: float | None) -> None:
    killed = f", one of each SIGKILLed at {kill_at:.0%} of the replies" if kill_at else ""
    print(f"\n== {run.serves} serve + {run.workers} worker{killed}")
    print(f"updates answered    {run.posted} in {run.seconds:.1f} s: {run.throughput:.1f}/s")
    print(f"replies             {run.received} of {run.expected}: lost {run.lost}, ", end="")
    outside = sum(repeat.copies for repeat in run.outside)
    print(f"duplicated {run.duplicated} (window {run.window}, outside it {outside})")
    print(
        f"broadcast           {run.broadcast_recipients} recipients: "
        f"{run.broadcast_missing} missing, {run.broadcast_repeated} repeated"
    )
    for kill in run.kills:
        print(f"kill at             {kill}")
    busy = ", ".join(f"{name} {seconds:.1f}" for name, seconds in sorted(run.cpu.items()))
    total = sum(run.cpu.values())
    print(f"CPU seconds         {busy}; all {total:.1f} = {total / run.seconds:.2f} cores")


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=200, help="applicants, half per channel")
    args = parser.parse_args()
    if not await usable_backends("postgresql"):
        print("PostgreSQL is needed (several processes share it)")
        return 1
    print(f"{os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f} at the start")
    valid = True
    for serves, workers, kill_at in RUNS:
        run = await one_run(serves, workers, kill_at, args.users)
        _print(run, kill_at)
        valid &= run.lost == 0 and run.broadcast_missing == 0
        valid &= not run.outside
    return 0 if valid else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
