"""Backups: what goes in (database, documents, manifest), and what a restore checks first.

A backup holds a consistent copy of the database, every file of the private document store,
and `manifest.json`: when (from the injected clock), the app version, the schema revision, the
database kind, counts of applicants, documents and outbox rows, and the SHA-256 of every file.
A restore refuses a backup whose files do not match their checksums (or are missing or extra),
and a database that already holds data unless forced; afterwards the schema is upgraded.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from storage.backup import (
    DATABASE_FILES,
    copy_database,
    database_kind,
    holds_data,
    replace_database,
)
from storage.backup_archive import (
    DOCUMENTS,
    copy_documents,
    files_in,
    is_archive,
    pack,
    read_manifest,
    replace_documents,
    sha256_of,
    unpack,
    write_manifest,
)
from storage.db import Database
from storage.files import FileStore
from storage.private_files import private_dir

FORMAT = 1
"""The layout of a backup; a restore refuses another."""


class BackupRefused(Exception):
    """A backup cannot be made or restored; `key` and `params` name the catalog text."""

    def __init__(self, key: str, **params: object) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


@dataclass(frozen=True)
class BackupSummary:
    """What a backup holds, as its manifest says."""

    created_at: str
    database: str
    revision: str | None
    counts: dict[str, int]
    files: int


async def create_backup(db: Database, store: FileStore, out: Path, now: datetime) -> BackupSummary:
    """Back up `db` and the document store to `out` (a new folder, or a .tar.gz)."""
    if await asyncio.to_thread(_taken, out):
        raise BackupRefused("backup_out_exists", path=out)
    with _working_folder(out) as folder:
        copy = await copy_database(db, folder / DATABASE_FILES[database_kind(db)])
        await asyncio.to_thread(copy_documents, store.root, folder / DOCUMENTS)
        digests = await asyncio.to_thread(_digests, folder)
        manifest = {
            "format": FORMAT,
            "created_at": now.isoformat(),
            "app_version": version("mitrabot"),
            "alembic_revision": copy.revision,
            "database": copy.kind,
            "counts": copy.counts,
            "sha256": digests,
        }
        await asyncio.to_thread(write_manifest, folder, manifest)
        if is_archive(out):
            await asyncio.to_thread(pack, folder, out)
    return _summary(manifest)


async def restore_backup(
    db: Database, store: FileStore, source: Path, *, force: bool
) -> BackupSummary:
    """Check `source` whole, then replace the database and the documents with it and upgrade
    the schema. Refused (nothing changed) when a check fails or `db` holds data without
    `force`."""
    if not await asyncio.to_thread(source.exists):
        raise BackupRefused("backup_not_found", path=source)
    with _opened(source) as folder:
        manifest = await asyncio.to_thread(verified_manifest, folder)
        if manifest["database"] != database_kind(db):
            raise BackupRefused(
                "backup_wrong_database", kind=manifest["database"], target=database_kind(db)
            )
        if not force and await holds_data(db):
            raise BackupRefused("backup_target_not_empty")
        await replace_database(db, folder / DATABASE_FILES[manifest["database"]])
        await asyncio.to_thread(replace_documents, folder / DOCUMENTS, store.root)
    await db.upgrade()
    return _summary(manifest)


def verified_manifest(folder: Path) -> dict[str, Any]:
    """The manifest of a backup folder whose every file matches its checksum; else refused."""
    manifest = read_manifest(folder)
    if manifest is None or manifest.get("format") != FORMAT:
        raise BackupRefused("backup_no_manifest")
    expected: dict[str, str] = manifest.get("sha256") or {}
    database = DATABASE_FILES.get(manifest.get("database", ""))
    if database is None or database not in expected:
        raise BackupRefused("backup_no_manifest")
    present = set(files_in(folder))
    missing = sorted(set(expected) - present)
    if missing:
        raise BackupRefused("backup_files_missing", count=len(missing), first=missing[0])
    extra = sorted(present - set(expected))
    if extra:
        raise BackupRefused("backup_files_extra", count=len(extra), first=extra[0])
    changed = [name for name in sorted(expected) if sha256_of(folder / name) != expected[name]]
    if changed:
        raise BackupRefused("backup_files_changed", count=len(changed), first=changed[0])
    return manifest


def _taken(out: Path) -> bool:
    """True when `out` is a file, or a folder with something in it."""
    return out.exists() and (not out.is_dir() or any(out.iterdir()))


def _digests(folder: Path) -> dict[str, str]:
    return {name: sha256_of(folder / name) for name in files_in(folder)}


def _summary(manifest: dict[str, Any]) -> BackupSummary:
    return BackupSummary(
        created_at=manifest["created_at"],
        database=manifest["database"],
        revision=manifest["alembic_revision"],
        counts=manifest["counts"],
        files=len(manifest["sha256"]),
    )


@contextmanager
def _working_folder(out: Path) -> Iterator[Path]:
    """Where a backup is assembled: `out` itself, or a private temporary folder beside the
    .tar.gz (removed afterwards)."""
    if not is_archive(out):
        yield private_dir(out)
        return
    private_dir(out.parent)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".backup-") as temporary:
        yield Path(temporary)


@contextmanager
def _opened(source: Path) -> Iterator[Path]:
    """A backup as a folder: `source` itself, or a .tar.gz extracted to a temporary folder."""
    if not is_archive(source):
        yield source
        return
    with tempfile.TemporaryDirectory(prefix="mitrabot-restore-") as temporary:
        try:
            unpack(source, Path(temporary))
        except (OSError, EOFError, ValueError) as error:  # tarfile errors are ValueErrors too
            raise BackupRefused("backup_unreadable", path=source) from error
        yield Path(temporary)
