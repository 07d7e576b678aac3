"""The desk's broadcasts ("Siaran"): the list with each one's progress, composing one (the
audiences of `/siaran`, a live count and a preview as its first recipient reads it), sending it
now or at a WIB moment, a progress bar while it goes, the failures as a CSV, cancelling."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from starlette.responses import Response

from bot.desk.pages import Desk, desk_page, form_post
from bot.desk.site import HEADERS
from services.broadcasts import (
    CHANNELS,
    MAX_BROADCAST_TEXT,
    RESULT_KINDS,
    Audience,
    AudienceError,
    BroadcastProgress,
    audience_label,
    broadcast_progress,
    cancel_broadcast,
    cancel_scheduled_broadcast,
    count_recipients,
    create_broadcast,
    download_failures,
    failures_file_name,
    preview_message,
    published_stages,
    schedule_broadcast,
)
from services.desk_accounts import Permission
from services.profile import OUTSIDE
from storage.broadcasts import Broadcasts, ScheduledBroadcasts
from storage.models import Broadcast

SHOWN = 30
"""The most recent broadcasts the list shows."""
CHANNEL_NAMES = {"telegram": "Telegram", "whatsapp": "WhatsApp"}


@dataclass(frozen=True)
class Choice:
    """One audience staff can pick: its value as `Audience.parse` reads it, and its label."""

    value: str
    label: str


@dataclass(frozen=True)
class Draft:
    """What the compose form holds: the text, the audience, now or later (and when)."""

    text: str = ""
    audience: str = "all"
    when: str = "now"
    send_at: str = ""


def _label(desk: Desk, audience: Audience) -> str:
    deps = desk.deps.deps
    return audience_label(deps.config, deps.catalog, "id", audience)


async def _choices(desk: Desk) -> list[tuple[str, list[Choice]]]:
    """The audiences of `/siaran`, grouped as its buttons are: by registration, kecamatan,
    channel, and by result of a published stage."""
    config = desk.deps.deps.config
    registration = [Choice(k, _label(desk, Audience(k))) for k in ("all", "incomplete", "complete")]
    outside = desk.site.t("kecamatan_outside", regency=config.office.regency_name)
    kecamatan = [Choice(f"kecamatan:{k.code}", k.name) for k in config.kecamatan]
    kecamatan.append(Choice(f"kecamatan:{OUTSIDE}", outside))
    channels = [Choice(f"channel:{c}", CHANNEL_NAMES[c]) for c in CHANNELS]
    results = [
        Choice(f"{kind}:{stage}", _label(desk, Audience(kind, stage)))
        for stage in await published_stages(desk.session, config)
        for kind in RESULT_KINDS
    ]
    groups = [
        ("desk_bc_group_registration", registration),
        ("desk_bc_group_kecamatan", kecamatan),
        ("desk_bc_group_channel", channels),
        ("desk_bc_group_results", results),
    ]
    return [(desk.site.t(key), choices) for key, choices in groups if choices]


def _draft(desk: Desk) -> Draft:
    return Draft(
        text=desk.field("text"),
        audience=desk.field("audience", "all"),
        when="later" if desk.field("when") == "later" else "now",
        send_at=desk.field("send_at"),
    )


async def _audience(desk: Desk, draft: Draft) -> Audience:
    """The chosen audience, checked as `/siaran` checks it (results: published stages only)."""
    config = desk.deps.deps.config
    codes = {k.code for k in config.kecamatan}
    stages = await published_stages(desk.session, config)
    return Audience.parse(draft.audience, codes, stages)


def _text_problem(desk: Desk, text: str) -> str | None:
    if not text:
        return desk.site.t("desk_bc_text_empty")
    if len(text) > MAX_BROADCAST_TEXT:
        return desk.site.t("desk_bc_text_long", length=len(text), limit=MAX_BROADCAST_TEXT)
    return None


def _send_at(desk: Desk, draft: Draft) -> datetime | str:
    """The moment of a later send (WIB), or what is wrong with it."""
    try:
        moment = datetime.fromisoformat(draft.send_at)
    except ValueError:
        return desk.site.t("desk_bc_when_missing")
    tz = desk.deps.deps.config.tz
    moment = moment.replace(tzinfo=tz) if moment.tzinfo is None else moment.astimezone(tz)
    if moment <= desk.now:
        return desk.site.t("desk_bc_when_past", now=desk.site.wib(desk.now))
    return moment


def _compose(desk: Desk, draft: Draft, groups: Any, error: str | None = None) -> Response:
    quiet = desk.deps.deps.config.quiet_hours
    return desk.render(
        "broadcasts/new.html",
        400 if error else 200,
        draft=draft,
        groups=groups,
        error=error,
        limit=MAX_BROADCAST_TEXT,
        quiet_start=f"{quiet.start:%H.%M}",
        quiet_end=f"{quiet.end:%H.%M}",
        earliest=desk.now.astimezone(desk.deps.deps.config.tz).strftime("%Y-%m-%dT%H:%M"),
    )


@desk_page(Permission.READ)
async def broadcasts(desk: Desk) -> Response:
    """The scheduled broadcasts still waiting, and the recent ones with their progress."""
    recent = []
    for broadcast in await Broadcasts(desk.session).newest(SHOWN):
        progress = await broadcast_progress(desk.session, broadcast.id)
        recent.append((broadcast, progress, _audience_of(desk, broadcast.audience)))
    waiting = [
        (scheduled, _audience_of(desk, scheduled.audience))
        for scheduled in await ScheduledBroadcasts(desk.session).waiting()
    ]
    return desk.render("broadcasts/list.html", recent=recent, waiting=waiting)


def _audience_of(desk: Desk, stored: dict[str, Any]) -> str:
    return _label(desk, Audience(stored["kind"], stored.get("value")))


@desk_page(Permission.BROADCAST)
async def broadcast_new(desk: Desk) -> Response:
    """The compose form."""
    return _compose(desk, Draft(), await _choices(desk))


@form_post(Permission.BROADCAST)
async def broadcast_preview(desk: Desk) -> Response:
    """(htmx) The count of the chosen audience and the text as its first recipient reads it."""
    draft = _draft(desk)
    try:
        audience = await _audience(desk, draft)
    except AudienceError:
        return desk.render("broadcasts/_preview.html", problem=desk.site.t("desk_bc_audience_bad"))
    return desk.render(
        "broadcasts/_preview.html",
        problem=_text_problem(desk, draft.text) if draft.text else None,
        count=await count_recipients(desk.session, audience),
        label=_label(desk, audience),
        preview=await preview_message(desk.session, audience, draft.text),
        length=len(draft.text),
        limit=MAX_BROADCAST_TEXT,
    )


@form_post(Permission.BROADCAST)
async def broadcast_send(desk: Desk) -> Response:
    """Queue the broadcast now (to the page of its progress) or keep it for its moment."""
    draft = _draft(desk)
    groups = await _choices(desk)
    try:
        audience = await _audience(desk, draft)
    except AudienceError:
        return _compose(desk, draft, groups, desk.site.t("desk_bc_audience_bad"))
    problem = _text_problem(desk, draft.text)
    if problem is not None:
        return _compose(desk, draft, groups, problem)
    if draft.when == "later":
        send_at = _send_at(desk, draft)
        if isinstance(send_at, str):
            return _compose(desk, draft, groups, send_at)
        await schedule_broadcast(
            desk.session,
            text=draft.text,
            audience=audience,
            send_at=send_at,
            created_by=desk.actor,
            now=desk.now,
        )
        return desk.redirect("broadcasts", flash="broadcast_scheduled")
    broadcast = await create_broadcast(
        desk.session,
        text=draft.text,
        audience=audience,
        created_by=desk.actor,
        now=desk.now,
        quiet_hours=desk.deps.deps.config.quiet_hours,
    )
    return desk.redirect("broadcast", flash="broadcast_queued", broadcast_id=broadcast.id)


async def _found(desk: Desk) -> tuple[Broadcast, BroadcastProgress] | None:
    broadcast_id = desk.request.path_params["broadcast_id"]
    broadcast = await Broadcasts(desk.session).get(broadcast_id)
    progress = await broadcast_progress(desk.session, broadcast_id)
    return (broadcast, progress) if broadcast is not None and progress is not None else None


def _not_found(desk: Desk) -> Response:
    return desk.site.error(
        desk.request, desk.signed, 404, "desk_not_found_heading", "desk_not_found"
    )


@desk_page(Permission.READ)
async def broadcast(desk: Desk) -> Response:
    """One broadcast: its text, audience, author, and its progress (live while it goes)."""
    found = await _found(desk)
    if found is None:
        return _not_found(desk)
    broadcast, progress = found
    return desk.render(
        "broadcasts/show.html",
        broadcast=broadcast,
        progress=progress,
        audience=_audience_of(desk, broadcast.audience),
    )


@desk_page(Permission.READ)
async def broadcast_progress_part(desk: Desk) -> Response:
    """(htmx, polled while the broadcast goes) its progress bar and figures."""
    found = await _found(desk)
    if found is None:
        return _not_found(desk)
    return desk.render("broadcasts/_progress.html", progress=found[1])


@desk_page(Permission.EXPORT)
async def broadcast_failures(desk: Desk) -> Response:
    """The recipients a broadcast could not reach, as CSV (never cached; audited)."""
    broadcast_id = desk.request.path_params["broadcast_id"]
    content = await download_failures(desk.session, broadcast_id, desk.actor, desk.now)
    if content is None:
        return _not_found(desk)
    disposition = f'attachment; filename="{failures_file_name(broadcast_id)}"'
    headers = {**HEADERS, "Content-Disposition": disposition}
    return Response(content, media_type="text/csv; charset=utf-8", headers=headers)


@form_post(Permission.BROADCAST)
async def broadcast_cancel(desk: Desk) -> Response:
    """Stop what of a broadcast is not sent yet."""
    broadcast_id = desk.request.path_params["broadcast_id"]
    if await _found(desk) is None:
        return _not_found(desk)
    await cancel_broadcast(desk.session, broadcast_id, desk.actor, desk.now)
    return desk.redirect("broadcast", flash="broadcast_cancelled", broadcast_id=broadcast_id)


@form_post(Permission.BROADCAST)
async def scheduled_cancel(desk: Desk) -> Response:
    """Call off a scheduled broadcast before its moment."""
    scheduled_id = desk.request.path_params["scheduled_id"]
    cancelled = await cancel_scheduled_broadcast(desk.session, scheduled_id, desk.actor, desk.now)
    return desk.redirect("broadcasts", flash="schedule_cancelled" if cancelled else "schedule_gone")
