"""`mitrabot schedule …`: what the bot will send on its own, who opted out, and running a job."""

from __future__ import annotations

import argparse
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.app import App
from bot.cli_support import app_command, fail, printed_command, say, text, wib
from services.schedule import describe_jobs
from storage.repositories import Applicants


def add_schedule_commands(commands: argparse._SubParsersAction) -> None:
    """Register `mitrabot schedule` and its subcommands."""
    schedule = commands.add_parser("schedule", help="reminders and announcements").add_subparsers()
    listing = schedule.add_parser("list", help="upcoming jobs and how many each reaches")
    listing.add_argument("--lang", choices=("id", "en"), default="id")
    listing.set_defaults(action=_list)
    schedule.add_parser("optouts", help="who stopped reminders").set_defaults(action=_optouts)
    run = schedule.add_parser("run", help="run one job now (it sends nothing twice)")
    run.add_argument(
        "job", help="a job id from `schedule list --ids`, e.g. reminder:registration:3"
    )
    run.set_defaults(action=_run)
    ids = schedule.add_parser("ids", help="the job ids")
    ids.set_defaults(action=_ids)


@printed_command
async def _list(app: App, session: AsyncSession, args: argparse.Namespace) -> str:
    deps = app.conversation.deps
    return await describe_jobs(session, app.config, deps.catalog, deps.clock.now(), args.lang)


@app_command
async def _ids(app: App, args: argparse.Namespace) -> int:
    for job in app.jobs().planned():
        if job.at:
            when = wib(app.config, job.at)
        elif job.daily:
            when = text("cli_job_daily", time=job.daily.strftime("%H.%M"))
        else:
            when = text("cli_job_every", minutes=_minutes(job.every))
        if job.after_start:
            when += text("cli_job_after_start", minutes=_minutes(job.after_start))
        print(f"{job.id}\t{when}")
    return 0


@printed_command
async def _optouts(app: App, session: AsyncSession, args: argparse.Namespace) -> str:
    rows = await Applicants(session).reminders_stopped()
    lines = [
        f"{number or '-'}\t{name or '-'}\t{wib(app.config, since)}" for number, name, since in rows
    ]
    return "\n".join([*lines, text("cli_optouts_total", count=len(rows))])


@app_command
async def _run(app: App, args: argparse.Namespace) -> int:
    jobs = app.jobs()
    if args.job not in {job.id for job in jobs.planned()}:
        raise fail("cli_no_job", job=args.job)
    say("cli_job_run", job=args.job, count=await jobs.run(args.job))
    return 0


def _minutes(every: timedelta | None) -> int:
    return int(every.total_seconds() // 60) if every else 0
