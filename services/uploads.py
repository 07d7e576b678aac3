"""Files received in chat, fetched and checked before the turn's transaction (outside it, off
the event loop): a document, a broadcast attachment, a results table. A problem is returned, not
raised, so the step can answer it politely."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date
from functools import partial

from core.recruitment import Document, DocumentLimits
from core.types import FileKind, FileSource, FileTooLarge, FileUnavailable, IncomingFile
from core.validation import Invalid
from services.document_check import CheckedFile, attachment_type, check_document
from services.result_table import TableProblem, TableRow, read_table
from services.table_limits import LIMITS
from storage.files import FileStore

ACCEPTED_KINDS = (FileKind.PHOTO, FileKind.DOCUMENT)


@dataclass(frozen=True)
class Upload:
    """A file received for one document: checked off the event loop, and stored when good."""

    key: str
    refusal: Invalid | None = None
    checked: CheckedFile | None = None
    path: str | None = None
    sha256: str | None = None
    size: int = 0


async def prepare_upload(
    file: IncomingFile,
    document: Document,
    limits: DocumentLimits,
    source: FileSource,
    store: FileStore,
    checks: asyncio.Semaphore,
) -> Upload:
    """Fetch, check and store a file for `document`; a refusal is returned, not raised."""
    if file.size is not None and file.size > limits.max_bytes:
        return Upload(document.key, Invalid("doc_too_large", max_mb=limits.max_bytes // 2**20))
    try:
        content = await source.fetch(file, limits.max_bytes)
    except FileTooLarge:
        return Upload(document.key, Invalid("doc_too_large", max_mb=limits.max_bytes // 2**20))
    except FileUnavailable:
        return Upload(document.key, Invalid("doc_download_failed"))
    try:
        async with checks:
            checked = await asyncio.to_thread(check_document, content, document, limits)
    except Invalid as refusal:
        return Upload(document.key, refusal)
    path, digest = await asyncio.to_thread(store.put, content, checked.extension)
    return Upload(document.key, None, checked, path, digest, len(content))


async def prepare_attachment(
    file: IncomingFile, limits: DocumentLimits, source: FileSource, store: FileStore
) -> Upload:
    """Fetch and store a broadcast attachment (a photo or a PDF, by content)."""
    refusal = Invalid("doc_type", accepted="JPG/PNG / PDF")
    if file.size is not None and file.size > limits.max_bytes:
        return Upload("broadcast", Invalid("doc_too_large", max_mb=limits.max_bytes // 2**20))
    try:
        content = await source.fetch(file, limits.max_bytes)
    except FileTooLarge:
        return Upload("broadcast", Invalid("doc_too_large", max_mb=limits.max_bytes // 2**20))
    except FileUnavailable:
        return Upload("broadcast", Invalid("doc_download_failed"))
    kind = attachment_type(content)
    if kind is None:
        return Upload("broadcast", refusal)
    mime_type, extension = kind
    path, digest = await asyncio.to_thread(store.put, content, extension)
    return Upload("broadcast", None, CheckedFile(mime_type, extension), path, digest, len(content))


@dataclass(frozen=True)
class TableUpload:
    """A results file received in chat: its rows, or why it cannot be read."""

    file_name: str
    rows: list[TableRow] | None = None
    problem: TableProblem | None = None


async def prepare_table(file: IncomingFile, source: FileSource, today: date) -> TableUpload:
    """Fetch and read a results file (off the event loop); a problem is returned, not raised.
    `today` is the bot's date (birth dates after it stay text)."""
    name = file.file_name or "hasil"
    too_large = TableProblem("table_too_large", max_mb=LIMITS.max_mb)
    if file.size is not None and file.size > LIMITS.max_bytes:
        return TableUpload(name, problem=too_large)
    try:
        content = await source.fetch(file, LIMITS.max_bytes)
    except FileTooLarge:
        return TableUpload(name, problem=too_large)
    except FileUnavailable:
        return TableUpload(name, problem=TableProblem("table_download_failed"))
    return await read_results_file(content, name, today)


async def read_results_file(content: bytes, file_name: str, today: date) -> TableUpload:
    """Read a results file's bytes (CSV or XLSX, off the event loop): its rows, or why it
    cannot be used (a file past the limits included)."""
    try:
        rows = await asyncio.to_thread(partial(read_table, content, file_name, today=today))
    except TableProblem as problem:
        return TableUpload(file_name, problem=problem)
    return TableUpload(file_name, rows=rows)
