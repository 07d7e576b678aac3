"""What every desk page shares: its dependencies, the templates (with `t`, WIB times, dates as
people write them), the navigation, and the headers every desk page carries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from core.formatting import format_date, format_datetime
from handlers.flow import Dependencies
from services.desk_accounts import Permission, may
from services.desk_sessions import SessionPolicy, SignedIn, ThrottlePolicy
from storage.db import Database

HERE = Path(__file__).parent
LANGUAGE = "id"
"""The desk speaks Indonesian, the staff's language."""

HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}
"""On every desk page: never cached (personal data), scripts and styles only from the desk,
never framed, no address sent to another site."""


@dataclass(frozen=True)
class DeskDeps:
    """What the desk needs from the app: the database and what every turn reads (config,
    catalog, clock, file store), the session and throttle policies, the cookie's Secure flag
    (None: when the request is https)."""

    db: Database
    deps: Dependencies
    sessions: SessionPolicy = field(default_factory=SessionPolicy)
    throttle: ThrottlePolicy = field(default_factory=ThrottlePolicy)
    secure_cookie: bool | None = None


@dataclass(frozen=True)
class NavItem:
    """A link of the navigation: shown when its page exists and the role may read it."""

    page: str
    label: str
    permission: Permission = Permission.READ


NAV = (
    NavItem("home", "desk_nav_home"),
    NavItem("funnel", "desk_nav_funnel"),
    NavItem("applicants", "desk_nav_applicants"),
    NavItem("results", "desk_nav_results"),
    NavItem("broadcasts", "desk_nav_broadcasts"),
    NavItem("inbox", "desk_nav_inbox"),
)
"""The desk's sections, in order; a later page named like one of them brings its link."""


class Site:
    """The desk's templates and pages, built once by `build_desk`."""

    def __init__(self, deps: DeskDeps, pages: frozenset[str]) -> None:
        self.deps = deps
        self.pages = pages
        """The names of the desk's routes (a link to another is never shown)."""
        config = deps.deps.config
        self.env = Environment(
            loader=FileSystemLoader(HERE / "templates"),
            autoescape=select_autoescape(default=True),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.globals.update(
            t=self.t, office=config.office, title=config.title.id, Permission=Permission
        )
        self.env.filters.update(wib=self.wib, day=self.day)

    def t(self, key: str, **params: object) -> str:
        """A desk text from the catalog (keys `desk_…`)."""
        return self.deps.deps.catalog.text(LANGUAGE, key, **params)

    def wib(self, moment: datetime) -> str:
        """A moment as staff read it: '3 Desember 2026, 09.00 WIB'."""
        return format_datetime(moment.astimezone(self.deps.deps.config.tz), LANGUAGE)

    def day(self, value: date | datetime) -> str:
        """A day as people write it: '3 Desember 2026'."""
        if isinstance(value, datetime):
            value = value.astimezone(self.deps.deps.config.tz).date()
        return format_date(value, LANGUAGE)

    def error(
        self, request: Request, signed: SignedIn | None, status: int, heading: str, message: str
    ) -> HTMLResponse:
        """An error page (403, 404): a heading and a message, both catalog keys."""
        return self.render(request, "error.html", signed, status, heading=heading, message=message)

    def flash(self, request: Request) -> str | None:
        """The note a redirect asked to show (`?flash=NAME`): the catalog's `desk_flash_NAME`,
        never a text from the URL."""
        key = f"desk_flash_{request.query_params.get('flash', '')}"
        return key if key in self.deps.deps.catalog.messages[LANGUAGE] else None

    def nav(self, signed: SignedIn | None) -> list[NavItem]:
        """The links the signed-in role sees (none before signing in)."""
        if signed is None:
            return []
        role = signed.account.role
        return [i for i in NAV if i.page in self.pages and may(role, i.permission)]

    def render(
        self,
        request: Request,
        template: str,
        signed: SignedIn | None,
        status: int = 200,
        **context: Any,
    ) -> HTMLResponse:
        """A page from `templates/`, with the layout's context and the desk's headers."""

        def url(page: str, **params: Any) -> str:
            return str(request.app.url_path_for(f"desk:{page}", **params))

        def static(path: str) -> str:
            return url("static", path=path)

        html = self.env.get_template(template).render(
            request=request,
            signed=signed,
            csrf=signed.csrf_token if signed is not None else None,
            nav=self.nav(signed),
            flash=self.flash(request),
            url=url,
            static=static,
            may=(lambda p: may(signed.account.role, p)) if signed is not None else lambda p: False,
            **context,
        )
        return HTMLResponse(html, status_code=status, headers=HEADERS)
