"""`mitrabot backup OUT` and `mitrabot restore IN [--force]`: the database and the documents."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.app import App
from bot.cli_support import app_command, say, text
from bot.settings import Settings
from services.backup import BackupRefused, BackupSummary, create_backup, restore_backup
from storage.backup import ToolFailed, ToolMissing
from storage.db import Database
from storage.files import FileStore


def add_backup_commands(commands: argparse._SubParsersAction) -> None:
    """Register `mitrabot backup` and `mitrabot restore`."""
    backup = commands.add_parser(
        "backup", help="copy the database and the documents, with a manifest and checksums"
    )
    backup.add_argument("out", type=Path, help="a new folder, or a file name ending in .tar.gz")
    backup.set_defaults(action=_backup)
    restore = commands.add_parser(
        "restore", help="check a backup's checksums, then restore it and upgrade the schema"
    )
    restore.add_argument("source", type=Path, help="a backup folder or .tar.gz")
    restore.add_argument(
        "--force", action="store_true", help="replace a database that already holds data"
    )
    restore.set_defaults(action=_restore)


@app_command
async def _backup(app: App, args: argparse.Namespace) -> int:
    deps = app.conversation.deps
    try:
        summary = await create_backup(app.db, deps.files, args.out, deps.clock.now())
    except (BackupRefused, ToolMissing, ToolFailed) as error:
        return _refused(error)
    _report("backup_done", summary, args.out)
    return 0


async def _restore(settings: Settings, args: argparse.Namespace) -> int:
    # Not the app: building it would migrate the target before the backup is checked.
    db = Database(settings.effective_database_url)
    try:
        summary = await restore_backup(
            db, FileStore(settings.documents_dir), args.source, force=args.force
        )
    except (BackupRefused, ToolMissing, ToolFailed) as error:
        return _refused(error)
    finally:
        await db.dispose()
    _report("restore_done", summary, args.source)
    return 0


def _report(key: str, summary: BackupSummary, path: Path) -> None:
    say(
        key,
        path=path,
        database=summary.database,
        revision=summary.revision or "-",
        created_at=summary.created_at,
        files=summary.files,
        **summary.counts,
    )


def _refused(error: Exception) -> int:
    if isinstance(error, BackupRefused):
        message = text(error.key, **error.params)
    elif isinstance(error, ToolMissing):
        message = text("backup_tool_missing", tool=error.tool)
    else:
        message = text("backup_tool_failed", error=error)
    print(message, file=sys.stderr)
    return 1
