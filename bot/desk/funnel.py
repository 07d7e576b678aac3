"""The funnel at a glance ("Corong"): the steps (chart and table), registrations per day (chart
and table) and per kecamatan against the quota; every number links to the list of exactly the
people it counts (`services/desk_views.py`)."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from starlette.responses import Response

from bot.desk.applicants import list_link
from bot.desk.pages import Desk, desk_page
from services.desk_accounts import Permission
from services.desk_views import (
    DayCount,
    FunnelCount,
    funnel,
    registrations_per_day,
    registrations_per_kecamatan,
)


def _chart(steps: list[FunnelCount], days: list[DayCount], zone: Any, zone_name: str) -> dict:
    """What the charts draw (read by static/funnel.js from the page's JSON block)."""
    return {
        "zone": zone_name,
        "steps": [step.count for step in steps],
        "days": [datetime.combine(d.day, time(), zone).timestamp() for d in days],
        "started": [d.started for d in days],
        "registered": [d.registered for d in days],
    }


@desk_page(Permission.READ)
async def funnel_page(desk: Desk) -> Response:
    """The funnel page."""
    config, catalog = desk.deps.deps.config, desk.deps.deps.catalog
    steps = await funnel(desk.session, config, catalog)
    days = await registrations_per_day(desk.session, config)
    places = await registrations_per_kecamatan(desk.session, config, catalog)
    base = str(desk.request.app.url_path_for("desk:applicants"))
    return desk.render(
        "funnel/page.html",
        steps=steps,
        days=days,
        places=places,
        widest=max([row.registered for row in places.rows] + [1]),
        chart=_chart(steps, days, config.tz, config.timezone),
        link=lambda view: list_link(base, view),
        now=desk.now,
    )
