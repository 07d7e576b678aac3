"""The conversation in a terminal: buttons become numbered choices. For trying the bot out.

The terminal is a channel like the others: its replies, and what the bot sends on its own (stage
results, broadcasts, reminders, staff answers), are queued in the outbox for `terminal` and the
user id.
A `mitrabot chat` session delivers those messages to its own screen, marks them sent, and shows
each one when it arrives; what was queued while no session ran is shown when the next session
of that user starts.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

from bot.app import App
from core.types import (
    Button,
    Channel,
    FileKind,
    FileTooLarge,
    FileUnavailable,
    Incoming,
    IncomingFile,
)
from scheduler.delivery import Outgoing

SEND_FILE = ("/kirim ", "/send ")
QUIT = ("/keluar", "/quit")
PROMPT = "> "


class LocalFiles:
    """Files 'sent' from the terminal are paths on this machine."""

    async def fetch(self, file: IncomingFile, max_bytes: int) -> bytes:
        """The bytes of the named file (refused past `max_bytes`)."""
        return await asyncio.to_thread(_read_limited, file.file_id, max_bytes)


def _read_limited(name: str, max_bytes: int) -> bytes:
    path = Path(name).expanduser()
    try:
        if path.stat().st_size > max_bytes:
            raise FileTooLarge(name)
        return path.read_bytes()
    except OSError as error:
        raise FileUnavailable(name) from error


def _stdout(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


class Screen:
    """What one session shows. Every button shown since the user last wrote gets its own number
    (`[1]`, `[2]`, … continued across messages), so two groups never share a number."""

    def __init__(self, write: Callable[[str], None]) -> None:
        self.write = write
        self.choices: list[Button] = []
        """The buttons a typed number picks from, in the order of their numbers."""
        self.prompting = False
        """True while the user is being asked for a line (a message arriving then is shown
        above a fresh prompt)."""

    def new_turn(self) -> None:
        """The user wrote: the buttons shown from now on are numbered from 1 again."""
        self.choices = []

    def arrived(self, message: Outgoing) -> None:
        """A message the bot sent on its own; a file is named with its size."""
        extra = []
        if message.file is not None:
            size = max(1, round(len(message.file) / 1024))
            extra.append(f"  📎 {message.file_name or '-'} ({size} KB)")
        self._print(self._block(message.text, extra, message.buttons))

    def _block(self, text: str, extra: list[str], buttons: Sequence[Button]) -> str:
        first = len(self.choices) + 1
        self.choices.extend(buttons)
        numbered = [f"  [{n}] {button.label}" for n, button in enumerate(buttons, first)]
        return "\n".join([text, *extra, *numbered])

    def _print(self, text: str) -> None:
        self.write(f"\n{text}\n\n{PROMPT}" if self.prompting else f"{text}\n\n")


class TerminalSender:
    """The delivery worker's sender for the terminal channel: shows the message on the screen of
    the session (whose worker claims only that session's user's messages)."""

    def __init__(self, screen: Screen) -> None:
        self.screen = screen

    async def send(self, message: Outgoing) -> str | None:
        """Show the message; returns an id for the outbox row."""
        self.screen.arrived(message)
        return uuid.uuid4().hex

    async def edit(self, recipient: str, message_id: str, text: str) -> None:
        """A terminal cannot change what it printed: show the new text below."""
        self.screen.arrived(Outgoing(recipient, text))


def to_incoming(line: str, user_id: str, shown: list[Button]) -> Incoming:
    """A typed line: a number picks a button last shown, `/kirim PATH` sends a file, else text."""
    stripped = line.strip()
    if stripped.isdigit() and 1 <= int(stripped) <= len(shown):
        choice = shown[int(stripped) - 1].id
        return Incoming(channel=Channel.TERMINAL, user_id=user_id, choice=choice)
    if stripped.startswith(SEND_FILE):
        path = stripped.split(" ", 1)[1].strip()
        file = IncomingFile(kind=FileKind.DOCUMENT, file_id=path, file_name=Path(path).name)
        return Incoming(channel=Channel.TERMINAL, user_id=user_id, file=file)
    return Incoming(channel=Channel.TERMINAL, user_id=user_id, text=line)


async def chat(
    app: App,
    user_id: str,
    read_line: Callable[[str], str] = input,
    write: Callable[[str], None] = _stdout,
) -> None:
    """Talk until end of input (Ctrl-D) or `/keluar`; `/kirim PATH` sends a file.

    First the messages that waited for this user, then the conversation; messages the bot sends
    on its own during the session appear as they arrive.
    """
    loop = asyncio.get_running_loop()
    conversation = app.conversation
    files = LocalFiles()
    screen = Screen(write)
    senders = {Channel.TERMINAL.value: TerminalSender(screen)}
    worker = app.delivery_worker(senders, recipient=user_id)
    replies = app.turn_delivery(senders)
    while await worker.drain_once():
        pass
    stop = asyncio.Event()
    delivering = asyncio.create_task(worker.run(stop))

    async def say(incoming: Incoming) -> None:
        answered = await conversation.handle(incoming, files, send_as=replies.holder)
        await replies.send(answered.queued)

    try:
        await say(Incoming(channel=Channel.TERMINAL, user_id=user_id, text="/start"))
        while True:
            screen.prompting = True
            try:
                line = await loop.run_in_executor(None, read_line, PROMPT)
            except EOFError:
                return
            finally:
                screen.prompting = False
            if line.strip() in QUIT:
                return
            incoming = to_incoming(line, user_id, screen.choices)
            screen.new_turn()
            await say(incoming)
    finally:
        stop.set()
        await delivering
