"""Desk accounts, roles and sessions on SQLite and PostgreSQL: the permission table, passwords,
a login name given once, disabling and a new password ending sessions, the throttle's count,
views kept per session."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from core.clock import FrozenClock
from services.desk_accounts import (
    GRANTS,
    AccountError,
    NotPermitted,
    Permission,
    Role,
    add_account,
    disable_account,
    may,
    require,
    set_password,
)
from services.desk_sessions import (
    Refused,
    SessionPolicy,
    Started,
    Throttled,
    ThrottlePolicy,
    recall_view,
    remember_view,
    sign_in,
    sign_out,
    signed_in,
)
from storage.db import Database
from storage.desk import LoginThrottles, StaffAccounts
from storage.repositories import Audit

PASSWORD = "kata-sandi-rahasia"
POLICY = SessionPolicy()
THROTTLE = ThrottlePolicy()


def test_viewers_read_reviewers_review_and_admins_do_everything() -> None:
    assert GRANTS[Role.VIEWER] == {Permission.READ}
    reviewer = {Permission.REVIEW_DOCUMENTS, Permission.ASK_RESEND, Permission.SET_RESULT}
    assert reviewer | {Permission.ANSWER_INBOX, Permission.READ} <= GRANTS[Role.REVIEWER]
    admin_only = {
        Permission.IMPORT_RESULTS,
        Permission.PUBLISH_RESULTS,
        Permission.BROADCAST,
        Permission.MANAGE_ACCOUNTS,
        Permission.REGISTRATION_WINDOW,
    }
    assert not admin_only & GRANTS[Role.REVIEWER]
    assert GRANTS[Role.ADMIN] == set(Permission)
    assert may("admin", Permission.BROADCAST) and not may("viewer", Permission.SET_RESULT)
    assert not may("root", Permission.READ)  # an unknown role may nothing
    with pytest.raises(NotPermitted):
        require("reviewer", Permission.PUBLISH_RESULTS)


async def _add(db: Database, now: datetime, login: str = "ani", role: str = "admin") -> None:
    async with db.transaction() as session:
        await add_account(session, login, "Ani", role, PASSWORD, "cli:root", now)


async def _sign_in(
    db: Database, now: datetime, login: str = "ani", password: str = PASSWORD
) -> Started | Refused | Throttled:
    return await sign_in(db, login, password, "127.0.0.1", now, POLICY, THROTTLE)


async def test_an_account_signs_in_with_its_password_and_is_audited(
    any_db: Database, clock: FrozenClock
) -> None:
    await _add(any_db, clock.now())
    assert isinstance(await _sign_in(any_db, clock.now(), password="salah-salah-salah"), Refused)
    started = await _sign_in(any_db, clock.now(), login="  Ani ")
    assert isinstance(started, Started)
    async with any_db.transaction() as session:
        signed = await signed_in(session, started.token, clock.now(), POLICY)
        assert signed is not None and signed.account.role == "admin"
        actions = [(e.actor, e.action) for e in await Audit(session).recent()]
        stored = await StaffAccounts(session).by_login("ani")
    assert ("desk:ani", "desk_signed_in") in actions and (
        "cli:root",
        "desk_account_added",
    ) in actions
    assert stored is not None and PASSWORD not in stored.password_hash
    assert stored.password_hash.startswith("$argon2id$")


async def test_a_login_name_is_given_once_and_passwords_have_a_minimum(
    any_db: Database, clock: FrozenClock
) -> None:
    await _add(any_db, clock.now())
    async with any_db.transaction() as session:
        await disable_account(session, "ani", "cli:root", clock.now())
    with pytest.raises(AccountError) as taken:
        await _add(any_db, clock.now())  # also after it was disabled: the audit log names it
    assert taken.value.key == "desk_login_taken"
    async with any_db.transaction() as session:
        with pytest.raises(AccountError) as short:
            await add_account(session, "budi", "Budi", "viewer", "pendek", "cli:root", clock.now())
        with pytest.raises(AccountError) as bad_name:
            await add_account(session, "budi santoso", "B", "viewer", PASSWORD, "x", clock.now())
        with pytest.raises(AccountError) as bad_role:
            await add_account(session, "budi", "Budi", "root", PASSWORD, "x", clock.now())
    assert (short.value.key, short.value.params) == ("desk_password_short", {"min": 12})
    assert bad_name.value.key == "desk_login_invalid" and bad_role.value.key == "desk_role_invalid"


async def test_disabling_or_a_new_password_ends_the_sessions(
    any_db: Database, clock: FrozenClock
) -> None:
    await _add(any_db, clock.now())
    first = await _sign_in(any_db, clock.now())
    assert isinstance(first, Started)
    async with any_db.transaction() as session:
        await set_password(session, "ani", "kata-sandi-yang-baru", "cli:root", clock.now())
        assert await signed_in(session, first.token, clock.now(), POLICY) is None
    assert isinstance(await _sign_in(any_db, clock.now()), Refused)  # the old password
    second = await _sign_in(any_db, clock.now(), password="kata-sandi-yang-baru")
    assert isinstance(second, Started)
    async with any_db.transaction() as session:
        assert await disable_account(session, "ani", "cli:root", clock.now())
        assert not await disable_account(session, "ani", "cli:root", clock.now())
        assert await signed_in(session, second.token, clock.now(), POLICY) is None
    refused = await _sign_in(any_db, clock.now(), password="kata-sandi-yang-baru")
    assert isinstance(refused, Refused)


async def test_failures_are_counted_in_one_statement_and_forgotten_after_the_window(
    any_db: Database, clock: FrozenClock
) -> None:
    now, window = clock.now(), timedelta(minutes=15)
    async with any_db.transaction() as session:
        throttles = LoginThrottles(session)
        counts = [await throttles.fail("k", now, now - window, 3, now + window) for _ in range(3)]
        assert counts == [1, 2, 3]
        assert await throttles.locked_until(["k", "other"], now) == now + window
        assert await throttles.locked_until(["k"], now + window) is None
        later = now + window + timedelta(seconds=1)
        assert await throttles.fail("k", later, later - window, 3, later + window) == 1
        assert await throttles.locked_until(["k"], later) is None


async def test_a_throttled_name_is_refused_whatever_is_typed(
    any_db: Database, clock: FrozenClock
) -> None:
    await _add(any_db, clock.now())
    results = [await _sign_in(any_db, clock.now(), password="tebak-tebakan") for _ in range(5)]
    assert [type(r) for r in results] == [Refused] * 4 + [Throttled]
    held = await _sign_in(any_db, clock.now())
    assert isinstance(held, Throttled) and held.until == clock.now() + timedelta(minutes=15)


async def test_a_view_is_kept_for_its_own_session_and_page_and_ends_with_it(
    any_db: Database, clock: FrozenClock
) -> None:
    await _add(any_db, clock.now())
    await _add(any_db, clock.now(), login="rudi", role="reviewer")
    mine, other = await _sign_in(any_db, clock.now()), await _sign_in(any_db, clock.now(), "rudi")
    assert isinstance(mine, Started) and isinstance(other, Started)
    filters = {"search": "3528015708950003", "kecamatan": "35.28.01"}
    async with any_db.transaction() as session:
        view = await remember_view(session, mine.signed_in, "applicants", filters, clock.now())
        assert "3528" not in view and len(view) >= 20
        assert await recall_view(session, mine.signed_in, "applicants", view) == filters
        assert await recall_view(session, other.signed_in, "applicants", view) is None
        assert await recall_view(session, mine.signed_in, "results", view) is None
        await sign_out(session, mine.signed_in, clock.now())
        assert await recall_view(session, mine.signed_in, "applicants", view) is None
