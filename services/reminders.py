"""Reminders the bot sends on its own: which, when, to whom, saying what; each once per applicant.

A reminder goes to an applicant only when a row (applicant, reminder key) could be added to
`reminder_receipts` (unique): a second run, a restart or a second bot process adds nothing, so
sends nothing. Applicants are read in id order, a batch at a time, so memory stays flat.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from core.callbacks import MenuButton, MenuItem, RemindAction, RemindButton
from core.catalog import Catalog
from core.formatting import format_datetime
from core.recruitment import Event, RecruitmentConfig
from services.broadcasts import Audience
from services.profile import missing_documents, missing_fields
from services.results import stage_keys
from services.sobat import enrolment_steps
from storage.db import Database
from storage.models import Applicant
from storage.outbox import Outbox
from storage.reminders import Reminders, ReminderTarget
from storage.repositories import Applicants, Documents
from storage.sobat import SobatSteps

BATCH = 1000
SILENT = "silent"


@dataclass(frozen=True)
class Reminder:
    """One reminder of the recruitment: its key, moment, and until when it is still useful."""

    key: str
    kind: str
    """registration, sobat, event or silent."""
    at: datetime
    valid_until: datetime
    days: int = 0
    event: Event | None = None


def planned_reminders(config: RecruitmentConfig) -> list[Reminder]:
    """The dated reminders of the config (the silent-applicant nudge is recurring, not here)."""
    settings = config.reminders
    grace = timedelta(hours=settings.late_grace_hours)
    deadline = config.local(config.schedule.registration_end)
    reminders = []

    def moment(day: datetime, days_before: int) -> datetime:
        day_of = day.date() - timedelta(days=days_before)
        return datetime.combine(day_of, settings.send_at, config.tz)

    moments = [(days, moment(deadline, days)) for days in settings.registration_days_before]
    for index, (days, at) in enumerate(moments):
        following = moments[index + 1][1] if index + 1 < len(moments) else deadline
        until = min(at + grace, following, deadline)
        reminders.append(Reminder(f"registration:{days}", "registration", at, until, days))
    sobat_moments = [(days, moment(deadline, days)) for days in settings.sobat_days_before]
    for index, (days, at) in enumerate(sobat_moments):
        following = sobat_moments[index + 1][1] if index + 1 < len(sobat_moments) else deadline
        until = min(at + grace, following, deadline)
        reminders.append(Reminder(f"sobat:{days}", "sobat", at, until, days))
    for event in config.events:
        happens = config.local(event.at)
        for days in event.remind_days_before:
            at = moment(happens, days)
            until = min(at + grace, happens)
            reminders.append(Reminder(f"event:{event.key}:{days}", "event", at, until, days, event))
    return sorted(reminders, key=lambda reminder: reminder.at)


def _target(
    config: RecruitmentConfig,
    reminder: Reminder,
    now: datetime,
    staff: frozenset[str] = frozenset(),
) -> ReminderTarget:
    """Who `reminder` is for: an event's audience; registered applicants not yet enrolled on
    SOBAT; or those who have not finished registering (silent ones: no change for a while).

    Staff chats (added with `mitrabot staff add`, or named in `staff`) are never reminded, nor
    is anyone who has not given consent (pressed "Tidak setuju", or never answered).
    """
    if reminder.kind == "event" and reminder.event is not None:
        codes = {k.code for k in config.kecamatan}
        audience = Audience.parse(reminder.event.audience, codes, stage_keys(config))
        return ReminderTarget(reminder.key, "audience", audience.kind, audience.value, staff=staff)
    if reminder.kind == "sobat":
        steps = frozenset(enrolment_steps(config))
        return ReminderTarget(reminder.key, "not_enrolled", enrolment_steps=steps, staff=staff)
    silent_since = None
    if reminder.kind == SILENT:
        silent_since = now - timedelta(days=config.reminders.silent_after_days)
    return ReminderTarget(reminder.key, "unregistered", silent_since=silent_since, staff=staff)


async def count_reach(
    session: AsyncSession,
    config: RecruitmentConfig,
    reminder: Reminder,
    now: datetime,
    staff: frozenset[str] = frozenset(),
) -> int:
    """How many applicants a reminder would reach if it ran now."""
    return await Reminders(session).count_reach(_target(config, reminder, now, staff))


def _missing_lines(
    config: RecruitmentConfig, catalog: Catalog, applicant: Applicant, documents: set[str]
) -> list[str]:
    """What this applicant still has to do, item by item."""
    language = applicant.language
    lines = []
    if any(str(item.number) not in applicant.eligibility for item in config.required_items):
        lines.append(catalog.text(language, "rem_missing_eligibility"))
    lines += [catalog.text(language, f"field_{name}") for name in missing_fields(applicant)]
    lines += [doc.name.get(language) for doc in missing_documents(config, documents)]
    return lines or [catalog.text(language, "rem_missing_confirm")]


def _next_sobat_step(
    config: RecruitmentConfig, catalog: Catalog, applicant: Applicant, done: set[str]
) -> str:
    """The first SOBAT step the applicant has not done, by its title."""
    if applicant.sobat_path is None:
        return catalog.text(applicant.language, "rem_sobat_choose")
    steps = config.sobat.path(applicant.sobat_path)
    number, item = next(
        ((n, step) for n, step in enumerate(steps, 1) if step.key not in done),
        (len(steps), steps[-1]),
    )
    return f"{number}. {item.title.get(applicant.language)}"


def reminder_text(
    config: RecruitmentConfig,
    catalog: Catalog,
    reminder: Reminder,
    applicant: Applicant,
    facts: set[str],
    now: datetime,
) -> str:
    """The message for one applicant, in their language. `facts`: the documents handed in
    (registration reminders) or the SOBAT steps done (SOBAT reminders)."""
    language = applicant.language
    if reminder.kind == "event" and reminder.event is not None:
        happens = config.local(reminder.event.at)
        return catalog.text(
            language,
            "rem_event",
            text=reminder.event.text.get(language),
            when=format_datetime(happens, language),
            days=_days_left(catalog, language, (happens.date() - now.date()).days),
        )
    deadline = config.local(config.schedule.registration_end)
    if reminder.kind == "sobat":
        missing = _next_sobat_step(config, catalog, applicant, facts)
    else:
        missing = "\n".join(
            f"• {line}" for line in _missing_lines(config, catalog, applicant, facts)
        )
    return catalog.text(
        language,
        f"rem_{reminder.kind}",
        deadline=format_datetime(deadline, language),
        days=_days_left(catalog, language, (deadline.date() - now.date()).days),
        missing=missing,
    )


def _days_left(catalog: Catalog, language: str, days: int) -> str:
    if days <= 0:
        return catalog.text(language, "rem_today")
    if days == 1:
        return catalog.text(language, "rem_tomorrow")
    return catalog.text(language, "rem_days_left", days=days)


def reminder_buttons(catalog: Catalog, language: str, kind: str) -> list[dict[str, str]]:
    """Under a reminder: continue registering (when that is the point) and stop reminders."""
    buttons = []
    if kind == "sobat":
        buttons.append(
            {
                "id": MenuButton(MenuItem.SOBAT).pack(),
                "label": catalog.text(language, "rem_sobat_open"),
            }
        )
    elif kind != "event":
        buttons.append(
            {
                "id": MenuButton(MenuItem.REGISTER).pack(),
                "label": catalog.text(language, "rem_continue"),
            }
        )
    buttons.append(
        {"id": RemindButton(RemindAction.STOP).pack(), "label": catalog.text(language, "rem_stop")}
    )
    return buttons


async def send_reminder(
    db: Database,
    config: RecruitmentConfig,
    catalog: Catalog,
    reminder: Reminder,
    now: datetime,
    staff: frozenset[str] = frozenset(),
    batch: int = BATCH,
) -> int:
    """Queue `reminder` for everyone it concerns who has not had it; how many were queued.

    Outside its moment (before `at`, after `valid_until`) nothing is sent: a reminder whose
    moment passed while the bot was down is skipped rather than sent late.
    """
    if not reminder.at <= now <= reminder.valid_until:
        return 0
    not_before = config.quiet_hours.next_allowed(now)
    target = _target(config, reminder, now, staff)
    queued, after = 0, 0
    while True:
        async with db.transaction() as session:
            reminders = Reminders(session)
            rows = await reminders.candidates(target, after, batch)
            if not rows:
                return queued
            after = rows[-1].applicant_id
            chats: dict[int, tuple[str, str]] = {}
            for applicant_id, channel, chat, *_ in rows:
                chats.setdefault(applicant_id, (channel, chat))
            fresh = await reminders.claim_receipts(list(chats), reminder.key, now)
            queued += await _enqueue(
                session, config, catalog, reminder, now, not_before, chats, fresh
            )


async def _enqueue(
    session: AsyncSession,
    config: RecruitmentConfig,
    catalog: Catalog,
    reminder: Reminder,
    now: datetime,
    not_before: datetime,
    chats: dict[int, tuple[str, str]],
    fresh: set[int],
) -> int:
    if not fresh:
        return 0
    applicants = await Applicants(session).by_ids(fresh)
    if reminder.kind == "sobat":
        facts = await SobatSteps(session).done_by(fresh)
    else:
        facts = await Documents(session).kinds_by_applicant(fresh)
    rows = []
    for applicant in applicants:
        channel, chat = chats[applicant.id]
        rows.append(
            {
                "dedup_key": f"reminder:{reminder.key}:applicant:{applicant.id}",
                "applicant_id": applicant.id,
                "channel": channel,
                "recipient": chat,
                "text": reminder_text(
                    config, catalog, reminder, applicant, facts.get(applicant.id, set()), now
                ),
                "buttons": reminder_buttons(catalog, applicant.language, reminder.kind),
                "urgent": False,
                "state": "queued",
                "attempts": 0,
                "not_before": not_before,
                "created_at": now,
            }
        )
    await Outbox(session).enqueue(rows)
    return len(rows)


def silent_reminder(config: RecruitmentConfig) -> Reminder:
    """The once-only nudge to who started and went silent, valid while registration is open."""
    deadline = config.local(config.schedule.registration_end)
    opens = config.local(config.schedule.registration_start)
    return Reminder(SILENT, SILENT, opens, deadline)
