"""`mitrabot results …`: import, set and publish selection results, and the public list."""

from __future__ import annotations

import argparse
import asyncio
from functools import partial
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from bot.app import App
from bot.cli_support import app_command, fail, operator, printed_command, say
from handlers.staff.result_steps import applied_text, publish_preview_text, results_summary_text
from services.result_publish import preview_publication, publish_results
from services.result_report import change_text, plan_report, problem_text
from services.result_table import TableProblem, parse_outcome, read_table
from services.results import (
    import_results,
    parse_stage,
    plan_results,
    record_single,
    single_row,
    stage_keys,
    stage_label,
)
from services.spreadsheet_export import csv_bytes, xlsx_bytes
from services.table_limits import LIMITS
from storage.private_files import write_private
from storage.repositories import Audit
from storage.results import StageResults

PUBLIC_COLUMNS = ("No. Registrasi", "Nama", "Kecamatan")


def add_results_commands(commands: argparse._SubParsersAction) -> None:
    """Register `mitrabot results` and its subcommands."""
    results = commands.add_parser("results", help="selection results").add_subparsers()

    imported = results.add_parser("import", help="check (and with --apply record) a results file")
    imported.add_argument("file", type=Path, help="CSV or XLSX exported from SOBAT or the test")
    imported.add_argument("--stage", required=True, help="1, 2, 3 … or final")
    imported.add_argument("--apply", action="store_true", help="record it (default: dry run)")
    imported.add_argument(
        "--skip-unknown",
        action="store_true",
        help="with --apply: skip rows naming nobody registered with the bot",
    )
    imported.set_defaults(action=_import)

    single = results.add_parser("set", help="record one applicant's result")
    single.add_argument("applicant", help="registration number (PMK24-00012) or 16-digit NIK")
    single.add_argument("--stage", required=True, help="1, 2, 3 … or final")
    single.add_argument("--result", required=True, help="lulus | tidak lulus | belum")
    single.add_argument("--note", help="told to the applicant with the result")
    single.set_defaults(action=_set)

    publish = results.add_parser("publish", help="tell applicants a stage's results")
    publish.add_argument("--stage", required=True, help="1, 2, 3 … or final")
    publish.add_argument("--apply", action="store_true", help="publish (default: preview)")
    publish.set_defaults(action=_publish)

    results.add_parser("summary", help="counts per stage").set_defaults(action=_summary)

    public = results.add_parser("public-list", help="who passed: number, name, kecamatan only")
    public.add_argument("out", type=Path, help="a .csv or .xlsx file")
    public.set_defaults(action=_public_list)

    for parser in (imported, single, publish, results.choices["summary"]):
        parser.add_argument("--lang", choices=("id", "en"), default="id", help="report language")


def _head(path: Path, size: int) -> bytes:
    """The first `size` bytes of a file: enough to see that it is over the limit."""
    with path.open("rb") as handle:
        return handle.read(size)


def _publish_command(stage: str) -> str:
    return f"`mitrabot results publish --stage {stage} --apply`"


def _stage(app: App, text: str) -> str:
    stage = parse_stage(text, app.config)
    if stage is None:
        raise fail("cli_unknown_stage", stage=text, choices=", ".join(stage_keys(app.config)))
    return stage


@app_command
async def _import(app: App, args: argparse.Namespace) -> int:
    stage = _stage(app, args.stage)
    catalog = app.conversation.deps.catalog
    content = await asyncio.to_thread(_head, args.file, LIMITS.max_bytes + 1)
    try:
        today = app.conversation.deps.clock.now().date()
        rows = await asyncio.to_thread(partial(read_table, content, args.file.name, today=today))
    except TableProblem as problem:
        print(catalog.text(args.lang, f"res_{problem.code}", **problem.params))
        return 1
    async with app.db.transaction() as session:
        plan = await plan_results(session, app.config, stage, rows)
        print(plan_report(app.config, catalog, args.lang, plan))
        if not plan.ready(skip_unknown=args.skip_unknown):
            print()
            say("cli_nothing_recorded", args.lang)
            return 1
        if not args.apply:
            print()
            say("cli_dry_run", args.lang, count=len(plan.changes))
            return 0
        now = app.conversation.deps.clock.now()
        plan = await import_results(
            session, app.config, stage, rows, args.file.name, operator(), now, args.skip_unknown
        )
        changed = len(plan.changes)
        recorded = await applied_text(
            session, app.config, catalog, args.lang, stage, changed, _publish_command(stage)
        )
    print()
    print(recorded)
    return 0


@app_command
async def _set(app: App, args: argparse.Namespace) -> int:
    stage = _stage(app, args.stage)
    if parse_outcome(args.result) is None:
        raise fail("cli_unknown_result", value=args.result)
    catalog = app.conversation.deps.catalog
    row = single_row(args.applicant, args.result, args.note)
    async with app.db.transaction() as session:
        now = app.conversation.deps.clock.now()
        plan = await record_single(session, app.config, stage, row, operator(), now, "cli")
    problems = plan.problems + plan.unknown
    if problems:
        print(problem_text(app.config, catalog, args.lang, problems[0]))
        return 1
    if not plan.changes:
        print(catalog.text(args.lang, "res_set_unchanged"))
        return 0
    print(change_text(catalog, args.lang, plan.changes[0]))
    return 0


@app_command
async def _publish(app: App, args: argparse.Namespace) -> int:
    stage = _stage(app, args.stage)
    deps = app.conversation.deps
    label = stage_label(app.config, deps.catalog, args.lang, stage)
    async with app.db.transaction() as session:
        preview = await preview_publication(session, app.config, deps.catalog, stage)
        print(publish_preview_text(app.config, deps.catalog, args.lang, preview))
        if not args.apply:
            say("cli_preview_only", args.lang)
            return 0
        broadcast = await publish_results(
            session, app.config, deps.catalog, stage, operator(), deps.clock.now()
        )
    if broadcast is None:
        say("res_published_nobody", args.lang, stage=label)
    else:
        say("cli_published", args.lang, stage=label, count=broadcast.total, id=broadcast.id)
    return 0


@printed_command
async def _summary(app: App, session: AsyncSession, args: argparse.Namespace) -> str:
    return await results_summary_text(session, app.config, app.conversation.deps.catalog, args.lang)


@app_command
async def _public_list(app: App, args: argparse.Namespace) -> int:
    suffix = args.out.suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise fail("cli_public_list_format")
    async with app.db.transaction() as session:
        rows = [
            (number or "-", name or "-", _kecamatan_name(app, code))
            for number, name, code in await StageResults(session).final_list()
        ]
        await Audit(session).record(
            operator(),
            "public_list_exported",
            app.conversation.deps.clock.now(),
            detail={"rows": len(rows), "file": args.out.name},
        )
    await asyncio.to_thread(_write_table, args.out, rows)
    say("cli_public_list_written", count=len(rows), path=args.out)
    return 0


def _kecamatan_name(app: App, code: str | None) -> str:
    kecamatan = app.config.kecamatan_by_code(code) if code else None
    return kecamatan.name if kecamatan else "-"


def _write_table(out: Path, rows: list[tuple[str, str, str]]) -> None:
    table = xlsx_bytes if out.suffix.lower() == ".xlsx" else csv_bytes
    write_private(out, table(PUBLIC_COLUMNS, rows))
