"""What every `mitrabot` command shares: the app for one command, who runs it, typed times."""

from __future__ import annotations

import argparse
import functools
import getpass
from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.app import App, build_app
from bot.settings import Settings
from core.catalog import DEFAULT_LANGUAGE, Catalog
from core.formatting import format_datetime
from core.recruitment import RecruitmentConfig


@functools.cache
def _catalog() -> Catalog:
    return Catalog.load()


def text(key: str, language: str = DEFAULT_LANGUAGE, **params: object) -> str:
    """A staff-facing text from the message catalog (Indonesian, like the staff chat)."""
    return _catalog().text(language, key, **params)


def say(key: str, language: str = DEFAULT_LANGUAGE, **params: object) -> None:
    """Print a catalog text."""
    print(text(key, language, **params))


def fail(key: str, **params: object) -> SystemExit:
    """An error that ends the command, in Indonesian (raise what this returns)."""
    return SystemExit(text(key, **params))


def wib(config: RecruitmentConfig, moment: datetime, language: str = DEFAULT_LANGUAGE) -> str:
    """A stored (UTC) moment as staff read it: '2 Desember 2023, 09.00 WIB'."""
    return format_datetime(moment.astimezone(config.tz), language)


def local_time(value: str) -> datetime:
    """An argparse type: a local date-time like 2023-11-10T09:00."""
    try:
        return datetime.fromisoformat(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(text("cli_bad_time", text=value)) from error


def operator() -> str:
    """Who runs a command line, for the audit log."""
    return f"cli:{getpass.getuser()}"


Action = Callable[[Settings, argparse.Namespace], Awaitable[int]]
"""What argparse runs for a command: settings and arguments in, exit code out."""


async def with_app(
    settings: Settings, work: Callable[[App], Awaitable[int]], *, metered: bool = False
) -> int:
    """Build the app (`metered`: with this process's metrics), run `work` with it, and close it
    whatever happens."""
    app = await build_app(settings, metered=metered)
    try:
        return await work(app)
    finally:
        await app.close()


def app_command(work: Callable[[App, argparse.Namespace], Awaitable[int]]) -> Action:
    """A command that runs `work` with the app built for it (closed whatever happens)."""

    @functools.wraps(work)
    async def action(settings: Settings, args: argparse.Namespace) -> int:
        return await with_app(settings, functools.partial(work, args=args))

    return action


def printed_command(
    work: Callable[[App, AsyncSession, argparse.Namespace], Awaitable[str]],
) -> Action:
    """A command that runs `work` in one transaction, then prints the text it returns (if any)
    once that is committed; exit code 0."""

    @app_command
    @functools.wraps(work)
    async def action(app: App, args: argparse.Namespace) -> int:
        async with app.db.transaction() as session:
            output = await work(app, session, args)
        if output:
            print(output)
        return 0

    return action
