"""How a desk page is written: `desk_page(permission)` for what shows, `form_post(permission)`
for what acts. Either gives the handler a `Desk`: the signed-in account, an open database
transaction, the app's dependencies, the clock's now, and `render`.

Both check, on every request: a live session (else to the sign-in page), the role's
permission (else a 403 page, audited), and for a POST first the CSRF token (else a 403 page,
audited). What the handler changes it changes through a service that audits it with
`desk.actor` as who (`desk:<login>`) and `desk.now` as when.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bot.desk.auth import clear_session_cookie, csrf_valid, session_token
from bot.desk.site import DeskDeps, Site
from services.desk_accounts import NotPermitted, Permission, actor, require
from services.desk_sessions import SignedIn, signed_in
from storage.repositories import Audit

log = logging.getLogger(__name__)


@dataclass
class Desk:
    """One desk request of a signed-in staff member, inside its database transaction."""

    request: Request
    site: Site
    session: AsyncSession
    signed: SignedIn
    now: datetime
    form: FormData | None = None
    """The posted form (`form_post` only), its CSRF token checked."""

    @property
    def deps(self) -> DeskDeps:
        """The app's dependencies: `deps.db`, `deps.deps.config`, `.catalog`, `.clock`, `.files`."""
        return self.site.deps

    @property
    def actor(self) -> str:
        """Who this is in the audit log: `desk:<login>`."""
        return actor(self.signed.account.login)

    def require(self, permission: Permission) -> None:
        """A finer check inside a handler (`NotPermitted` ends in the 403 page, audited)."""
        require(self.signed.account.role, permission)

    def render(self, template: str, status: int = 200, **context: Any) -> Response:
        """A page from `templates/` in the desk's layout."""
        return self.site.render(self.request, template, self.signed, status, **context)

    def redirect(self, page: str, flash: str | None = None, **params: Any) -> Response:
        """To another desk page (after a POST: 303, so a reload does not post again), with an
        optional note shown there (`desk_flash_<flash>` of the catalog)."""
        path = str(self.request.app.url_path_for(f"desk:{page}", **params))
        return RedirectResponse(f"{path}?flash={flash}" if flash else path, status_code=303)

    def field(self, name: str, default: str = "") -> str:
        """A text field of the posted form, stripped ('' when absent or a file)."""
        value = self.form.get(name) if self.form is not None else None
        return value.strip() if isinstance(value, str) else default


Handler = Callable[[Desk], Awaitable[Response]]
Endpoint = Callable[..., Awaitable[Response]]
"""What `build_desk` routes: `(request, site=...)`."""


def to_sign_in(request: Request) -> Response:
    """Not signed in (or the session ended): to the sign-in page; htmx follows `HX-Redirect`."""
    path = str(request.app.url_path_for("desk:login"))
    if request.headers.get("hx-request"):
        response: Response = Response(status_code=204, headers={"HX-Redirect": path})
    else:
        response = RedirectResponse(path, status_code=303)
    clear_session_cookie(response)
    return response


async def _refused(
    request: Request, site: Site, signed: SignedIn, reason: str, permission: Permission
) -> Response:
    """The 403 page, with an audit entry saying who tried what."""
    now = site.deps.deps.clock.now()
    async with site.deps.db.transaction() as session:
        await Audit(session).record(
            actor(signed.account.login),
            "desk_refused",
            now,
            detail={"path": request.url.path, "reason": reason, "permission": permission.value},
        )
    log.warning("desk: %s refused (%s) on %s", signed.account.login, reason, request.url.path)
    if reason == "csrf":
        return site.error(request, signed, 403, "desk_csrf_refused_heading", "desk_csrf_refused")
    return site.error(request, signed, 403, "desk_forbidden_heading", "desk_forbidden")


class _CsrfMissing(Exception):
    """A POST without its session's CSRF token."""


def _page(permission: Permission, posted: bool) -> Callable[[Handler], Endpoint]:
    def decorate(handler: Handler) -> Endpoint:
        @functools.wraps(handler)
        async def endpoint(request: Request, site: Site) -> Response:
            token = session_token(request)
            form = await request.form() if posted else None
            signed: SignedIn | None = None
            try:
                async with site.deps.db.transaction() as session:
                    now = site.deps.deps.clock.now()
                    if token:
                        signed = await signed_in(session, token, now, site.deps.sessions)
                    if signed is None:
                        return to_sign_in(request)
                    if posted and not csrf_valid(request, form, signed.csrf_token):
                        raise _CsrfMissing
                    require(signed.account.role, permission)
                    return await handler(Desk(request, site, session, signed, now, form))
            except _CsrfMissing:
                assert signed is not None
                return await _refused(request, site, signed, "csrf", permission)
            except NotPermitted as error:  # the handler's work, if any, was rolled back
                assert signed is not None
                return await _refused(request, site, signed, "role", error.permission)

        return endpoint

    return decorate


def desk_page(permission: Permission) -> Callable[[Handler], Endpoint]:
    """A page that shows (GET): signed in and allowed to, else refused."""
    return _page(permission, posted=False)


def form_post(permission: Permission) -> Callable[[Handler], Endpoint]:
    """An action (POST): signed in, the session's CSRF token, and allowed to, else refused."""
    return _page(permission, posted=True)
