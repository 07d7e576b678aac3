"""Desk accounts for the tests: one per role, all with the same password, and how a client
signs in the way a browser does (the sign-in form's own CSRF token first)."""

from __future__ import annotations

import functools
import re
from datetime import datetime

import httpx
from argon2 import PasswordHasher

from storage.db import Database
from storage.desk import StaffAccounts

PASSWORD = "kata-sandi-rahasia"
ACCOUNTS = {
    "ani": ("Ani Wulandari", "admin"),
    "rudi": ("Rudi", "reviewer"),
    "vina": ("Vina", "viewer"),
}
"""login: (display name, role)."""
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@functools.cache
def _password_hash() -> str:
    """One argon2 hash for every seeded account (hashing is slow on purpose)."""
    return PasswordHasher().hash(PASSWORD)


async def seed_accounts(db: Database, now: datetime) -> None:
    """Add the three accounts."""
    async with db.transaction() as session:
        accounts = StaffAccounts(session)
        for login, (name, role) in ACCOUNTS.items():
            await accounts.add(login, name, _password_hash(), role, "test", now)


def csrf_in(html: str) -> str:
    """The CSRF token of the first form on a page."""
    found = CSRF.search(html)
    assert found is not None, "no form with a CSRF token on this page"
    return found.group(1)


async def sign_in(
    client: httpx.AsyncClient, login: str, password: str = PASSWORD
) -> httpx.Response:
    """Open the sign-in page and post the form, as a browser does."""
    form = await client.get("/desk/login")
    data = {"csrf_token": csrf_in(form.text), "login": login, "password": password}
    return await client.post("/desk/login", data=data)
