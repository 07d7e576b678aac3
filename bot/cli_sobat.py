"""`mitrabot sobat …`: progress on the SOBAT portal per step, stuck reports, and answers."""

from __future__ import annotations

import argparse

from bot.app import App
from bot.cli_support import operator, say, with_app
from bot.settings import Settings
from handlers.sobat_staff import answer_report, sobat_summary


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


async def _report(settings: Settings, args: argparse.Namespace) -> int:
    async def work(app: App) -> int:
        catalog = app.conversation.deps.catalog
        async with app.db.transaction() as session:
            print(await sobat_summary(session, app.config, catalog, args.lang))
        return 0

    return await with_app(settings, work)


async def _answer(settings: Settings, args: argparse.Namespace) -> int:
    async def work(app: App) -> int:
        deps = app.conversation.deps
        async with app.db.transaction() as session:
            report = await answer_report(
                session,
                app.config,
                deps.catalog,
                args.id,
                args.text.strip()[:1000],
                operator(),
                deps.clock.now(),
            )
        if report is None:
            say("sobat_answer_not_found", id=args.id)
            return 1
        say("sobat_answer_sent", id=args.id)
        return 0

    return await with_app(settings, work)
