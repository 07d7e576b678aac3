"""Folders and files only the bot's own user can read: 0700 and 0600 whatever the umask.

Every folder and file the project creates (the data folder, the SQLite database, the document
store, exports) is made here. `Path.mkdir(mode=…)` is not enough: the umask masks the mode, and
with `parents=True` the parents get the default mode; so each level is created and then set.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path) -> Path:
    """Create `path` and each missing parent as a 0700 folder (existing ones are left alone)."""
    missing: list[Path] = []
    level = path
    while not level.exists():
        missing.append(level)
        if level.parent == level:
            break
        level = level.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=DIR_MODE)
        except FileExistsError:  # made meanwhile by another process: leave it as it is
            continue
        os.chmod(folder, DIR_MODE)
    return path


@contextmanager
def private_file(path: Path, *, exclusive: bool = False) -> Iterator[BinaryIO]:
    """`path` opened for writing from empty, as a 0600 file (its folders by `private_dir`).

    An existing file is truncated and made 0600 too, unless `exclusive` (then it is an error).
    """
    private_dir(path.parent)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    descriptor = os.open(path, flags | os.O_CLOEXEC, FILE_MODE)
    try:
        os.fchmod(descriptor, FILE_MODE)
    except BaseException:
        os.close(descriptor)
        raise
    with os.fdopen(descriptor, "wb") as handle:
        yield handle


def write_private(path: Path, content: bytes) -> None:
    """Write `content` to `path` as a 0600 file (see `private_file`)."""
    with private_file(path) as handle:
        handle.write(content)


def create_private(path: Path) -> None:
    """Create `path` empty as a 0600 file unless it exists (an existing file is left alone)."""
    try:
        with private_file(path, exclusive=True):
            pass
    except FileExistsError:
        return


def shared_with_others(path: Path) -> bool:
    """True when `path` exists and its group or other users have any right on it."""
    try:
        return bool(path.stat().st_mode & 0o077)
    except (FileNotFoundError, NotADirectoryError):
        return False


PROBE_NAME = ".mitrabot-write-probe"


def write_problem(folder: Path) -> str | None:
    """Why a file cannot be written to and deleted from `folder` (by trying it with a probe
    file), or None when it can."""
    probe = folder / PROBE_NAME
    try:
        write_private(probe, b"probe")
        probe.unlink()
    except OSError as error:
        return error.strerror or str(error)
    return None
