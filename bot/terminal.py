"""The conversation in a terminal: buttons become numbered choices. For trying the bot out."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from handlers.conversation import Conversation
from handlers.types import Button, Channel, Incoming, Reply


def render(replies: list[Reply]) -> str:
    """Replies as terminal text, each button as `[n] label`."""
    blocks = []
    for reply in replies:
        lines = [reply.text]
        lines += [f"  [{n}] {button.label}" for n, button in enumerate(reply.buttons, 1)]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def to_incoming(line: str, user_id: str, shown: list[Button]) -> Incoming:
    """A typed line: a number picks one of the buttons last shown, anything else is text."""
    stripped = line.strip()
    if stripped.isdigit() and 1 <= int(stripped) <= len(shown):
        return Incoming(
            channel=Channel.TERMINAL, user_id=user_id, choice=shown[int(stripped) - 1].id
        )
    return Incoming(channel=Channel.TERMINAL, user_id=user_id, text=line)


async def chat(
    conversation: Conversation,
    user_id: str,
    read_line: Callable[[str], str] = input,
    write: Callable[[str], None] = print,
) -> None:
    """Talk until end of input (Ctrl-D) or `/keluar`."""
    loop = asyncio.get_running_loop()
    shown: list[Button] = []
    replies = await conversation.handle(
        Incoming(channel=Channel.TERMINAL, user_id=user_id, text="/start")
    )
    while True:
        write(render(replies))
        shown = next((r.buttons for r in reversed(replies) if r.buttons), shown)
        try:
            line = await loop.run_in_executor(None, read_line, "\n> ")
        except EOFError:
            return
        if line.strip() in ("/keluar", "/quit"):
            return
        replies = await conversation.handle(to_incoming(line, user_id, shown))
