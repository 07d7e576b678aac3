"""The conversation in a terminal: buttons become numbered choices. For trying the bot out."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from handlers.conversation import Conversation
from handlers.types import (
    Button,
    Channel,
    FileKind,
    FileTooLarge,
    FileUnavailable,
    Incoming,
    IncomingFile,
    Reply,
)

SEND_FILE = ("/kirim ", "/send ")


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


def render(replies: list[Reply]) -> str:
    """Replies as terminal text, each button as `[n] label`, each file as its path."""
    blocks = []
    for reply in replies:
        lines = [reply.text]
        lines += [f"  📄 {file.file_name}: {file.path}" for file in reply.files]
        lines += [f"  [{n}] {button.label}" for n, button in enumerate(reply.buttons, 1)]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


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
    conversation: Conversation,
    user_id: str,
    read_line: Callable[[str], str] = input,
    write: Callable[[str], None] = print,
) -> None:
    """Talk until end of input (Ctrl-D) or `/keluar`; `/kirim PATH` sends a file."""
    loop = asyncio.get_running_loop()
    files = LocalFiles()
    shown: list[Button] = []
    start = Incoming(channel=Channel.TERMINAL, user_id=user_id, text="/start")
    replies = await conversation.handle(start)
    while True:
        write(render(replies))
        shown = next((r.buttons for r in reversed(replies) if r.buttons), shown)
        try:
            line = await loop.run_in_executor(None, read_line, "\n> ")
        except EOFError:
            return
        if line.strip() in ("/keluar", "/quit"):
            return
        replies = await conversation.handle(to_incoming(line, user_id, shown), files)
