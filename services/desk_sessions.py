"""Signing in to the staff desk: throttling, sessions (server-side, shared by every process,
stored by the hash of their token), their expiry, and views kept server-side."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.desk_accounts import DeskAccount, actor, password_matches
from storage.db import Database
from storage.desk import DeskSessions, DeskViews, LoginThrottles, StaffAccounts
from storage.models import StaffAccount
from storage.repositories import Audit


@dataclass(frozen=True)
class SessionPolicy:
    """How long a desk session lasts: `idle` without a request, `max_age` at most."""

    idle: timedelta = timedelta(hours=8)
    max_age: timedelta = timedelta(days=7)


@dataclass(frozen=True)
class ThrottlePolicy:
    """Failed sign-ins allowed within `window` per login name and per client address; the
    last one allowed locks that name (or address) for `window` from then."""

    per_login: int = 5
    per_address: int = 20
    window: timedelta = timedelta(minutes=15)


@dataclass(frozen=True)
class SignedIn:
    """A live desk session: its account, the hash of its token and its CSRF token."""

    account: DeskAccount
    token_hash: str
    csrf_token: str


@dataclass(frozen=True)
class Started:
    """Signed in: the token for the cookie (never stored) and the session."""

    token: str
    signed_in: SignedIn


@dataclass(frozen=True)
class Refused:
    """Wrong login name or password (which one is not said), or a disabled account."""


@dataclass(frozen=True)
class Throttled:
    """Too many failures: sign-in is refused until `until`, whatever is typed."""

    until: datetime


def token_hash(token: str) -> str:
    """What is stored of a session token: its SHA-256."""
    return hashlib.sha256(token.encode()).hexdigest()


def _keys(login: str, address: str) -> tuple[str, str]:
    """The throttle keys of a login name and a client address (hashed: a mistyped password
    in the name field is not kept)."""
    return token_hash(f"login:{login.strip().lower()}"), token_hash(f"address:{address}")


async def sign_in(
    db: Database,
    login: str,
    password: str,
    address: str,
    now: datetime,
    policy: SessionPolicy,
    throttle: ThrottlePolicy,
) -> Started | Refused | Throttled:
    """Check a sign-in and start a session when it is right (audited either way). The password
    is checked outside any transaction (argon2 takes a while on purpose)."""
    login_key, address_key = _keys(login, address)
    async with db.transaction() as session:
        until = await LoginThrottles(session).locked_until([login_key, address_key], now)
        if until is not None:
            return Throttled(until)
        account = await StaffAccounts(session).by_login(login.strip().lower())
    right = await password_matches(account, password)
    async with db.transaction() as session:
        if right and account is not None and account.disabled_at is None:
            await LoginThrottles(session).clear(login_key)
            started = await _start(session, account, now, policy)
            await Audit(session).record(actor(account.login), "desk_signed_in", now)
            return started
        known = account.login if account is not None else None
        return await _failed(session, (login_key, address_key), known, now, throttle)


async def _failed(
    session: AsyncSession,
    keys: tuple[str, str],
    login: str | None,
    now: datetime,
    rule: ThrottlePolicy,
) -> Refused | Throttled:
    """Count a failed sign-in against its login name and address (audited, naming the
    account when the name is one)."""
    throttles = LoginThrottles(session)
    since, until = now - rule.window, now + rule.window
    await throttles.forget_old(since, now)
    by_login = await throttles.fail(keys[0], now, since, rule.per_login, until)
    by_address = await throttles.fail(keys[1], now, since, rule.per_address, until)
    detail = {"login": login} if login is not None else {}
    await Audit(session).record("desk", "desk_sign_in_refused", now, detail=detail)
    if by_login >= rule.per_login or by_address >= rule.per_address:
        return Throttled(until)
    return Refused()


async def _start(
    session: AsyncSession, account: StaffAccount, now: datetime, policy: SessionPolicy
) -> Started:
    sessions = DeskSessions(session)
    await sessions.end_expired(now - policy.idle, now)
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    hashed = token_hash(token)
    await sessions.add(hashed, account.id, csrf, now, now + policy.max_age)
    return Started(token, SignedIn(DeskAccount.of(account), hashed, csrf))


async def signed_in(
    session: AsyncSession, token: str, now: datetime, policy: SessionPolicy
) -> SignedIn | None:
    """The live session of a cookie's token, its idle time restarted; None when there is none,
    it expired (idle or too old; then it is ended) or its account was disabled."""
    sessions = DeskSessions(session)
    hashed = token_hash(token)
    found = await sessions.with_account(hashed)
    if found is None:
        return None
    desk_session, account = found
    expired = desk_session.expires_at <= now or desk_session.last_seen_at <= now - policy.idle
    if expired or account.disabled_at is not None:
        await sessions.end(hashed)
        return None
    await sessions.touch(hashed, now)
    return SignedIn(DeskAccount.of(account), hashed, desk_session.csrf_token)


async def sign_out(session: AsyncSession, signed: SignedIn, now: datetime) -> None:
    """End a session (audited): its cookie no longer signs anybody in."""
    await DeskSessions(session).end(signed.token_hash)
    await Audit(session).record(actor(signed.account.login), "desk_signed_out", now)


async def remember_view(
    session: AsyncSession, signed: SignedIn, page: str, filters: dict[str, Any], now: datetime
) -> str:
    """Keep a page's filters (which may hold a NIK, a phone number, an e-mail) server-side for
    this session; the opaque id to put in the page's URL instead of them."""
    view_id = secrets.token_urlsafe(16)
    await DeskViews(session).add(view_id, signed.token_hash, page, filters, now)
    return view_id


async def recall_view(
    session: AsyncSession, signed: SignedIn, page: str, view_id: str
) -> dict[str, Any] | None:
    """The filters `remember_view` kept under `view_id` for this session and page, if any."""
    return await DeskViews(session).filters(view_id, signed.token_hash, page)
