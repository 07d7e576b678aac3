"""`mitrabot doctor [--json] [--at TIME]`: one line per check, exit 1 on a blocker."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable
from datetime import datetime

from bot.cli_support import local_time, text
from bot.settings import Settings
from core.catalog import DEFAULT_LANGUAGE
from core.formatting import format_datetime
from services.doctor import Finding


def add_doctor_command(commands: argparse._SubParsersAction) -> None:
    """Register `mitrabot doctor`."""
    doctor = commands.add_parser(
        "doctor",
        help="check what breaks a deployment and say how to fix it (exit 1 on a blocker); "
        "changes nothing",
    )
    doctor.add_argument("--json", action="store_true", help="one JSON list of findings")
    doctor.add_argument(
        "--at", type=local_time, help="date the recruitment file as if it were this local time"
    )
    doctor.set_defaults(action=_doctor)


async def _doctor(settings: Settings, args: argparse.Namespace) -> int:
    from bot.doctor import diagnose  # loads the web and Telegram modules: only for this command

    findings = await diagnose(settings)
    if args.json:
        print(json.dumps([_as_dict(f) for f in findings], ensure_ascii=False, indent=2))
    else:
        print("\n".join(map(_line, findings)))
        print(_summary(findings))
    return 1 if any(f.level == "blocker" for f in findings) else 0


def _message(finding: Finding, suffix: str = "") -> str:
    params = {
        name: format_datetime(value, DEFAULT_LANGUAGE) if isinstance(value, datetime) else value
        for name, value in finding.params.items()
    }
    return text(f"{finding.key}{suffix}", **params)


def _fix(finding: Finding) -> str | None:
    return None if finding.level == "ok" else _message(finding, "_fix")


def _line(finding: Finding) -> str:
    """`LEVEL  check  what was found` and, unless it is ok, `→ how to fix it`."""
    level = text(f"doctor_level_{finding.level}")
    line = f"{level:<10} {finding.check:<12} {_message(finding)}"
    fix = _fix(finding)
    return line if fix is None else f"{line} → {fix}"


def _summary(findings: Iterable[Finding]) -> str:
    levels = [f.level for f in findings]
    return text(
        "doctor_summary", blockers=levels.count("blocker"), warnings=levels.count("warning")
    )


def _as_dict(finding: Finding) -> dict[str, str | None]:
    return {
        "check": finding.check,
        "level": finding.level,
        "key": finding.key,
        "message": _message(finding),
        "fix": _fix(finding),
    }
