"""What staff see of a broadcast while it goes out: a live progress message and a final report."""

from __future__ import annotations

import logging

from core.catalog import Catalog
from core.clock import Clock
from core.types import Channel
from scheduler.delivery import Sender
from services.broadcasts import STAFF_LANGUAGE, progress_text, store_failures
from storage.broadcasts import Broadcasts
from storage.chat_sessions import ChatSessions
from storage.db import Database
from storage.files import FileStore
from storage.models import Broadcast
from storage.outbox import Outbox, report_key

log = logging.getLogger(__name__)

CHANNELS = frozenset(channel.value for channel in Channel)


class BroadcastProgress:
    """Edits each broadcast's progress message (at most every `every` seconds) and, when the
    last message is settled, marks the broadcast done and queues the report to its author."""

    def __init__(
        self,
        db: Database,
        senders: dict[str, Sender],
        catalog: Catalog,
        clock: Clock,
        files: FileStore,
        every: float = 3.0,
    ) -> None:
        self.db = db
        self.senders = senders
        self.catalog = catalog
        self.clock = clock
        self.files = files
        self.every = every
        self._last_edit: dict[int, float] = {}

    async def update(self, broadcast_ids: set[int]) -> None:
        for broadcast_id in broadcast_ids:
            try:
                await self._update(broadcast_id)
            except Exception:
                log.exception("progress of broadcast %s could not be updated", broadcast_id)

    async def _update(self, broadcast_id: int) -> None:
        now = self.clock.now()
        async with self.db.transaction() as session:
            broadcast = await Broadcasts(session).get(broadcast_id)
            if broadcast is None:
                return
            outbox = Outbox(session)
            counts = await outbox.progress(broadcast_id)
            finished = broadcast.state == "queued" and not (
                counts.get("queued", 0) or counts.get("sending", 0)
            )
            if finished:
                broadcast.state, broadcast.finished_at = "done", now
                await self._queue_report(outbox, broadcast, counts, now)
            text = progress_text(self.catalog, broadcast, counts)
            target = (
                broadcast.progress_channel,
                broadcast.progress_chat,
                broadcast.progress_message_id,
            )
        due = self.clock.monotonic() - self._last_edit.get(broadcast_id, 0.0) >= self.every
        channel, chat, message_id = target
        if channel and chat and message_id and (due or finished) and channel in self.senders:
            self._last_edit[broadcast_id] = self.clock.monotonic()
            await self.senders[channel].edit(chat, message_id, text)

    async def _queue_report(
        self, outbox: Outbox, broadcast: Broadcast, counts: dict[str, int], now: object
    ) -> None:
        channel, _, chat = broadcast.created_by.partition(":")
        if channel not in CHANNELS or not chat:
            return  # created from the command line: `mitrabot broadcast status` shows it
        # Queued even when this worker has no sender for the author's channel (a terminal
        # session may deliver a broadcast's last message): that channel's worker sends it.
        chat = await ChatSessions(outbox.session).address_of(channel, chat)
        stored = await store_failures(outbox, self.files, broadcast.id)
        path, name, mime = stored or (None, None, None)
        text = self.catalog.text(
            STAFF_LANGUAGE,
            "broadcast_report",
            id=broadcast.id,
            sent=counts.get("sent", 0),
            total=broadcast.total,
            failed=counts.get("failed", 0),
            unreachable=counts.get("unreachable", 0),
            cancelled=counts.get("cancelled", 0),
        )
        await outbox.enqueue(
            [
                {
                    "dedup_key": report_key(broadcast.id),
                    "channel": channel,
                    "recipient": chat,
                    "text": text,
                    "file_path": path,
                    "file_name": name,
                    "file_mime_type": mime,
                    "urgent": True,
                    "state": "queued",
                    "attempts": 0,
                    "not_before": now,
                    "created_at": now,
                }
            ]
        )
