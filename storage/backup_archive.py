"""A backup on disk: a private folder (or a .tar.gz of one), its manifest and file checksums."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tarfile
import zlib
from pathlib import Path
from typing import Any

from storage.private_files import private_dir, private_file, write_private

MANIFEST = "manifest.json"
DOCUMENTS = "documents"


def is_archive(path: Path) -> bool:
    """True when `path` names a .tar.gz (else it is a folder)."""
    return path.name.lower().endswith((".tar.gz", ".tgz"))


def sha256_of(path: Path) -> str:
    """The SHA-256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def files_in(folder: Path) -> list[str]:
    """Every file under `folder` but the manifest, as sorted relative POSIX paths."""
    return sorted(
        path.relative_to(folder).as_posix()
        for path in folder.rglob("*")
        if path.is_file() and path.relative_to(folder).as_posix() != MANIFEST
    )


def copy_documents(store_root: Path, folder: Path) -> None:
    """Copy the document store's files (not its half-written `.incoming-*`) into `folder`."""
    if not store_root.exists():
        private_dir(folder)
        return
    for path in sorted(store_root.rglob("*")):
        if path.is_file() and not path.name.startswith(".incoming-"):
            _copy_private(path, folder / path.relative_to(store_root))
    private_dir(folder)


def replace_documents(folder: Path, store_root: Path) -> None:
    """Make the document store hold exactly the files of `folder` (the old ones are removed)."""
    if store_root.exists():
        shutil.rmtree(store_root)
    private_dir(store_root)
    for path in sorted(folder.rglob("*")) if folder.exists() else []:
        if path.is_file():
            _copy_private(path, store_root / path.relative_to(folder))


def write_manifest(folder: Path, manifest: dict[str, Any]) -> None:
    """Write the manifest (JSON) into the backup folder."""
    write_private(folder / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True).encode())


def read_manifest(folder: Path) -> dict[str, Any] | None:
    """The manifest of a backup folder, or None when it is missing or not JSON."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


def pack(folder: Path, out: Path) -> None:
    """Write `folder`'s files into the .tar.gz `out` (a 0600 file)."""
    with private_file(out) as handle, tarfile.open(fileobj=handle, mode="w:gz") as archive:
        for name in [MANIFEST, *files_in(folder)]:
            archive.add(folder / name, arcname=name, recursive=False)


def unpack(archive_path: Path, folder: Path) -> None:
    """Extract a .tar.gz into `folder`; only plain files inside it (tarfile's "data" filter).
    A damaged archive raises ValueError."""
    private_dir(folder)
    try:
        with tarfile.open(archive_path, mode="r:gz") as archive:
            archive.extractall(folder, filter="data")
    except (tarfile.TarError, EOFError, zlib.error) as error:
        raise ValueError(f"not a readable backup archive: {error}") from error


def _copy_private(source: Path, target: Path) -> None:
    with source.open("rb") as reader, private_file(target) as writer:
        shutil.copyfileobj(reader, writer)
        writer.flush()
        os.fsync(writer.fileno())
