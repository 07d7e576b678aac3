"""Staff desk accounts: roles and what each may do, passwords (argon2), adding, changing and
disabling an account. Every desk action checks `require(role, Permission.X)` on the request
that acts, not only when a link is shown."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.desk import DeskSessions, StaffAccounts
from storage.models import StaffAccount
from storage.repositories import Audit

PASSWORD_MIN = 12
"""The shortest password accepted (characters)."""
PASSWORD_MAX = 256
"""The longest (hashing a very long text would only cost time)."""
LOGIN = re.compile(r"[a-z0-9][a-z0-9._-]{1,31}")
"""A login name: 2-32 of a-z, 0-9, '.', '_', '-', starting with a letter or digit."""
DISPLAY_NAME_MAX = 80


class Role(StrEnum):
    ADMIN = "admin"
    REVIEWER = "reviewer"
    VIEWER = "viewer"


ROLES = frozenset(role.value for role in Role)


class Permission(StrEnum):
    """What a desk request may do; `GRANTS` says which role has which."""

    READ = "read"
    """See the desk: home, funnel, the applicant list, results and broadcast progress."""
    EXPORT = "export"
    """Download a list of applicants (XLSX): personal data in bulk."""
    REVIEW_DOCUMENTS = "review_documents"
    """Open an applicant's documents."""
    ASK_RESEND = "ask_resend"
    """Ask an applicant to send a document again."""
    SET_RESULT = "set_result"
    """Set one applicant's result of a stage."""
    ANSWER_INBOX = "answer_inbox"
    """Answer SOBAT reports and applicants' questions."""
    IMPORT_RESULTS = "import_results"
    PUBLISH_RESULTS = "publish_results"
    BROADCAST = "broadcast"
    MANAGE_ACCOUNTS = "manage_accounts"
    REGISTRATION_WINDOW = "registration_window"
    """Close registration early, or lift that."""


_VIEWER = frozenset({Permission.READ})
_REVIEWER = _VIEWER | {
    Permission.EXPORT,
    Permission.REVIEW_DOCUMENTS,
    Permission.ASK_RESEND,
    Permission.SET_RESULT,
    Permission.ANSWER_INBOX,
}
GRANTS: dict[Role, frozenset[Permission]] = {
    Role.VIEWER: _VIEWER,
    Role.REVIEWER: _REVIEWER,
    Role.ADMIN: frozenset(Permission),
}
"""The one table of who may do what."""


class NotPermitted(Exception):
    """A role asked for what it may not do."""

    def __init__(self, role: str, permission: Permission) -> None:
        super().__init__(f"{role} may not {permission}")
        self.role = role
        self.permission = permission


def may(role: str, permission: Permission) -> bool:
    """True when `role` has `permission` (an unknown role has none)."""
    return role in ROLES and permission in GRANTS[Role(role)]


def require(role: str, permission: Permission) -> None:
    """Raise `NotPermitted` unless `role` has `permission`."""
    if not may(role, permission):
        raise NotPermitted(role, permission)


@dataclass(frozen=True)
class DeskAccount:
    """What a page knows of the signed-in account (plain values, usable after its
    transaction)."""

    id: int
    login: str
    display_name: str
    role: str

    @classmethod
    def of(cls, account: StaffAccount) -> DeskAccount:
        """The values of a stored account."""
        return cls(account.id, account.login, account.display_name, account.role)


class AccountError(ValueError):
    """An account change refused; `key` is its catalog text."""

    def __init__(self, key: str, **params: object) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("mitrabot: no such account")
"""Checked against when the login name is unknown, so that answer takes as long as a wrong
password (the time does not tell which login names exist)."""


def actor(login: str) -> str:
    """Who a desk account is in the audit log."""
    return f"desk:{login}"


def login_name(text: str) -> str:
    """A login name as stored (lower case); `AccountError` when it is not one."""
    login = text.strip().lower()
    if not LOGIN.fullmatch(login):
        raise AccountError("desk_login_invalid")
    return login


def _checked_password(password: str) -> str:
    if len(password) < PASSWORD_MIN:
        raise AccountError("desk_password_short", min=PASSWORD_MIN)
    if len(password) > PASSWORD_MAX:
        raise AccountError("desk_password_long", max=PASSWORD_MAX)
    return password


async def hash_password(password: str) -> str:
    """The argon2id hash of a password long enough (`AccountError` otherwise); computed off
    the event loop (it takes tens of milliseconds on purpose)."""
    return await asyncio.to_thread(_hasher.hash, _checked_password(password))


async def password_matches(account: StaffAccount | None, password: str) -> bool:
    """True when `password` is the account's; as slow for no account as for a wrong password."""
    stored = account.password_hash if account is not None else _DUMMY_HASH
    try:
        await asyncio.to_thread(_hasher.verify, stored, password[:PASSWORD_MAX])
    except (VerificationError, InvalidHashError):
        return False
    return account is not None


async def add_account(
    session: AsyncSession,
    login: str,
    display_name: str,
    role: str,
    password: str,
    by: str,
    now: datetime,
) -> StaffAccount:
    """Add a desk account (audited). A login name is never given twice, also not after its
    account was disabled: the audit log names people by it."""
    login = login_name(login)
    display_name = display_name.strip()[:DISPLAY_NAME_MAX] or login
    if role not in ROLES:
        raise AccountError("desk_role_invalid", roles=", ".join(Role))
    password_hash = await hash_password(password)
    account = await StaffAccounts(session).add(login, display_name, password_hash, role, by, now)
    if account is None:
        raise AccountError("desk_login_taken", login=login)
    await Audit(session).record(
        by, "desk_account_added", now, detail={"login": login, "role": role}
    )
    return account


async def _existing(session: AsyncSession, login: str) -> StaffAccount:
    account = await StaffAccounts(session).by_login(login_name(login))
    if account is None:
        raise AccountError("desk_no_account", login=login)
    return account


async def set_password(
    session: AsyncSession, login: str, password: str, by: str, now: datetime
) -> StaffAccount:
    """Give an account a new password and end its sessions (audited)."""
    account = await _existing(session, login)
    if account.disabled_at is not None:
        raise AccountError("desk_account_disabled", login=account.login)
    await StaffAccounts(session).set_password(account.id, await hash_password(password), now)
    ended = await DeskSessions(session).end_for_account(account.id)
    await Audit(session).record(
        by, "desk_password_set", now, detail={"login": account.login, "sessions_ended": ended}
    )
    return account


async def disable_account(session: AsyncSession, login: str, by: str, now: datetime) -> bool:
    """Disable an account and end its sessions (audited); False when it was disabled already."""
    account = await _existing(session, login)
    if not await StaffAccounts(session).disable(account.id, now):
        return False
    ended = await DeskSessions(session).end_for_account(account.id)
    await Audit(session).record(
        by, "desk_account_disabled", now, detail={"login": account.login, "sessions_ended": ended}
    )
    return True
