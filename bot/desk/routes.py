"""The desk's first pages: sign in, sign out, home (who you are, the registration in numbers,
and for admins closing or reopening registration), and the desk's 404."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bot.desk.auth import (
    clear_session_cookie,
    client_address,
    login_csrf_valid,
    login_token,
    remember_login_token,
    session_token,
    set_session_cookie,
)
from bot.desk.pages import Desk, desk_page, form_post
from bot.desk.site import Site
from services.desk_accounts import Permission
from services.desk_sessions import Started, Throttled, sign_in, sign_out, signed_in
from services.window import close_early, registration_window, reopen
from storage.repositories import Applicants, Flags

REASON_MAX = 200
"""The longest reason for closing registration early (as in the staff chat)."""


async def login_page(request: Request, site: Site) -> Response:
    """GET: the sign-in form (home when already signed in)."""
    token = session_token(request)
    if token:
        async with site.deps.db.transaction() as session:
            now = site.deps.deps.clock.now()
            if await signed_in(session, token, now, site.deps.sessions) is not None:
                return RedirectResponse(str(request.app.url_path_for("desk:home")), 303)
    return _login_form(request, site)


def _login_form(
    request: Request, site: Site, status: int = 200, error: str | None = None, login: str = ""
) -> Response:
    csrf = login_token(request)
    response = site.render(
        request, "login.html", None, status, login_csrf=csrf, error=error, login=login
    )
    remember_login_token(response, request, csrf, site.deps.secure_cookie)
    return response


async def login_post(request: Request, site: Site) -> Response:
    """POST: check the sign-in (throttled); start a session and go home, or say what failed."""
    form = await request.form()
    if not login_csrf_valid(request, form):
        return site.error(request, None, 403, "desk_csrf_refused_heading", "desk_csrf_refused")
    login, password = form.get("login"), form.get("password")
    if not isinstance(login, str) or not isinstance(password, str):
        return _login_form(request, site, 400, site.t("desk_login_wrong"))
    deps = site.deps
    result = await sign_in(
        deps.db,
        login,
        password,
        client_address(request),
        deps.deps.clock.now(),
        deps.sessions,
        deps.throttle,
    )
    if isinstance(result, Started):
        response = RedirectResponse(str(request.app.url_path_for("desk:home")), 303)
        set_session_cookie(
            response, request, result.token, deps.sessions.max_age, deps.secure_cookie
        )
        return response
    if isinstance(result, Throttled):
        error = site.t("desk_login_throttled", until=site.wib(result.until))
        return _login_form(request, site, 429, error, login.strip())
    return _login_form(request, site, 401, site.t("desk_login_wrong"), login.strip())


@form_post(Permission.READ)
async def logout(desk: Desk) -> Response:
    """End the session (its cookie no longer works anywhere) and go to the sign-in page."""
    await sign_out(desk.session, desk.signed, desk.now)
    response = desk.redirect("login", flash="signed_out")
    clear_session_cookie(response)
    return response


@desk_page(Permission.READ)
async def home(desk: Desk) -> Response:
    """Who is signed in, with which role, and the registration in numbers."""
    config = desk.deps.deps.config
    applicants = Applicants(desk.session)
    return desk.render(
        "home.html",
        window=await registration_window(config, Flags(desk.session), desk.now),
        total=await applicants.count_all(),
        confirmed=await applicants.count_confirmed(),
        quota=config.quota,
        now=desk.now,
        reason_max=REASON_MAX,
    )


@form_post(Permission.REGISTRATION_WINDOW)
async def registration(desk: Desk) -> Response:
    """Close registration early (with a reason) or lift the early close."""
    if desk.field("action") == "reopen":
        await reopen(desk.session, desk.actor, desk.now)
        return desk.redirect("home", flash="reopened")
    reason = desk.field("reason")[:REASON_MAX] or desk.site.t("desk_close_default_reason")
    await close_early(desk.session, reason, desk.actor, desk.now)
    return desk.redirect("home", flash="closed")


async def not_found(request: Request, site: Site) -> Response:
    """Any other address under /desk."""
    return site.error(request, None, 404, "desk_not_found_heading", "desk_not_found")
