"""`mitrabot doctor`'s checks that are about the recruitment, the database and the disk (the
settings' own shapes are checked in bot/doctor.py): each returns findings, never raises, and
never changes anything (no migration, no folder made)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Literal

from core.recruitment import ConfigError, QuietHours, RecruitmentConfig, load_recruitment
from storage.db import Database, shown_url, sqlite_files
from storage.health import schema_state, server_now, shipped_heads
from storage.private_files import shared_with_others, write_problem
from storage.repositories import Staff

Level = Literal["blocker", "warning", "ok"]

SKEW_WARNING = timedelta(seconds=60)
"""The database server's clock and this machine's may differ this much before it is said."""
SKEW_BLOCKER = timedelta(minutes=10)
"""Past this the reminders, the registration window and the delivery leases go wrong."""
DATABASE_TIMEOUT = 10.0
"""Seconds the database checks may take before the database counts as unreachable."""
LONGEST_QUIET = timedelta(hours=16)
"""Quiet hours longer than this leave too little of the day to send in."""


@dataclass(frozen=True)
class Finding:
    """One check's verdict: `key` names its text in the catalog (and `key`_fix, how to fix it,
    unless it is ok), filled from `params`."""

    check: str
    level: Level
    key: str
    params: Mapping[str, object] = field(default_factory=dict)


def blocker(check: str, key: str, **params: object) -> Finding:
    """A finding that stops the bot from working."""
    return Finding(check, "blocker", key, params)


def warning(check: str, key: str, **params: object) -> Finding:
    """A finding that may be wanted but usually is a mistake."""
    return Finding(check, "warning", key, params)


def ok(check: str, key: str, **params: object) -> Finding:
    """A check that passed (its text says what was found)."""
    return Finding(check, "ok", key, params)


def check_recruitment(path: Path) -> tuple[list[Finding], RecruitmentConfig | None]:
    """The recruitment file loads and validates (time zone included); the config when it does."""
    try:
        config = load_recruitment(path)
    except ConfigError as error:
        return [
            blocker("recruitment", "doctor_config_invalid", path=path, error="; ".join(error.lines))
        ], None
    found = ok(
        "recruitment",
        "cli_config_ok",
        path=path,
        title=config.title.id,
        requirements=len(config.requirements),
        kecamatan=len(config.kecamatan),
        stages=len(config.stages),
    )
    return [found], config


def check_dates(config: RecruitmentConfig, now: datetime) -> Finding:
    """The file's dates against `now`: registration still ahead or open is fine; closed is a
    warning (fine during the selection, else last year's file?); the announcement passed is a
    blocker (nothing of this file is ahead any more)."""
    schedule = config.schedule
    start = config.local(schedule.registration_start)
    end = config.local(schedule.registration_end)
    announcement = config.local(schedule.announcement_at)
    if now < start:
        return ok("dates", "doctor_dates_ahead", start=start, end=end)
    if now < end:
        return ok("dates", "doctor_dates_open", end=end)
    if now < announcement:
        return warning("dates", "doctor_dates_closed", end=end, announcement=announcement)
    return blocker("dates", "doctor_dates_past", announcement=announcement, year=config.year)


def check_quiet_hours(quiet: QuietHours) -> Finding:
    """Quiet hours exist (start differs from end) and leave enough of the day to send in."""
    if quiet.start == quiet.end:
        return warning("quiet_hours", "doctor_quiet_none", start=quiet.start.strftime("%H:%M"))
    length = _minutes(quiet.end) - _minutes(quiet.start)
    span = timedelta(minutes=length % (24 * 60))
    params = {
        "start": quiet.start.strftime("%H:%M"),
        "end": quiet.end.strftime("%H:%M"),
        "hours": round(span.total_seconds() / 3600, 1),
    }
    if span > LONGEST_QUIET:
        return warning("quiet_hours", "doctor_quiet_long", **params)
    return ok("quiet_hours", "doctor_quiet_ok", **params)


def _minutes(moment: time) -> int:
    return moment.hour * 60 + moment.minute


def check_folder(check: str, path: Path) -> Finding:
    """`path` is a folder the bot can write to and delete from, or can be created."""
    if path.exists() and not path.is_dir():
        return blocker(check, "doctor_folder_not_dir", path=path)
    if not path.exists():
        parent = next(level for level in path.absolute().parents if level.exists())
        if parent.is_dir() and os.access(parent, os.W_OK | os.X_OK):
            return ok(check, "doctor_folder_created_later", path=path)
        return blocker(check, "doctor_folder_cannot_create", path=path, parent=parent)
    problem = write_problem(path)
    if problem is not None:
        return blocker(check, "doctor_folder_not_writable", path=path, error=problem)
    return ok(check, "doctor_folder_ok", path=path)


def check_private(paths: list[Path]) -> list[Finding]:
    """Each of `paths` that other users of the machine can read is a blocker (personal data)."""
    return [
        blocker("privacy", "doctor_not_private", path=path, mode=f"{path.stat().st_mode & 0o777:o}")
        for path in paths
        if shared_with_others(path)
    ] or [ok("privacy", "doctor_private_ok")]


async def check_database(url: str, machine_now: datetime, staff_in_settings: int) -> list[Finding]:
    """The database answers, its schema is at the newest migration (never migrated here), its
    server's clock agrees with `machine_now` (PostgreSQL), and someone is staff."""
    shown = _shown(url)
    files = sqlite_files(url)
    try:
        db = Database(url) if not files or files[0].exists() else None
    except Exception as error:  # a malformed URL or an uninstalled driver: several types
        found = blocker("database", "doctor_db_bad_url", url=shown, error=_said(error))
        return [found, _here(machine_now), check_staff(staff_in_settings, None)]
    if db is None:  # connecting would create the SQLite file
        found = blocker("database", "doctor_db_missing", path=files[0])
        return [found, _here(machine_now), check_staff(staff_in_settings, None)]
    try:
        async with asyncio.timeout(DATABASE_TIMEOUT):
            return await _database(db, shown, machine_now, staff_in_settings)
    except Exception as error:  # the drivers raise many unrelated types
        found = blocker("database", "doctor_db_unreachable", url=shown, error=_said(error))
        return [found, _here(machine_now), check_staff(staff_in_settings, None)]
    finally:
        await db.dispose()


SCHEMA_PROBLEMS = {
    "empty": "doctor_db_empty",
    "behind": "doctor_db_behind",
    "unknown": "doctor_db_unknown_revision",
}
"""The finding of each schema state but the current one."""


async def _database(
    db: Database, shown: str, machine_now: datetime, staff_in_settings: int
) -> list[Finding]:
    state, current = await schema_state(db)
    head = ", ".join(sorted(shipped_heads()))
    staff_in_database = None
    if state == "current":
        found = ok("database", "doctor_db_ok", url=shown, head=head)
        async with db.transaction() as session:
            staff_in_database = len(await Staff(session).all())
    else:
        revision = ", ".join(sorted(current))
        found = blocker("database", SCHEMA_PROBLEMS[state], url=shown, revision=revision, head=head)
    clock = await _clock(db, machine_now)
    return [found, clock, check_staff(staff_in_settings, staff_in_database)]


async def _clock(db: Database, machine_now: datetime) -> Finding:
    """The server's clock against this machine's (PostgreSQL; SQLite runs on this machine)."""
    server = await server_now(db)
    if server is None:
        return _here(machine_now)
    server = server.astimezone(machine_now.tzinfo)
    skew = abs(server - machine_now)
    params = {"seconds": round(skew.total_seconds()), "server": server, "now": machine_now}
    if skew > SKEW_BLOCKER:
        return blocker("clock", "doctor_clock_skew", **params)
    if skew > SKEW_WARNING:
        return warning("clock", "doctor_clock_skew", **params)
    return ok("clock", "doctor_clock_ok", **params)


def _here(machine_now: datetime) -> Finding:
    """This machine's time in the recruitment's zone, for the operator to compare."""
    return ok("clock", "doctor_clock_here", now=machine_now, tz=machine_now.tzinfo)


def check_staff(in_settings: int, in_database: int | None) -> Finding:
    """Somebody can act as staff from a chat (MITRABOT_STAFF or `mitrabot staff add`);
    `in_database` None: the database could not be read."""
    if in_settings or in_database:
        return ok("staff", "doctor_staff_ok", count=in_settings + (in_database or 0))
    if in_database is None:
        return warning("staff", "doctor_staff_unknown")
    return warning("staff", "doctor_staff_none")


def _shown(url: str) -> str:
    """The URL with its password masked (as it may be printed)."""
    try:
        return shown_url(url)
    except Exception:  # not a URL at all: say nothing of it
        return "?"


def _said(error: BaseException) -> str:
    """An error as one line: its type and first line."""
    message = str(error).strip().splitlines()
    return f"{type(error).__name__}: {message[0]}" if message else type(error).__name__
