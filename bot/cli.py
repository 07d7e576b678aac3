"""The `mitrabot` command: chat in a terminal, run on Telegram, and staff tools."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import getpass
import logging
import signal
import sys
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from bot.app import App
from bot.cli_backup import add_backup_commands
from bot.cli_desk import (
    add_passwd_command,
    add_web_account,
    add_web_options,
    remove_web_account,
    web_account_lines,
)
from bot.cli_doctor import add_doctor_command
from bot.cli_questions import add_question_commands
from bot.cli_results import add_results_commands
from bot.cli_schedule import add_schedule_commands
from bot.cli_sobat import add_sobat_commands
from bot.cli_support import (
    app_command,
    fail,
    local_time,
    operator,
    printed_command,
    say,
    text,
    wib,
    with_app,
)
from bot.logs import configure_logging
from bot.settings import ServeError, Settings
from core.recruitment import ConfigError, load_recruitment
from handlers.staff.commands import registration_status_text
from scheduler.delivery import Sender
from scheduler.jobs import start_scheduler
from services.broadcasts import (
    RESULT_KINDS,
    Attachment,
    Audience,
    AudienceError,
    cancel_broadcast,
    count_recipients,
    create_broadcast,
    failures_csv,
    preview_message,
    progress_text,
    published_stages,
    schedule_broadcast,
)
from services.document_check import attachment_type
from services.results import stage_keys, stage_label
from services.retention import purge_expired
from services.window import close_early, reopen
from storage.broadcasts import Broadcasts
from storage.files import export_name, forget_unreferenced, write_export
from storage.outbox import Outbox
from storage.private_files import shared_with_others, write_private
from storage.repositories import Applicants, Audit, Staff

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
        print(text("cli_bad_setting", error=error), file=sys.stderr)
        return 2
    if getattr(args, "at", None):
        settings = settings.model_copy(update={"clock_at": args.at})
    configure_logging(settings.log_level, settings.log_format)
    try:
        return asyncio.run(args.action(settings, args))
    except ConfigError as error:
        print(text("cli_config_invalid", error=error), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mitrabot", description=__doc__)
    commands = parser.add_subparsers(title="commands")

    chat = commands.add_parser("chat", help="talk to the bot in this terminal")
    chat.add_argument("--at", type=local_time, help="start the clock at this local time")
    chat.add_argument(
        "--user",
        default=getpass.getuser(),
        help="who is chatting (default: your login name); each name is its own applicant",
    )
    chat.set_defaults(action=_chat)

    run = commands.add_parser("run", help="run on Telegram (long polling)")
    run.add_argument("--at", type=local_time, help="start the clock at this local time")
    run.set_defaults(action=_run_telegram)

    serve = commands.add_parser(
        "serve",
        help="the web app: WhatsApp and Telegram webhooks, /healthz, the staff desk at /desk "
        "(and delivery)",
    )
    serve.set_defaults(action=_serve)

    worker = commands.add_parser("worker", help="deliver queued messages (no chat handling)")
    worker.add_argument("--name", help="worker name in the outbox (default host:pid)")
    worker.set_defaults(action=_run_worker)

    broadcast = commands.add_parser("broadcast", help="staff broadcasts").add_subparsers()
    send = broadcast.add_parser("send", help="queue a message to an audience")
    send.add_argument("--text", required=True, help="the message; {nama} and {nomor} are filled")
    send.add_argument("--file", type=Path, help="a photo (JPG/PNG) or PDF to send with it")
    send.add_argument(
        "--audience",
        default="all",
        help="all | incomplete | complete | kecamatan:35.28.01 | kecamatan:luar | channel:telegram"
        " | passed:1 | not_passed:2 | passed:final (published stages only)",
    )
    send.add_argument("--urgent", action="store_true", help="also during quiet hours")
    send.add_argument(
        "--send-at", type=local_time, help="send later, at this WIB time (e.g. 2023-11-20T08:00)"
    )
    send.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    send.set_defaults(action=_broadcast_send)
    status_parser = broadcast.add_parser("status", help="progress of a broadcast")
    status_parser.add_argument("id", type=int)
    status_parser.add_argument("--watch", action="store_true", help="follow until it is done")
    status_parser.set_defaults(action=_broadcast_status)
    cancel = broadcast.add_parser("cancel", help="stop what is not sent yet")
    cancel.add_argument("id", type=int)
    cancel.set_defaults(action=_broadcast_cancel)
    failures = broadcast.add_parser("failures", help="write the failed recipients as CSV")
    failures.add_argument("id", type=int)
    failures.add_argument("--out", type=Path, required=True)
    failures.set_defaults(action=_broadcast_failures)
    broadcast.add_parser("list", help="recent broadcasts").set_defaults(action=_broadcast_list)

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
    add = staff.add_parser(
        "add", help="give a chat identity staff rights, or (--web) add a web desk account"
    )
    add.add_argument(
        "identity", help="channel:id, e.g. telegram:123456789; with --web: a login name"
    )
    add.add_argument("--name", help="the staff member's name (chat identities)")
    add.set_defaults(action=_staff_add)
    remove = staff.add_parser("remove", help="withdraw staff rights (--web: disable an account)")
    remove.add_argument("identity")
    remove.set_defaults(action=_staff_remove)
    add_web_options(add, remove)
    add_passwd_command(staff)
    staff.add_parser("list", help="list staff").set_defaults(action=_staff_list)

    documents = commands.add_parser("documents", help="applicants' documents").add_subparsers()
    export = documents.add_parser("export", help="copy documents to a folder or a .zip")
    export.add_argument("out", type=Path, help="a folder, or a file name ending in .zip")
    export.add_argument("--number", action="append", help="only this registration number")
    export.set_defaults(action=_documents_export)

    data = commands.add_parser("data", help="personal data").add_subparsers()
    purge = data.add_parser("purge", help="delete applicants past the retention period")
    purge.add_argument("--apply", action="store_true", help="really delete (default: dry run)")
    purge.add_argument("--at", type=local_time, help="evaluate at this local time")
    purge.set_defaults(action=_data_purge)

    add_results_commands(commands)
    add_schedule_commands(commands)
    add_sobat_commands(commands)
    add_question_commands(commands)
    add_backup_commands(commands)
    add_doctor_command(commands)

    registration = commands.add_parser("registration", help="open/close registration")
    reg = registration.add_subparsers()
    close = reg.add_parser("close", help="close registration early (quota full)")
    close.add_argument("--reason", default="kuota terpenuhi")
    close.set_defaults(action=_registration_close)
    reg.add_parser("open", help="lift an early close").set_defaults(action=_registration_open)
    status = reg.add_parser("status", help="show registration state and counts")
    status.add_argument("--at", type=local_time, help="evaluate at this local time")
    status.set_defaults(action=_registration_status)
    return parser


@app_command
async def _chat(app: App, args: argparse.Namespace) -> int:
    from bot.terminal import chat

    await chat(app, args.user)
    return 0


async def _run_telegram(settings: Settings, args: argparse.Namespace) -> int:
    if settings.telegram_token is None:
        print(text("cli_need_telegram_token"), file=sys.stderr)
        return 2
    token = settings.telegram_token.get_secret_value()
    return await with_app(settings, functools.partial(_poll_telegram, token=token))


async def _poll_telegram(app: App, token: str) -> int:
    from bot.telegram import TelegramSender, build_application, start_polling, stop_polling

    settings = app.settings
    application = build_application(
        app.conversation,
        token,
        settings.telegram_base_url,
        settings.telegram_base_file_url,
        settings.telegram_concurrency,
        timedelta(seconds=settings.delivery_lease_seconds),
    )
    stop = _stop_on_signals()
    polling = await start_polling(
        application,
        orphan_after=timedelta(seconds=settings.inbound_orphan_seconds),
        sweep_every=settings.inbound_sweep_seconds,
    )
    log.info("polling Telegram as @%s; Ctrl-C stops", application.bot.username)
    delivery = app.delivery_worker(
        {"telegram": TelegramSender(application.bot), **_whatsapp_sender(app)}
    )
    worker_task = asyncio.create_task(delivery.run(stop))
    scheduler = start_scheduler(app.jobs())
    try:
        await stop.wait()
    finally:  # the worker's sends and the updates in hand finish side by side, both bounded
        scheduler.shutdown(wait=False)
        stop.set()
        await asyncio.gather(worker_task, stop_polling(polling, settings.stop_grace_seconds))
    return 0


async def _serve(settings: Settings, args: argparse.Namespace) -> int:
    return await with_app(settings, _serve_app, metered=True)


async def _serve_app(app: App) -> int:
    from bot.serve import serve

    try:
        await serve(app, app.settings)
    except ServeError as error:
        print(f"mitrabot: {error}", file=sys.stderr)
        return 2
    return 0


def _whatsapp_sender(app: App) -> dict[str, Sender]:
    """The WhatsApp outbox sender when WhatsApp is configured (it sends what queues for it)."""
    if not app.settings.whatsapp_configured:
        return {}  # the WhatsApp client is not even imported
    from bot.whatsapp import whatsapp_parts

    parts = whatsapp_parts(app)
    return {"whatsapp": parts[1]} if parts else {}


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    return stop


async def _run_worker(settings: Settings, args: argparse.Namespace) -> int:
    metered = settings.worker_metrics_port is not None
    work = functools.partial(_deliver, name=args.name)
    return await with_app(settings, work, metered=metered)


async def _deliver(app: App, name: str | None) -> int:
    from bot.telegram import TelegramSender, sending_bots
    from bot.worker import run_worker

    settings = app.settings
    try:
        senders = _whatsapp_sender(app)
    except ServeError as error:
        print(f"mitrabot: {error}", file=sys.stderr)
        return 2
    async with contextlib.AsyncExitStack() as stack:
        if settings.telegram_token is not None:
            bots = sending_bots(
                settings.telegram_token.get_secret_value(),
                settings.telegram_base_url,
                settings.telegram_base_file_url,
                settings.delivery_concurrency,
            )
            for bot in bots:
                await stack.enter_async_context(bot)
            senders["telegram"] = TelegramSender(*bots)
        if not senders:
            print(text("cli_need_sender"), file=sys.stderr)
            return 2
        await run_worker(app, senders, _stop_on_signals(), name)
    return 0


def _send_at(app: App, args: argparse.Namespace) -> datetime | None:
    """The checked `--send-at` of `broadcast send` (WIB when no zone is given), or None; checked
    before anything is previewed, asked or stored."""
    if args.send_at is None:
        return None
    if args.file is not None:
        raise fail("cli_schedule_text_only")
    send_at = args.send_at
    send_at = send_at if send_at.tzinfo else send_at.replace(tzinfo=app.config.tz)
    now = app.conversation.deps.clock.now()
    if send_at <= now:
        raise fail("cli_send_at_past", now=wib(app.config, now))
    return send_at


async def _schedule_broadcast(
    app: App, args: argparse.Namespace, audience: Audience, send_at: datetime
) -> int:
    now = app.conversation.deps.clock.now()
    async with app.db.transaction() as session:
        scheduled = await schedule_broadcast(
            session,
            text=args.text,
            audience=audience,
            send_at=send_at,
            created_by=operator(),
            now=now,
        )
    say("cli_scheduled", id=scheduled.id, when=wib(app.config, send_at))
    return 0


def _audience(app: App, text: str) -> Audience:
    try:
        return Audience.parse(text, {k.code for k in app.config.kecamatan}, stage_keys(app.config))
    except AudienceError as error:
        raise fail(error.key, **error.params) from error


@app_command
async def _broadcast_send(app: App, args: argparse.Namespace) -> int:
    audience = _audience(app, args.audience)
    send_at = _send_at(app, args)
    deps = app.conversation.deps
    attachment = None
    if args.file is not None:
        content = await asyncio.to_thread(args.file.read_bytes)
        kind = attachment_type(content)
        if kind is None:
            raise fail("cli_file_type")
        mime, extension = kind
        path, _ = deps.files.put(content, extension)
        attachment = Attachment(path, args.file.name, mime)
    async with app.db.transaction() as session:
        count = await count_recipients(session, audience)
        published = await published_stages(session, app.config)
        preview = await preview_message(session, audience, args.text)
    if audience.kind in RESULT_KINDS and audience.value not in published:
        stage = stage_label(app.config, deps.catalog, "id", audience.value or "")
        raise fail("cli_stage_not_published", stage=stage, value=audience.value)
    say("cli_preview", preview=preview)
    say("cli_audience_count", audience=audience.describe(), count=count)
    if args.urgent:
        say("cli_urgent")
    if send_at is not None:
        question = text("cli_ask_schedule", when=wib(app.config, send_at))
    else:
        question = text("cli_ask_send")
    answer = "y" if args.yes else await asyncio.to_thread(input, question)
    if answer.strip().lower() not in ("y", "ya", "yes"):
        say("cli_not_sent")
        return 1
    now = deps.clock.now()
    if send_at is not None:
        return await _schedule_broadcast(app, args, audience, send_at)
    async with app.db.transaction() as session:
        broadcast = await create_broadcast(
            session,
            text=args.text,
            audience=audience,
            created_by=operator(),
            now=now,
            quiet_hours=app.config.quiet_hours,
            attachment=attachment,
            urgent=args.urgent,
        )
    say("cli_queued", id=broadcast.id, count=broadcast.total)
    return 0


@app_command
async def _broadcast_status(app: App, args: argparse.Namespace) -> int:
    catalog = app.conversation.deps.catalog
    while True:
        async with app.db.transaction() as session:
            broadcast = await Broadcasts(session).get(args.id)
            if broadcast is None:
                raise fail("cli_no_broadcast", id=args.id)
            counts = await Outbox(session).progress(args.id)
        line = progress_text(catalog, broadcast, counts).replace("\n", "  ")
        pending = counts.get("queued", 0) + counts.get("sending", 0)
        if not args.watch or not pending:
            print(line)
            return 0
        print(f"\r{line}", end="", flush=True)
        await asyncio.sleep(1)


@printed_command
async def _broadcast_cancel(app: App, session: AsyncSession, args: argparse.Namespace) -> str:
    now = app.conversation.deps.clock.now()
    stopped = await cancel_broadcast(session, args.id, operator(), now)
    return text("bc_cancel_done", id=args.id, stopped=stopped)


@app_command
async def _broadcast_failures(app: App, args: argparse.Namespace) -> int:
    async with app.db.transaction() as session:
        failures = await Outbox(session).failures(args.id)
    rows = [(m.channel, m.recipient, m.state, m.last_error) for m in failures]
    await asyncio.to_thread(write_private, args.out, failures_csv(rows))
    say("cli_failures_written", count=len(rows), path=args.out)
    return 0


@printed_command
async def _broadcast_list(app: App, session: AsyncSession, args: argparse.Namespace) -> str:
    broadcasts = await Broadcasts(session).newest(20)
    return "\n".join(
        text(
            "cli_broadcast_line",
            id=b.id,
            when=wib(app.config, b.created_at),
            state=text(f"broadcast_state_{b.state}"),
            count=b.total,
            by=b.created_by,
            text=repr(b.text[:40]),
        )
        for b in broadcasts
    )


@app_command
async def _db_upgrade(app: App, args: argparse.Namespace) -> int:
    say("cli_schema_ok", url=app.db.url.render_as_string(hide_password=True))
    return 0


@app_command
async def _db_revision(app: App, args: argparse.Namespace) -> int:
    await app.db.new_revision(args.message)
    return 0


async def _config_check(settings: Settings, args: argparse.Namespace) -> int:
    path = args.file or settings.recruitment_file
    config = load_recruitment(path)
    say(
        "cli_config_ok",
        path=path,
        title=config.title.id,
        requirements=len(config.requirements),
        kecamatan=len(config.kecamatan),
        stages=len(config.stages),
    )
    unset = config.unset_optional()
    if unset:
        print("Belum diisi (boleh diisi bila kantor sudah mengumumkannya; bot tidak menyebutnya):")
        print("\n".join(f"  {name}" for name in unset))
    for exposed in filter(shared_with_others, settings.private_paths):
        say("cli_not_private", path=exposed, mode=f"{exposed.stat().st_mode & 0o777:o}")
    return 0


def _split_identity(identity: str) -> tuple[str, str]:
    channel, _, user = identity.partition(":")
    if channel not in ("telegram", "whatsapp", "terminal") or not user:
        raise fail("cli_bad_identity", identity=identity)
    return channel, user


@app_command
async def _staff_add(app: App, args: argparse.Namespace) -> int:
    if args.web:
        return await add_web_account(app, args)
    channel, user = _split_identity(args.identity)
    if not args.name:
        raise fail("cli_staff_name_needed")
    now = app.conversation.deps.clock.now()
    async with app.db.transaction() as session:
        added = await Staff(session).add(channel, user, args.name, operator(), now)
        if added:
            await Audit(session).record(
                operator(), "staff_added", now, detail={"identity": args.identity}
            )
    say("cli_staff_added" if added else "cli_staff_already", identity=args.identity)
    return 0


@app_command
async def _staff_remove(app: App, args: argparse.Namespace) -> int:
    if args.web:
        return await remove_web_account(app, args)
    channel, user = _split_identity(args.identity)
    now = app.conversation.deps.clock.now()
    async with app.db.transaction() as session:
        removed = await Staff(session).remove(channel, user)
        if removed:
            await Audit(session).record(
                operator(), "staff_removed", now, detail={"identity": args.identity}
            )
    say("cli_staff_removed" if removed else "cli_staff_not_staff", identity=args.identity)
    return 0 if removed else 1


@printed_command
async def _staff_list(app: App, session: AsyncSession, args: argparse.Namespace) -> str:
    members = await Staff(session).all()
    lines = [text("cli_staff_from_settings", identity=identity) for identity in app.settings.staff]
    lines += [
        text(
            "cli_staff_line",
            identity=f"{member.channel}:{member.external_id}",
            name=member.name,
            by=member.added_by,
            when=wib(app.config, member.added_at),
        )
        for member in members
    ]
    return "\n".join([*lines, *await web_account_lines(app, session)])


@app_command
async def _documents_export(app: App, args: argparse.Namespace) -> int:
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
            operator(),
            "documents_exported",
            now,
            detail={
                "files": len(exported),
                "applicants": [a.id for a in selected],
                "to": str(args.out),
            },
        )
    await asyncio.to_thread(write_export, args.out, exported)
    say("cli_exported", files=len(exported), applicants=len(selected), path=args.out)
    return 0


@app_command
async def _data_purge(app: App, args: argparse.Namespace) -> int:
    now = app.conversation.deps.clock.now()
    files = app.conversation.deps.files
    async with app.db.transaction() as session:
        count, paths = await purge_expired(
            session, app.config, now, files, actor=operator(), apply=args.apply
        )
    await forget_unreferenced(app.db, files, paths)
    if count and args.apply:
        await app.db.forget_history()
    say(
        "cli_purge_done" if args.apply else "cli_purge_dry",
        count=count,
        since=wib(app.config, app.config.consent.applicant_cutoff(now)),
        months=app.config.consent.retention_months,
    )
    return 0


async def _set_closed(app: App, session: AsyncSession, reason: str | None) -> str:
    """Close registration early (with `reason`) or lift the close; the text that says so."""
    now = app.conversation.deps.clock.now()
    if reason is None:
        await reopen(session, operator(), now)
        return text("staff_reopened")
    await close_early(session, reason, operator(), now)
    return text("staff_closed", reason=reason)


@printed_command
async def _registration_close(app: App, session: AsyncSession, args: argparse.Namespace) -> str:
    return await _set_closed(app, session, args.reason)


@printed_command
async def _registration_open(app: App, session: AsyncSession, args: argparse.Namespace) -> str:
    return await _set_closed(app, session, None)


@printed_command
async def _registration_status(app: App, session: AsyncSession, args: argparse.Namespace) -> str:
    now = app.conversation.deps.clock.now()
    catalog = app.conversation.deps.catalog
    status = await registration_status_text(session, app.config, catalog, "id", now)
    return f"{text('cli_registration_at', when=wib(app.config, now))}\n{status}"
