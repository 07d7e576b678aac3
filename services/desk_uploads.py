"""A results file uploaded on the desk, kept server-side between its dry run and "Terapkan":
in the database under an opaque id, tied to the session that uploaded it (another session,
or the browser re-posting a table, cannot apply it), removed once applied or cancelled, and
with the session at the latest."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import PureWindowsPath

from sqlalchemy.ext.asyncio import AsyncSession

from services.desk_sessions import SignedIn
from storage.desk_uploads import DeskUploads
from storage.repositories import Audit

FILE_NAME_MAX = 100
DEFAULT_NAME = "hasil"


@dataclass(frozen=True)
class KeptFile:
    """An uploaded results file waiting to be applied."""

    id: str
    stage: str
    file_name: str
    content: bytes


def upload_name(sent: str | None) -> str:
    """The file's own name as a browser sent it (some send a whole Windows path), shortened."""
    name = PureWindowsPath(sent or "").name.strip()
    return name[-FILE_NAME_MAX:] or DEFAULT_NAME


async def keep_results_file(
    session: AsyncSession,
    signed: SignedIn,
    stage: str,
    file_name: str,
    content: bytes,
    actor: str,
    now: datetime,
) -> KeptFile:
    """Keep a readable results file for this session (replacing its earlier one), audited."""
    kept = KeptFile(secrets.token_urlsafe(16), stage, file_name, content)
    await DeskUploads(session).replace(kept.id, signed.token_hash, stage, file_name, content, now)
    await Audit(session).record(
        actor,
        "results_file_uploaded",
        now,
        detail={"stage": stage, "file": file_name, "bytes": len(content)},
    )
    return kept


async def kept_results_file(
    session: AsyncSession, signed: SignedIn, upload_id: str
) -> KeptFile | None:
    """The file kept under `upload_id` for this session; None when there is none."""
    upload = await DeskUploads(session).get(upload_id, signed.token_hash)
    if upload is None:
        return None
    return KeptFile(upload.id, upload.stage, upload.file_name, upload.content)


async def forget_results_file(session: AsyncSession, signed: SignedIn, upload_id: str) -> None:
    """Remove the kept file (applied or cancelled)."""
    await DeskUploads(session).remove(upload_id, signed.token_hash)
