"""The private document store: files named by their content hash, outside any public path."""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
import shutil
import zipfile
from pathlib import Path

from storage.db import Database
from storage.private_files import private_dir, private_file
from storage.repositories import Documents


class FileStore:
    """Content-addressed files under one private folder (mode 0700 folders, 0600 files)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def put(self, content: bytes, extension: str) -> tuple[str, str]:
        """Store `content`; return (relative path, sha256). Same bytes twice: one file."""
        digest = hashlib.sha256(content).hexdigest()
        relative = f"{digest[:2]}/{digest}.{extension}"
        target = self.root / relative
        if not target.exists():
            temporary = target.parent / f".incoming-{secrets.token_hex(16)}"
            try:
                with private_file(temporary, exclusive=True) as handle:
                    handle.write(content)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(temporary, target)
            except BaseException:
                temporary.unlink(missing_ok=True)
                raise
        return relative, digest

    def path(self, relative: str) -> Path:
        """The absolute path of a stored file (refuses anything outside the store)."""
        target = (self.root / relative).resolve()
        if not target.is_relative_to(self.root.resolve()):
            raise ValueError(f"not a stored file: {relative!r}")
        return target

    def read(self, relative: str) -> bytes:
        """The bytes of a stored file."""
        return self.path(relative).read_bytes()

    def delete(self, relative: str) -> None:
        """Remove a stored file (no error when it is already gone)."""
        self.path(relative).unlink(missing_ok=True)


async def forget_unreferenced(db: Database, store: FileStore, paths: list[str]) -> None:
    """Delete stored files that no document row points to any more (call after a commit)."""
    if not paths:
        return
    async with db.transaction() as session:
        in_use = await Documents(session).paths_in_use(paths)
    for path in set(paths) - in_use:
        await asyncio.to_thread(store.delete, path)


def export_name(owner: str, kind: str, stored_path: str) -> str:
    """`PMK24-00001_ktp.jpg`: who, which document, and the stored file's extension."""
    return f"{owner}_{kind}.{stored_path.rsplit('.', 1)[-1]}"


def write_export(out: Path, files: list[tuple[str, Path]]) -> None:
    """Copy (name, stored path) pairs into a new folder, or a .zip when `out` ends in .zip."""
    if out.suffix.lower() == ".zip":
        with (
            private_file(out) as handle,
            zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED) as archive,
        ):
            for name, path in files:
                archive.write(path, arcname=name)
        return
    private_dir(out)
    for name, path in files:
        with path.open("rb") as source, private_file(out / name) as target:
            shutil.copyfileobj(source, target)
