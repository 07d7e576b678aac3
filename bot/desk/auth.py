"""The desk's session cookie, CSRF tokens and who is signed in.

The cookie holds a random token; the database holds only its SHA-256 (`desk_sessions`), so
every `serve` process knows every session. The cookie is HttpOnly, SameSite=Strict, limited to
`/desk`, and Secure when the request came over https (or `MITRABOT_DESK_SECURE_COOKIE` says so).
Every POST carries the session's CSRF token, in the form's `csrf_token` field or (htmx) in the
`X-CSRF-Token` header; the sign-in form, before any session, carries a token that must match a
cookie of its own (double submit).
"""

from __future__ import annotations

import hmac
import secrets
from datetime import timedelta

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

SESSION_COOKIE = "mitrabot_desk"
LOGIN_COOKIE = "mitrabot_desk_login"
"""The sign-in form's own CSRF cookie (no session exists yet)."""
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
COOKIE_PATH = "/desk"
LOGIN_COOKIE_AGE = timedelta(hours=1)


def secure(request: Request, configured: bool | None) -> bool:
    """Whether cookies get the Secure flag: as configured, else when the request is https."""
    return configured if configured is not None else request.url.scheme == "https"


def _set(response: Response, name: str, value: str, age: timedelta, secure_flag: bool) -> None:
    response.set_cookie(
        name,
        value,
        max_age=int(age.total_seconds()),
        path=COOKIE_PATH,
        secure=secure_flag,
        httponly=True,
        samesite="strict",
    )


def session_token(request: Request) -> str | None:
    """The session token the browser sent, if any."""
    return request.cookies.get(SESSION_COOKIE) or None


def set_session_cookie(
    response: Response, request: Request, token: str, age: timedelta, configured: bool | None
) -> None:
    """Give the browser its session token."""
    _set(response, SESSION_COOKIE, token, age, secure(request, configured))


def clear_session_cookie(response: Response) -> None:
    """Make the browser forget its session token (the session is ended server-side too)."""
    response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH, httponly=True, samesite="strict")


def login_token(request: Request) -> str:
    """The sign-in form's CSRF token: the browser's, or a new one (`remember_login_token`)."""
    return request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(32)


def remember_login_token(
    response: Response, request: Request, token: str, configured: bool | None
) -> None:
    """Keep the sign-in form's CSRF token in its cookie."""
    _set(response, LOGIN_COOKIE, token, LOGIN_COOKIE_AGE, secure(request, configured))


def _same(given: str | None, expected: str | None) -> bool:
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


def csrf_valid(request: Request, form: FormData | None, expected: str) -> bool:
    """True when a POST carries the expected token (form field, or the htmx header)."""
    field = form.get(CSRF_FIELD) if form is not None else None
    given = field if isinstance(field, str) else request.headers.get(CSRF_HEADER)
    return _same(given, expected)


def login_csrf_valid(request: Request, form: FormData) -> bool:
    """True when the sign-in form's token matches its cookie."""
    field = form.get(CSRF_FIELD)
    return _same(field if isinstance(field, str) else None, request.cookies.get(LOGIN_COOKIE))


def client_address(request: Request) -> str:
    """The client's address (behind a proxy: as uvicorn read it from the trusted headers)."""
    return request.client.host if request.client is not None else "unknown"
