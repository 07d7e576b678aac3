"""The staff desk: server-rendered pages under `/desk` in the `serve` app (see README, "Staff
desk"). `build_desk` gives the mount; a page is a handler decorated with `desk_page` or
`form_post` (bot/desk/pages.py) and a line in `PAGES`."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from bot.desk import applicants, broadcasts, funnel, inbox, results, review, routes
from bot.desk.pages import Endpoint
from bot.desk.site import HERE, DeskDeps, Site

__all__ = ["PAGES", "DeskDeps", "build_desk"]


@dataclass(frozen=True)
class Page:
    """A desk address: its path under /desk, its name (for links: `url(name)`), its handler."""

    path: str
    name: str
    endpoint: Endpoint
    methods: tuple[str, ...] = ("GET",)


PAGES = (
    Page("/", "home", routes.home),
    Page("/login", "login", routes.login_page),
    Page("/login", "login_post", routes.login_post, ("POST",)),
    Page("/logout", "logout", routes.logout, ("POST",)),
    Page("/registration", "registration", routes.registration, ("POST",)),
    Page("/funnel", "funnel", funnel.funnel_page),
    Page("/applicants", "applicants", applicants.applicants),
    Page("/applicants", "applicants_search", applicants.applicants_search, ("POST",)),
    Page("/applicants/export", "applicants_export", applicants.applicants_export, ("POST",)),
    Page("/applicants/{applicant_id:int}", "applicant", review.applicant),
    Page("/applicants/{applicant_id:int}/documents/{kind}", "document", review.document),
    Page("/applicants/{applicant_id:int}/resend", "resend", review.resend, ("POST",)),
    Page("/applicants/{applicant_id:int}/result", "result", review.result, ("POST",)),
    Page("/results", "results", results.results),
    Page("/results/upload", "results_upload", results.upload, ("POST",)),
    Page("/results/import/{upload}", "results_import", results.import_report),
    Page("/results/import/{upload}/apply", "results_apply", results.import_apply, ("POST",)),
    Page("/results/import/{upload}/cancel", "results_cancel", results.import_cancel, ("POST",)),
    Page("/results/publish/{stage}", "results_publish", results.publish_preview),
    Page("/results/publish/{stage}", "results_publish_post", results.publish, ("POST",)),
    Page("/broadcasts", "broadcasts", broadcasts.broadcasts),
    Page("/broadcasts/new", "broadcast_new", broadcasts.broadcast_new),
    Page("/broadcasts/new", "broadcast_send", broadcasts.broadcast_send, ("POST",)),
    Page("/broadcasts/preview", "broadcast_preview", broadcasts.broadcast_preview, ("POST",)),
    Page("/broadcasts/{broadcast_id:int}", "broadcast", broadcasts.broadcast),
    Page(
        "/broadcasts/{broadcast_id:int}/progress",
        "broadcast_progress",
        broadcasts.broadcast_progress_part,
    ),
    Page(
        "/broadcasts/{broadcast_id:int}/failures.csv",
        "broadcast_failures",
        broadcasts.broadcast_failures,
    ),
    Page(
        "/broadcasts/{broadcast_id:int}/cancel",
        "broadcast_cancel",
        broadcasts.broadcast_cancel,
        ("POST",),
    ),
    Page(
        "/broadcasts/scheduled/{scheduled_id:int}/cancel",
        "scheduled_cancel",
        broadcasts.scheduled_cancel,
        ("POST",),
    ),
    Page("/inbox", "inbox", inbox.inbox_page),
    Page("/inbox/answer", "inbox_answer", inbox.inbox_answer, ("POST",)),
)
"""Every desk page; the navigation links a section (`site.NAV`) once its page is here."""


def build_desk(deps: DeskDeps) -> Mount:
    """The desk, to mount in the web app: its pages, its static files, its 404."""
    site = Site(deps, frozenset(page.name for page in PAGES))
    served: list[BaseRoute] = [
        Route(
            page.path,
            functools.partial(page.endpoint, site=site),
            methods=list(page.methods),
            name=page.name,
        )
        for page in PAGES
    ]
    served.append(Mount("/static", StaticFiles(directory=HERE / "static"), name="static"))
    not_found = functools.partial(routes.not_found, site=site)
    served.append(Route("/{rest:path}", not_found, methods=["GET", "POST"]))
    return Mount("/desk", routes=served, name="desk")
