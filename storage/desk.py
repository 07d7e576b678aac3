"""The staff desk's state: web accounts, signed-in sessions, saved views, sign-in throttling."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import case, delete, func, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import insert_for
from storage.models import DeskSession, DeskView, LoginThrottle, StaffAccount


class StaffAccounts:
    """Staff members' desk accounts (disabled, never deleted: the audit log names them)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(
        self,
        login: str,
        display_name: str,
        password_hash: str,
        role: str,
        by: str,
        now: datetime,
    ) -> StaffAccount | None:
        """A new account; None when the login name is taken (also by a disabled account, and
        when another process adds it at this very moment: the unique constraint decides)."""
        added = await self.session.execute(
            insert_for(self.session)(StaffAccount)
            .values(
                login=login,
                display_name=display_name,
                password_hash=password_hash,
                role=role,
                created_at=now,
                created_by=by,
                password_changed_at=now,
            )
            .on_conflict_do_nothing(index_elements=["login"])
            .returning(StaffAccount)
        )
        return added.scalar_one_or_none()

    async def by_login(self, login: str) -> StaffAccount | None:
        """The account with this login name, disabled or not."""
        query = select(StaffAccount).where(StaffAccount.login == login)
        return (await self.session.execute(query)).scalar_one_or_none()

    async def all(self) -> list[StaffAccount]:
        """Every account, by login name."""
        query = select(StaffAccount).order_by(StaffAccount.login)
        return list((await self.session.execute(query)).scalars())

    async def set_password(self, account_id: int, password_hash: str, now: datetime) -> None:
        """Store a new password hash."""
        await self.session.execute(
            update(StaffAccount)
            .where(StaffAccount.id == account_id)
            .values(password_hash=password_hash, password_changed_at=now)
        )

    async def disable(self, account_id: int, now: datetime) -> bool:
        """Disable an account; False when it was disabled already."""
        result = await self.session.execute(
            update(StaffAccount)
            .where(StaffAccount.id == account_id, StaffAccount.disabled_at.is_(None))
            .values(disabled_at=now)
        )
        return bool(result.rowcount)


class DeskSessions:
    """Signed-in desk sessions, by the SHA-256 of their cookie token."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(
        self, token_hash: str, account_id: int, csrf_token: str, now: datetime, expires_at: datetime
    ) -> None:
        """Store a new session."""
        self.session.add(
            DeskSession(
                token_hash=token_hash,
                account_id=account_id,
                csrf_token=csrf_token,
                created_at=now,
                expires_at=expires_at,
                last_seen_at=now,
            )
        )
        await self.session.flush()

    async def with_account(self, token_hash: str) -> tuple[DeskSession, StaffAccount] | None:
        """The session with this token hash and its account."""
        query = (
            select(DeskSession, StaffAccount)
            .join(StaffAccount, StaffAccount.id == DeskSession.account_id)
            .where(DeskSession.token_hash == token_hash)
        )
        row = (await self.session.execute(query)).first()
        return (row[0], row[1]) if row is not None else None

    async def touch(self, token_hash: str, now: datetime) -> None:
        """Note a request of this session now (its idle time starts again)."""
        await self.session.execute(
            update(DeskSession).where(DeskSession.token_hash == token_hash).values(last_seen_at=now)
        )

    async def end(self, token_hash: str) -> bool:
        """End one session (and its saved views); False when there was none."""
        result = await self.session.execute(
            delete(DeskSession).where(DeskSession.token_hash == token_hash)
        )
        return bool(result.rowcount)

    async def end_for_account(self, account_id: int) -> int:
        """End every session of an account; how many there were."""
        result = await self.session.execute(
            delete(DeskSession).where(DeskSession.account_id == account_id)
        )
        return result.rowcount

    async def end_expired(self, idle_since: datetime, now: datetime) -> int:
        """End the sessions past their maximum age or idle since before `idle_since`."""
        result = await self.session.execute(
            delete(DeskSession).where(
                or_(DeskSession.expires_at <= now, DeskSession.last_seen_at <= idle_since)
            )
        )
        return result.rowcount


class DeskViews:
    """Filters of desk pages kept server-side under an opaque id, per session."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(
        self, view_id: str, session_hash: str, page: str, filters: dict[str, Any], now: datetime
    ) -> None:
        """Keep `filters` of `page` under `view_id` for this session."""
        self.session.add(
            DeskView(
                id=view_id, session_hash=session_hash, page=page, filters=filters, created_at=now
            )
        )
        await self.session.flush()

    async def filters(self, view_id: str, session_hash: str, page: str) -> dict[str, Any] | None:
        """The filters kept under `view_id` for this session and page; None when there are
        none (another session's id, another page's, or ended with its session)."""
        query = select(DeskView.filters).where(
            DeskView.id == view_id, DeskView.session_hash == session_hash, DeskView.page == page
        )
        return (await self.session.execute(query)).scalar_one_or_none()


class LoginThrottles:
    """Failed sign-ins counted per key (a login name's or a client address's hash)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def locked_until(self, key_hashes: list[str], now: datetime) -> datetime | None:
        """The latest end of a lock on any of these keys still running at `now`, if any."""
        query = select(func.max(LoginThrottle.locked_until)).where(
            LoginThrottle.key_hash.in_(key_hashes), LoginThrottle.locked_until > now
        )
        return (await self.session.execute(query)).scalar_one_or_none()

    async def fail(
        self, key_hash: str, now: datetime, window_start: datetime, limit: int, lock_until: datetime
    ) -> int:
        """Count one failure for a key now; failures before `window_start` are forgotten, and
        the `limit`-th in the window locks the key until `lock_until`. One statement, so two
        processes counting at once both count. The number of failures in the window."""
        fresh = LoginThrottle.window_start < window_start
        failures = case((fresh, 1), else_=LoginThrottle.failures + 1)
        # typed as the columns: a bare datetime in a CASE would not be stored as UTC
        now_value = literal(now, LoginThrottle.window_start.type)
        lock_value = literal(lock_until, LoginThrottle.locked_until.type)
        statement = insert_for(self.session)(LoginThrottle).values(
            key_hash=key_hash,
            failures=1,
            window_start=now,
            locked_until=lock_until if limit <= 1 else None,
        )
        statement = statement.on_conflict_do_update(
            index_elements=["key_hash"],
            set_={
                "failures": failures,
                "window_start": case((fresh, now_value), else_=LoginThrottle.window_start),
                "locked_until": case(
                    (failures >= limit, lock_value), else_=LoginThrottle.locked_until
                ),
            },
        )
        result = await self.session.execute(statement.returning(LoginThrottle.failures))
        return result.scalar_one()

    async def clear(self, key_hash: str) -> None:
        """Forget the failures of a key (a successful sign-in with that login name)."""
        await self.session.execute(delete(LoginThrottle).where(LoginThrottle.key_hash == key_hash))

    async def forget_old(self, window_start: datetime, now: datetime) -> None:
        """Drop counts whose window and lock are both over."""
        await self.session.execute(
            delete(LoginThrottle).where(
                LoginThrottle.window_start < window_start,
                or_(LoginThrottle.locked_until.is_(None), LoginThrottle.locked_until <= now),
            )
        )
