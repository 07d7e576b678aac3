"""`mitrabot sobat …`: progress on the SOBAT portal per step, stuck reports, and answers."""

from __future__ import annotations

import argparse

from sqlalchemy.ext.asyncio import AsyncSession

from bot.app import App
from bot.cli_support import app_command, operator, printed_command, say
from services.sobat import answer_report, sobat_summary


def add_sobat_commands(commands: argparse._SubParsersAction) -> None:
    """Register `mitrabot sobat` and its subcommands."""
    sobat = commands.add_parser("sobat", help="the SOBAT registration guide").add_subparsers()
    report = sobat.add_parser("report", help="per step: done, stuck, not started; open reports")
    report.add_argument("--lang", choices=("id", "en"), default="id")
    report.set_defaults(action=_report)
    answer = sobat.add_parser("answer", help="answer a stuck report (sent to the applicant)")
    answer.add_argument("id", type=int, help="the report number")
    answer.add_argument("--text", required=True, help="the answer the applicant reads")
    answer.set_defaults(action=_answer)


@printed_command
async def _report(app: App, session: AsyncSession, args: argparse.Namespace) -> str:
    return await sobat_summary(session, app.config, app.conversation.deps.catalog, args.lang)


@app_command
async def _answer(app: App, args: argparse.Namespace) -> int:
    deps = app.conversation.deps
    async with app.db.transaction() as session:
        report = await answer_report(
            session,
            app.config,
            deps.catalog,
            args.id,
            args.text,
            operator(),
            deps.clock.now(),
        )
    if report is None:
        say("sobat_answer_not_found", id=args.id)
        return 1
    say("sobat_answer_sent", id=args.id)
    return 0
