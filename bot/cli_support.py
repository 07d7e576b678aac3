"""What every `mitrabot` command shares: the app for one command, who runs it, typed times."""

from __future__ import annotations

import argparse
import getpass
from collections.abc import Awaitable, Callable
from datetime import datetime

from bot.app import App, build_app
from bot.settings import Settings


def local_time(text: str) -> datetime:
    """An argparse type: a local date-time like 2023-11-10T09:00."""
    try:
        return datetime.fromisoformat(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(
            f"not a date-time like 2023-11-10T09:00: {text}"
        ) from error


def operator() -> str:
    """Who runs a command line, for the audit log."""
    return f"cli:{getpass.getuser()}"


async def with_app(settings: Settings, work: Callable[[App], Awaitable[int]]) -> int:
    """Build the app, run `work` with it, and close it whatever happens."""
    app = await build_app(settings)
    try:
        return await work(app)
    finally:
        await app.close()
