"""Memory per chat: the real conversation for many distinct chats, RSS printed as it goes.

Run from the repository root (figures: bench/README.md)::

    python bench/memory.py                  # 100,000 chats, RSS at each 10,000
    python bench/memory.py --chats 20000 --every 2000 --trace
    python bench/memory.py --path telegram   # through `mitrabot run`'s intake instead

Each chat is a new Telegram user who sends `/start`, presses the first button the bot offered,
and writes one line of text: three turns of `Conversation.handle` with the pydantic `Incoming`
type, written to the outbox in the turn's transaction and sent at once by a `TurnDelivery`
(to a sender that drops the message), as `mitrabot run` does. SQLite in a temporary folder;
`--concurrency` chats talk at once. The figure that matters is the growth per chat after the
first thousand: a process that keeps something per chat grows without end.

`--path telegram` goes the way `mitrabot run` does instead: each turn is a Telegram update (a
private text message: `/start`, then two lines) accepted by the durable intake in batches of 100
(stored, then handled in the background as after a `getUpdates`) and read by python-telegram-bot
(`Update.de_json`) in `bot.telegram.handle_update`; nothing is fetched from a network.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.intake import BackgroundWork  # noqa: E402
from bot.telegram import build_application, telegram_intake  # noqa: E402
from core.catalog import Catalog  # noqa: E402
from core.clock import FrozenClock  # noqa: E402
from core.recruitment import load_recruitment  # noqa: E402
from core.types import Channel, Incoming  # noqa: E402
from handlers.conversation import Conversation  # noqa: E402
from handlers.flow import Dependencies  # noqa: E402
from scheduler.delivery import Outgoing, TurnDelivery  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.files import FileStore  # noqa: E402
from tests.conftest import OPEN_DAY  # noqa: E402

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_mb() -> float:
    """This process's resident set size, in MB."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE / 1e6


class DroppingSender:
    """A platform that accepts every message at once."""

    async def send(self, message: Outgoing) -> str | None:
        """Accept the message."""
        return uuid.uuid4().hex

    async def edit(self, recipient: str, message_id: str, text: str) -> None:
        """Accept the edit."""


async def one_chat(conversation: Conversation, replies: TurnDelivery, user: str) -> None:
    """`/start`, the first button offered, one line of text."""

    async def say(**what: str) -> list[str]:
        incoming = Incoming(channel=Channel.TELEGRAM, user_id=user, **what)
        answered = await conversation.handle(incoming, send_as=replies.holder)
        await replies.send(answered.queued)
        return [button.id for reply in answered.replies for button in reply.buttons]

    buttons = await say(text="/start")
    if buttons:
        await say(choice=buttons[0])
    await say(text="halo, kapan pendaftaran ditutup?")


def update(update_id: int, user: int, text: str) -> dict[str, object]:
    """A Telegram update: a private text message from `user`."""
    person = {"id": user, "is_bot": False, "first_name": "Pelamar", "language_code": "id"}
    message: dict[str, object] = {
        "message_id": update_id,
        "date": 1699581600,
        "chat": {"id": user, "type": "private", "first_name": "Pelamar"},
        "from": person,
        "text": text,
    }
    if text.startswith("/"):
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text)}]
    return {"update_id": update_id, "message": message}


TELEGRAM_TURNS = ("/start", "halo", "kapan pendaftaran ditutup?")


def telegram_block(
    conversation: Conversation, replies: TurnDelivery, concurrency: int
) -> Callable[[range], Awaitable[None]]:
    """What talks to a block of chats through `mitrabot run`'s intake."""
    application = build_application(
        conversation,
        "123:BENCH",
        "http://127.0.0.1:9/bot",
        "http://127.0.0.1:9/file/bot",
        concurrency,
        replies.lease,
    )
    application.bot_data["replies"] = replies
    intake = telegram_intake(application, BackgroundWork())
    serial = iter(range(1, 10**9))

    async def block(users: range) -> None:
        for text in TELEGRAM_TURNS:
            for first in range(users.start, users.stop, 100):
                batch = [
                    update(next(serial), 10_000_000 + u, text)
                    for u in users[first - users.start :][:100]
                ]
                await intake.accept_all(
                    [(json.dumps(b).encode(), b, str(b["update_id"])) for b in batch]
                )
            await intake.background.drain()

    return block


async def run(
    chats: int, every: int, concurrency: int, trace: bool, path: str
) -> list[tuple[int, float]]:
    """Talk to `chats` distinct chats; RSS (MB) after each `every`."""
    folder = Path(tempfile.mkdtemp(prefix="mitrabot-memory-"))
    db = Database(f"sqlite+aiosqlite:///{folder / 'bench.db'}")
    await db.upgrade()
    clock = FrozenClock(OPEN_DAY)
    files = FileStore(folder / "documents")
    deps = Dependencies(
        config=load_recruitment(),
        catalog=Catalog.load(),
        clock=clock,
        files=files,
        staff_identities=frozenset(),
    )
    conversation = Conversation(db, deps)
    replies = TurnDelivery(db, {Channel.TELEGRAM.value: DroppingSender()}, clock, files)
    figures: list[tuple[int, float]] = []
    snapshot = None
    started = time.perf_counter()
    queue: asyncio.Queue[int] = asyncio.Queue()
    done = 0

    async def talker() -> None:
        nonlocal done
        while True:
            user = await queue.get()
            await one_chat(conversation, replies, str(10_000_000 + user))
            done += 1
            queue.task_done()

    workers = [asyncio.create_task(talker()) for _ in range(concurrency)]
    telegram = telegram_block(conversation, replies, concurrency) if path == "telegram" else None
    for start in range(0, chats, every):
        users = range(start, min(chats, start + every))
        if telegram is not None:
            await telegram(users)
            done += len(users)
        else:
            for user in users:
                queue.put_nowait(user)
            await queue.join()
        gc.collect()
        figures.append((done, rss_mb()))
        took = time.perf_counter() - started
        print(f"{done:>8} chats  RSS {figures[-1][1]:7.1f} MB  ({took:.0f} s)", flush=True)
        if trace:
            if snapshot is not None:
                top = tracemalloc.take_snapshot().compare_to(snapshot, "lineno")[:5]
                for stat in top:
                    print(f"           {stat}")
            else:
                tracemalloc.start()
            snapshot = tracemalloc.take_snapshot()
    for worker in workers:
        worker.cancel()
    await db.dispose()
    return figures


def main() -> None:
    """Parse the options, run, print the growth per chat after the first `every`."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chats", type=int, default=100_000)
    parser.add_argument("--every", type=int, default=10_000, help="print RSS after each N chats")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--trace", action="store_true", help="tracemalloc's top growth too")
    parser.add_argument("--path", choices=("conversation", "telegram"), default="conversation")
    args = parser.parse_args()
    every = min(args.every, args.chats)
    print(f"start: RSS {rss_mb():.1f} MB")
    figures = asyncio.run(run(args.chats, every, args.concurrency, args.trace, args.path))
    if len(figures) > 1:
        (first, first_rss), (last, last_rss) = figures[0], figures[-1]
        per_chat = (last_rss - first_rss) * 1e6 / (last - first) / 1024
        print(f"growth after the first {first} chats: {per_chat:.2f} KB per chat")


if __name__ == "__main__":
    main()
