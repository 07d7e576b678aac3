"""The `mitrabot` command: chat in a terminal, run on Telegram, and staff tools."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path

from bot.app import App, build_app
from bot.recruitment import ConfigError, load_recruitment
from bot.settings import Settings
from handlers.window import registration_window
from storage.files import export_name, forget_unreferenced, write_export
from storage.repositories import REGISTRATION_CLOSED, Applicants, Audit, Flags, Staff

log = logging.getLogger("mitrabot")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "action"):
        parser.print_help()
        return 2
    try:
        settings = Settings()
    except ValueError as error:
        print(f"mitrabot: bad setting: {error}", file=sys.stderr)
        return 2
    if getattr(args, "at", None):
        settings = settings.model_copy(update={"clock_at": args.at})
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # Request lines would print the bot token (it is part of every Bot API URL).
    for chatty in ("httpx", "httpcore", "alembic"):
        logging.getLogger(chatty).setLevel(max(logging.WARNING, logging.root.level))
    try:
        return asyncio.run(args.action(settings, args))
    except ConfigError as error:
        print(f"mitrabot: the recruitment config is not valid:\n{error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mitrabot", description=__doc__)
    commands = parser.add_subparsers(title="commands")

    chat = commands.add_parser("chat", help="talk to the bot in this terminal")
    chat.add_argument("--at", type=_local_time, help="start the clock at this local time")
    chat.add_argument("--user", default=getpass.getuser(), help="terminal user id")
    chat.set_defaults(action=_chat)

    run = commands.add_parser("run", help="run on Telegram (long polling)")
    run.add_argument("--at", type=_local_time, help="start the clock at this local time")
    run.set_defaults(action=_run_telegram)

    db = commands.add_parser("db", help="database schema").add_subparsers(title="db commands")
    db.add_parser("upgrade", help="apply migrations").set_defaults(action=_db_upgrade)
    revision = db.add_parser("revision", help="(developers) write a migration from the models")
    revision.add_argument("-m", "--message", required=True)
    revision.set_defaults(action=_db_revision)

    config = commands.add_parser("config", help="recruitment config").add_subparsers()
    check = config.add_parser("check", help="validate a recruitment file")
    check.add_argument("file", nargs="?", type=Path)
    check.set_defaults(action=_config_check)

    staff = commands.add_parser("staff", help="staff members").add_subparsers()
    add = staff.add_parser("add", help="give a chat identity staff rights")
    add.add_argument("identity", help="channel:id, e.g. telegram:123456789")
    add.add_argument("--name", required=True)
    add.set_defaults(action=_staff_add)
    remove = staff.add_parser("remove", help="withdraw staff rights")
    remove.add_argument("identity")
    remove.set_defaults(action=_staff_remove)
    staff.add_parser("list", help="list staff").set_defaults(action=_staff_list)

    documents = commands.add_parser("documents", help="applicants' documents").add_subparsers()
    export = documents.add_parser("export", help="copy documents to a folder or a .zip")
    export.add_argument("out", type=Path, help="a folder, or a file name ending in .zip")
    export.add_argument("--number", action="append", help="only this registration number")
    export.set_defaults(action=_documents_export)

    data = commands.add_parser("data", help="personal data").add_subparsers()
    purge = data.add_parser("purge", help="delete applicants past the retention period")
    purge.add_argument("--apply", action="store_true", help="really delete (default: dry run)")
    purge.add_argument("--at", type=_local_time, help="evaluate at this local time")
    purge.set_defaults(action=_data_purge)

    registration = commands.add_parser("registration", help="open/close registration")
    reg = registration.add_subparsers()
    close = reg.add_parser("close", help="close registration early (quota full)")
    close.add_argument("--reason", default="kuota terpenuhi")
    close.set_defaults(action=_registration_close)
    reg.add_parser("open", help="lift an early close").set_defaults(action=_registration_open)
    status = reg.add_parser("status", help="show registration state and counts")
    status.add_argument("--at", type=_local_time, help="evaluate at this local time")
    status.set_defaults(action=_registration_status)
    return parser


def _local_time(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(
            f"not a date-time like 2023-11-10T09:00: {text}"
        ) from error


def _operator() -> str:
    return f"cli:{getpass.getuser()}"


async def _with_app(settings: Settings, work: Callable[[App], Awaitable[int]]) -> int:
    app = await build_app(settings)
    try:
        return await work(app)
    finally:
        await app.close()


async def _chat(settings: Settings, args: argparse.Namespace) -> int:
    from bot.terminal import chat

    async def work(app: App) -> int:
        await chat(app.conversation, args.user)
        return 0

    return await _with_app(settings, work)


async def _run_telegram(settings: Settings, args: argparse.Namespace) -> int:
    from bot.telegram import build_application, start_polling, stop_polling

    if settings.telegram_token is None:
        print("mitrabot: set MITRABOT_TELEGRAM_TOKEN (see .env.example)", file=sys.stderr)
        return 2

    async def work(app: App) -> int:
        application = build_application(
            app.conversation,
            settings.telegram_token.get_secret_value(),
            settings.telegram_base_url,
            settings.telegram_base_file_url,
            settings.telegram_concurrency,
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await start_polling(application)
        log.info("polling Telegram as @%s; Ctrl-C stops", application.bot.username)
        try:
            await stop.wait()
        finally:
            await stop_polling(application)
        return 0

    return await _with_app(settings, work)


async def _db_upgrade(settings: Settings, args: argparse.Namespace) -> int:
    async def work(app: App) -> int:
        print(f"schema up to date: {app.db.url.render_as_string(hide_password=True)}")
        return 0

    return await _with_app(settings, work)


async def _db_revision(settings: Settings, args: argparse.Namespace) -> int:
    async def work(app: App) -> int:
        await app.db.new_revision(args.message)
        return 0

    return await _with_app(settings, work)


async def _config_check(settings: Settings, args: argparse.Namespace) -> int:
    path = args.file or settings.recruitment_file
    config = load_recruitment(path)
    print(
        f"{path}: OK — {config.title.id} ({len(config.requirements)} requirements, "
        f"{len(config.kecamatan)} kecamatan, {len(config.stages)} stages)"
    )
    return 0


def _split_identity(identity: str) -> tuple[str, str]:
    channel, _, user = identity.partition(":")
    if channel not in ("telegram", "whatsapp", "terminal") or not user:
        raise SystemExit(f"mitrabot: identity must look like telegram:123456789, not {identity!r}")
    return channel, user


async def _staff_add(settings: Settings, args: argparse.Namespace) -> int:
    channel, user = _split_identity(args.identity)

    async def work(app: App) -> int:
        now = app.conversation.deps.clock.now()
        async with app.db.transaction() as session:
            added = await Staff(session).add(channel, user, args.name, _operator(), now)
            if added:
                await Audit(session).record(
                    _operator(), "staff_added", now, detail={"identity": args.identity}
                )
        print(f"{args.identity} is {'now' if added else 'already'} staff")
        return 0

    return await _with_app(settings, work)


async def _staff_remove(settings: Settings, args: argparse.Namespace) -> int:
    channel, user = _split_identity(args.identity)

    async def work(app: App) -> int:
        now = app.conversation.deps.clock.now()
        async with app.db.transaction() as session:
            removed = await Staff(session).remove(channel, user)
            if removed:
                await Audit(session).record(
                    _operator(), "staff_removed", now, detail={"identity": args.identity}
                )
        print(f"{args.identity} {'removed' if removed else 'was not staff'}")
        return 0 if removed else 1

    return await _with_app(settings, work)


async def _staff_list(settings: Settings, args: argparse.Namespace) -> int:
    async def work(app: App) -> int:
        async with app.db.transaction() as session:
            members = await Staff(session).all()
        for identity in settings.staff:
            print(f"{identity}\t(from MITRABOT_STAFF)")
        for member in members:
            print(
                f"{member.channel}:{member.external_id}\t{member.name}\tadded by "
                f"{member.added_by} at {member.added_at:%Y-%m-%d %H:%M} UTC"
            )
        return 0

    return await _with_app(settings, work)


async def _documents_export(settings: Settings, args: argparse.Namespace) -> int:
    async def work(app: App) -> int:
        now = app.conversation.deps.clock.now()
        store = app.conversation.deps.files
        wanted = {number.upper() for number in args.number or []}
        async with app.db.transaction() as session:
            applicants = await Applicants(session).with_documents()
            selected = [a for a in applicants if not wanted or a.registration_number in wanted]
            exported = [
                (
                    export_name(a.registration_number or f"belum-{a.id}", d.kind, d.path),
                    store.path(d.path),
                )
                for a in selected
                for d in a.documents
            ]
            await Audit(session).record(
                _operator(),
                "documents_exported",
                now,
                detail={
                    "files": len(exported),
                    "applicants": [a.id for a in selected],
                    "to": str(args.out),
                },
            )
        await asyncio.to_thread(write_export, args.out, exported)
        print(f"{len(exported)} file(s) of {len(selected)} applicant(s) written to {args.out}")
        return 0

    return await _with_app(settings, work)


async def _data_purge(settings: Settings, args: argparse.Namespace) -> int:
    async def work(app: App) -> int:
        now = app.conversation.deps.clock.now()
        months = app.config.consent.retention_months
        cutoff = now - timedelta(days=round(months * 30.44))
        async with app.db.transaction() as session:
            applicants = Applicants(session)
            expired = await applicants.idle_since(cutoff)
            paths = [document.path for applicant in expired for document in applicant.documents]
            if args.apply:
                for applicant in expired:
                    await Audit(session).record(
                        _operator(),
                        "applicant_deleted",
                        now,
                        applicant.id,
                        {"registration_number": applicant.registration_number, "by": "retention"},
                    )
                    await applicants.delete(applicant)
        if args.apply:
            await forget_unreferenced(app.db, app.conversation.deps.files, paths)
        verb = "deleted" if args.apply else "would delete (dry run; add --apply)"
        print(
            f"{verb} {len(expired)} applicant(s) unchanged since {cutoff:%Y-%m-%d} "
            f"(retention {months} months)"
        )
        return 0

    return await _with_app(settings, work)


async def _set_closed(settings: Settings, closed: bool, reason: str | None) -> int:
    async def work(app: App) -> int:
        now = app.conversation.deps.clock.now()
        value = {"closed": True, "reason": reason} if closed else {"closed": False}
        async with app.db.transaction() as session:
            await Flags(session).set(REGISTRATION_CLOSED, value, _operator(), now)
            action = "registration_closed" if closed else "registration_reopened"
            await Audit(session).record(_operator(), action, now, detail=value)
        print("registration closed early" if closed else "early close lifted")
        return 0

    return await _with_app(settings, work)


async def _registration_close(settings: Settings, args: argparse.Namespace) -> int:
    return await _set_closed(settings, True, args.reason)


async def _registration_open(settings: Settings, args: argparse.Namespace) -> int:
    return await _set_closed(settings, False, None)


async def _registration_status(settings: Settings, args: argparse.Namespace) -> int:
    async def work(app: App) -> int:
        now = app.conversation.deps.clock.now()
        async with app.db.transaction() as session:
            window = await registration_window(app.config, Flags(session), now)
            total = await Applicants(session).count_all()
            confirmed = await Applicants(session).count_confirmed()
        print(
            f"at {now:%Y-%m-%d %H:%M %Z}: registration {window.state.value}; "
            f"{total} applicants stored, {confirmed} submitted"
            f"{f' (quota {app.config.quota})' if app.config.quota else ''}"
        )
        return 0

    return await _with_app(settings, work)
