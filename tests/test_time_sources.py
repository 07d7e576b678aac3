"""The suite passes at any hour: product code reads time only through the injected clock, and no
test makes a clock that starts at the machine's own time."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ("core", "storage", "services", "handlers", "scheduler", "bot")
CLOCK_MODULE = ROOT / "core" / "clock.py"
READS_THE_MACHINE_CLOCK = re.compile(
    r"\b(datetime\.now|datetime\.utcnow|date\.today|time\.time|time\.monotonic)\(|"
    r"\basyncio\.get_running_loop\(\)\.time\("
)
REAL_CLOCK_IN_A_TEST = re.compile(r"\bClock\(\s*\)|\bClock\(\s*(config\.tz|JAKARTA|tz)\s*\)")


def _sources(folders: tuple[str, ...]) -> list[Path]:
    return [path for folder in folders for path in sorted((ROOT / folder).rglob("*.py"))]


def test_product_code_takes_time_only_from_the_clock() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in _sources(PRODUCT)
        if path != CLOCK_MODULE
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if READS_THE_MACHINE_CLOCK.search(line)
    ]
    assert offenders == [], "read the time from the injected Clock instead:\n" + "\n".join(
        offenders
    )


def test_no_test_runs_on_the_machines_hour() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in _sources(("tests",))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if REAL_CLOCK_IN_A_TEST.search(line)
    ]
    assert offenders == [], "use FrozenClock or Clock(start_at=…):\n" + "\n".join(offenders)
