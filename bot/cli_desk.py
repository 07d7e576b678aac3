"""`mitrabot staff … --web`: staff accounts for the web desk (add, passwd, remove, list)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import sys
from collections.abc import Iterator

from sqlalchemy.ext.asyncio import AsyncSession

from bot.app import App
from bot.cli_support import app_command, fail, operator, say, text, wib
from services.desk_accounts import (
    AccountError,
    Role,
    add_account,
    disable_account,
    set_password,
)
from storage.desk import StaffAccounts


def add_web_options(add: argparse.ArgumentParser, remove: argparse.ArgumentParser) -> None:
    """The `--web` options of `staff add` and `staff remove` (a desk account, not a chat)."""
    add.add_argument("--web", action="store_true", help="a web desk account named NAME")
    add.add_argument("--role", choices=[role.value for role in Role], default=Role.VIEWER.value)
    add.add_argument("--display-name", help="the name shown on the desk (default: NAME)")
    _password_option(add)
    remove.add_argument("--web", action="store_true", help="disable the web desk account NAME")


def add_passwd_command(staff: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """`staff passwd NAME`: a new password for a desk account."""
    passwd = staff.add_parser("passwd", help="set a new password for a web desk account")
    passwd.add_argument("login")
    _password_option(passwd)
    passwd.set_defaults(action=app_command(_passwd))


def _password_option(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )


@contextlib.contextmanager
def _refused_in_indonesian() -> Iterator[None]:
    """An account change the rules refuse ends the command with the catalog's text."""
    try:
        yield
    except AccountError as error:
        raise fail(error.key, **error.params) from error


def _password(args: argparse.Namespace) -> str:
    """The password from standard input (one line), or typed twice without being shown."""
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass(text("cli_desk_password"))
    if getpass.getpass(text("cli_desk_password_again")) != first:
        raise fail("cli_desk_passwords_differ")
    return first


async def add_web_account(app: App, args: argparse.Namespace) -> int:
    """`staff add NAME --web`: asks the password before the transaction (nothing waits on it)."""
    password = await asyncio.to_thread(_password, args)
    now = app.conversation.deps.clock.now()
    with _refused_in_indonesian():
        async with app.db.transaction() as session:
            account = await add_account(
                session,
                args.identity,
                args.display_name or args.identity,
                args.role,
                password,
                operator(),
                now,
            )
    say("cli_desk_added", login=account.login, role=account.role)
    return 0


async def _passwd(app: App, args: argparse.Namespace) -> int:
    password = await asyncio.to_thread(_password, args)
    now = app.conversation.deps.clock.now()
    with _refused_in_indonesian():
        async with app.db.transaction() as session:
            account = await set_password(session, args.login, password, operator(), now)
    say("cli_desk_password_set", login=account.login)
    return 0


async def remove_web_account(app: App, args: argparse.Namespace) -> int:
    """`staff remove NAME --web`: disables the account and ends its sessions."""
    now = app.conversation.deps.clock.now()
    with _refused_in_indonesian():
        async with app.db.transaction() as session:
            disabled = await disable_account(session, args.identity, operator(), now)
    say("cli_desk_disabled" if disabled else "cli_desk_already_disabled", login=args.identity)
    return 0 if disabled else 1


async def web_account_lines(app: App, session: AsyncSession) -> list[str]:
    """`staff list`: one line per desk account, with its role and whether it is disabled."""
    return [
        text(
            "cli_desk_line" if account.disabled_at is None else "cli_desk_line_disabled",
            login=account.login,
            name=account.display_name,
            role=account.role,
            by=account.created_by,
            when=wib(app.config, account.created_at),
        )
        for account in await StaffAccounts(session).all()
    ]
