"""Broadcasts: who an audience is, and putting one message per recipient into the outbox."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.catalog import Catalog
from core.recruitment import QuietHours, RecruitmentConfig
from services.profile import OUTSIDE
from services.results import stage_keys, stage_label
from services.spreadsheet_export import csv_bytes
from storage.broadcasts import RESULT_KINDS, Audiences, Broadcasts, ScheduledBroadcasts
from storage.files import FileStore
from storage.models import Broadcast, ScheduledBroadcast
from storage.outbox import Outbox, reported_broadcast
from storage.repositories import Audit
from storage.results import Publications

MAX_BROADCAST_TEXT = 3500
"""The longest broadcast text (or caption) staff may send, in chat, on the CLI or the desk."""
AUDIENCE_KINDS = ("all", "incomplete", "complete", "kecamatan", "channel", "passed", "not_passed")
CHANNELS = ("telegram", "whatsapp")


class AudienceError(ValueError):
    """An audience description that does not name a real group; `key` is its catalog text."""

    def __init__(self, key: str, **params: str) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


@dataclass(frozen=True)
class Audience:
    """A group of applicants: everyone, (in)complete registrations, one kecamatan, one channel,
    or those who passed / did not pass one selection stage."""

    kind: str
    value: str | None = None

    @classmethod
    def parse(cls, text: str, kecamatan_codes: set[str], stages: Collection[str] = ()) -> Audience:
        """`all`, `incomplete`, `complete`, `kecamatan:35.28.01` (or `luar`), `channel:telegram`,
        `passed:1`, `not_passed:2`, `passed:final`."""
        kind, _, value = text.strip().partition(":")
        if kind not in AUDIENCE_KINDS:
            raise AudienceError(
                "cli_audience_unknown", audience=text, choices=", ".join(AUDIENCE_KINDS)
            )
        if kind == "kecamatan" and value not in kecamatan_codes | {OUTSIDE}:
            raise AudienceError("cli_audience_kecamatan", value=value)
        if kind == "channel" and value not in CHANNELS:
            raise AudienceError("cli_audience_channel", value=value)
        if kind in RESULT_KINDS and value not in stages:
            raise AudienceError("cli_audience_stage", value=value, choices=", ".join(stages))
        if kind in ("all", "incomplete", "complete") and value:
            raise AudienceError("cli_audience_no_value", kind=kind)
        return cls(kind, value or None)

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "value": self.value}

    def describe(self) -> str:
        """As written on the command line."""
        return f"{self.kind}:{self.value}" if self.value else self.kind


async def published_stages(session: AsyncSession, config: RecruitmentConfig) -> list[str]:
    """The stages, in order, whose results are published: the only ones an audience by result
    (`passed:1`, `not_passed:final`) may name."""
    published = await Publications(session).all()
    return [stage for stage in stage_keys(config) if stage in published]


async def count_recipients(session: AsyncSession, audience: Audience) -> int:
    """How many chats a broadcast to `audience` reaches."""
    return await Audiences(session).count(audience.kind, audience.value)


def personalise(text: str, name: str | None, number: str | None) -> str:
    """Fill {nama} and {nomor}; other braces are left as typed."""
    return text.replace("{nama}", name or "Bapak/Ibu").replace("{nomor}", number or "-")


async def preview_message(session: AsyncSession, audience: Audience, text: str) -> str:
    """The message as the first recipient of `audience` will read it (a real one, not an
    example: {nama} and {nomor} filled as for them; as for a nameless one when nobody is in it)."""
    first = await Audiences(session).first(audience.kind, audience.value)
    name, number = (first.name, first.registration_number) if first else (None, None)
    return personalise(text, name, number)


@dataclass(frozen=True)
class Attachment:
    """A file stored in the file store, sent with every message of a broadcast."""

    path: str
    name: str
    mime_type: str


async def create_broadcast(
    session: AsyncSession,
    *,
    text: str,
    audience: Audience,
    created_by: str,
    now: datetime,
    quiet_hours: QuietHours,
    attachment: Attachment | None = None,
    urgent: bool = False,
) -> Broadcast:
    """Record the broadcast, queue one personalised message per recipient, log who sent it."""
    broadcast = Broadcast(
        created_at=now,
        created_by=created_by,
        text=text,
        audience=audience.as_dict(),
        urgent=urgent,
        state="queued",
        total=0,
        file_path=attachment.path if attachment else None,
        file_name=attachment.name if attachment else None,
        file_mime_type=attachment.mime_type if attachment else None,
    )
    await Broadcasts(session).add(broadcast)
    not_before = now if urgent else quiet_hours.next_allowed(now)
    rows = [
        {
            "dedup_key": f"broadcast:{broadcast.id}:applicant:{applicant_id}:{channel}",
            "broadcast_id": broadcast.id,
            "applicant_id": applicant_id,
            "channel": channel,
            "recipient": recipient,
            "text": personalise(text, name, number),
            "file_path": broadcast.file_path,
            "file_name": broadcast.file_name,
            "file_mime_type": broadcast.file_mime_type,
            "urgent": urgent,
            "state": "queued",
            "attempts": 0,
            "not_before": not_before,
            "created_at": now,
        }
        for applicant_id, channel, recipient, name, number in await Audiences(session).members(
            audience.kind, audience.value
        )
    ]
    await Outbox(session).enqueue(rows)
    broadcast.total = len(rows)
    if not rows:
        broadcast.state, broadcast.finished_at = "done", now
    await Audit(session).record(
        created_by,
        "broadcast_created",
        now,
        detail={
            "broadcast": broadcast.id,
            "audience": broadcast.audience,
            "recipients": broadcast.total,
        },
    )
    return broadcast


async def schedule_broadcast(
    session: AsyncSession,
    *,
    text: str,
    audience: Audience,
    send_at: datetime,
    created_by: str,
    now: datetime,
) -> ScheduledBroadcast:
    """Keep a broadcast for `send_at`; its recipients are whoever is in `audience` then."""
    scheduled = ScheduledBroadcast(
        created_at=now,
        created_by=created_by,
        send_at=send_at,
        text=text,
        audience=audience.as_dict(),
        state="waiting",
    )
    await ScheduledBroadcasts(session).add(scheduled)
    await Audit(session).record(
        created_by,
        "broadcast_scheduled",
        now,
        detail={"scheduled": scheduled.id, "send_at": send_at.isoformat(), **audience.as_dict()},
    )
    return scheduled


async def cancel_scheduled_broadcast(
    session: AsyncSession, scheduled_id: int, actor: str, now: datetime
) -> bool:
    """Call off a scheduled broadcast that has not gone out (audited); False when it is no
    longer waiting (sent, cancelled, or no such one)."""
    if not await ScheduledBroadcasts(session).cancel(scheduled_id):
        return False
    await Audit(session).record(
        actor, "broadcast_schedule_cancelled", now, detail={"scheduled": scheduled_id}
    )
    return True


async def send_due_broadcasts(
    session: AsyncSession, now: datetime, quiet_hours: QuietHours
) -> list[Broadcast]:
    """Queue every scheduled broadcast whose moment has come (each once, whoever runs this)."""
    scheduled_broadcasts = ScheduledBroadcasts(session)
    sent = []
    for scheduled_id in await scheduled_broadcasts.due_ids(now):
        scheduled = await scheduled_broadcasts.take(scheduled_id)
        if scheduled is None:
            continue  # another process took it
        audience = Audience(scheduled.audience["kind"], scheduled.audience.get("value"))
        broadcast = await create_broadcast(
            session,
            text=scheduled.text,
            audience=audience,
            created_by=scheduled.created_by,
            now=now,
            quiet_hours=quiet_hours,
        )
        scheduled.broadcast_id = broadcast.id
        sent.append(broadcast)
    return sent


STAFF_LANGUAGE = "id"
"""What staff read of a broadcast's progress (the office's language)."""


FINISHED_STATES = ("sent", "failed", "unreachable", "cancelled")


@dataclass(frozen=True)
class BroadcastProgress:
    """Where a broadcast's messages are: how many sent, failed, unreachable, cancelled and
    still waiting (queued or sending), of `total`."""

    broadcast_id: int
    state: str
    """queued (rows waiting or sending), done, cancelled."""
    total: int
    sent: int
    failed: int
    unreachable: int
    cancelled: int
    waiting: int

    @property
    def finished(self) -> int:
        """Messages whose outcome is known."""
        return self.sent + self.failed + self.unreachable + self.cancelled

    @property
    def share(self) -> float:
        """The finished part, 0 to 1 (1 for a broadcast to nobody)."""
        return self.finished / self.total if self.total else 1.0


def progress_of(broadcast: Broadcast, counts: dict[str, int]) -> BroadcastProgress:
    """A broadcast's progress from the outbox counts per state."""
    return BroadcastProgress(
        broadcast.id,
        broadcast.state,
        broadcast.total,
        sent=counts.get("sent", 0),
        failed=counts.get("failed", 0),
        unreachable=counts.get("unreachable", 0),
        cancelled=counts.get("cancelled", 0),
        waiting=counts.get("queued", 0) + counts.get("sending", 0),
    )


async def broadcast_progress(session: AsyncSession, broadcast_id: int) -> BroadcastProgress | None:
    """The progress of one broadcast now; None if there is no such broadcast."""
    broadcast = await Broadcasts(session).get(broadcast_id)
    if broadcast is None:
        return None
    return progress_of(broadcast, await Outbox(session).progress(broadcast_id))


def progress_text(catalog: Catalog, broadcast: Broadcast, counts: dict[str, int]) -> str:
    """'Siaran #3: 120 dari 300 terkirim …' from the outbox counts."""
    progress = progress_of(broadcast, counts)
    width = 20
    filled = round(width * progress.share)
    return catalog.text(
        STAFF_LANGUAGE,
        "broadcast_progress",
        id=broadcast.id,
        bar="█" * filled + "░" * (width - filled),
        sent=progress.sent,
        total=broadcast.total,
        failed=progress.failed,
        unreachable=progress.unreachable,
        waiting=progress.waiting,
        state=catalog.text(STAFF_LANGUAGE, f"broadcast_state_{broadcast.state}"),
    )


def failures_csv(rows: list[tuple[str, str, str, str | None]]) -> bytes:
    """The failures of a broadcast as CSV (channel, recipient, state, error), made inert."""
    return csv_bytes(["channel", "recipient", "state", "error"], rows)


async def broadcast_failures(outbox: Outbox, broadcast_id: int) -> bytes | None:
    """The failures of a broadcast as CSV bytes (channel, recipient, state, error), made
    inert; None when none failed."""
    failures = await outbox.failures(broadcast_id)
    if not failures:
        return None
    return failures_csv([(m.channel, m.recipient, m.state, m.last_error) for m in failures])


async def download_failures(
    session: AsyncSession, broadcast_id: int, actor: str, now: datetime
) -> bytes | None:
    """The failures CSV of a broadcast for a person to download, audited (who took the list of
    recipients it failed to reach); None when none failed."""
    content = await broadcast_failures(Outbox(session), broadcast_id)
    if content is not None:
        await Audit(session).record(
            actor, "broadcast_failures_downloaded", now, detail={"broadcast": broadcast_id}
        )
    return content


def failures_file_name(broadcast_id: int) -> str:
    """`siaran-3-gagal.csv`."""
    return f"siaran-{broadcast_id}-gagal.csv"


async def store_failures(
    outbox: Outbox, files: FileStore, broadcast_id: int
) -> tuple[str, str, str] | None:
    """The failures of a broadcast as a stored CSV: (path, file name, MIME type), or None
    when none failed."""
    content = await broadcast_failures(outbox, broadcast_id)
    if content is None:
        return None
    path, _ = files.put(content, "csv")
    return path, failures_file_name(broadcast_id), "text/csv"


async def cancel_broadcast(
    session: AsyncSession, broadcast_id: int, actor: str, now: datetime
) -> int:
    """Stop what of a broadcast is not yet sent (audited); how many messages were stopped."""
    stopped = await Outbox(session).cancel_broadcast(broadcast_id, now)
    await Audit(session).record(
        actor, "broadcast_cancelled", now, detail={"broadcast": broadcast_id, "stopped": stopped}
    )
    return stopped


def audience_label(
    config: RecruitmentConfig, catalog: Catalog, language: str, audience: Audience
) -> str:
    """An audience as staff read it: `Semua pendaftar`, `Lulus Tahap 1 …`, `Kecamatan 35.28.01`."""
    if audience.kind in RESULT_KINDS and audience.value:
        label = stage_label(config, catalog, language, audience.value)
        return catalog.text(language, f"bc_audience_{audience.kind}", stage=label)
    label = catalog.text(language, f"bc_audience_{audience.kind}")
    return f"{label} {audience.value}" if audience.value else label


async def refresh_failure_reports(session: AsyncSession, files: FileStore) -> list[str]:
    """Write every stored failures CSV again from the outbox as it is now (after a person's
    messages were erased); the stored paths no longer used, to delete after the commit."""
    outbox = Outbox(session)
    replaced = []
    for report in await outbox.failure_reports():
        stored = await store_failures(outbox, files, reported_broadcast(report.dedup_key))
        path, name, mime = stored or (None, None, None)
        if path != report.file_path:
            replaced.append(report.file_path)
            report.file_path, report.file_name, report.file_mime_type = path, name, mime
    await session.flush()
    return [path for path in replaced if path]
