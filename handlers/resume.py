"""Where an applicant's registration goes on from, and why it cannot when it is closed."""

from __future__ import annotations

from handlers.document_status import missing_documents
from handlers.flow import Turn
from handlers.formatting import format_date, format_datetime
from handlers.profile import FIELDS, needs_guardian, needs_nik_check
from handlers.window import WindowState


async def resume_registration(turn: Turn) -> None:
    """Go to the first thing the applicant still has to do (or the summary when all is done)."""
    applicant = turn.applicant
    config = turn.deps.config
    if applicant.registration_number is None and await closed_for_registration(turn):
        return
    if applicant.consent_at is None:
        await turn.goto("consent")
        return
    for item in config.required_items:
        answer = applicant.eligibility.get(str(item.number))
        if answer is None:
            await turn.goto("eligibility", number=item.number)
            return
        if answer is False:
            await turn.goto("ineligible", number=item.number)
            return
    if needs_guardian(turn):
        await turn.goto("guardian")
        return
    if needs_nik_check(turn):
        await turn.goto("nik_check")
        return
    missing = next((spec for spec in FIELDS if getattr(applicant, spec.name) is None), None)
    if missing is not None:
        await turn.goto("field", field=missing.name)
        return
    documents = missing_documents(turn)
    if documents and applicant.step != "documents":
        await turn.goto("documents", doc=documents[0].key)
        return
    await turn.goto("summary")


async def closed_for_registration(turn: Turn) -> bool:
    """True (after saying why and going to the menu) when registration is not open now."""
    window = await turn.registration_window()
    if window.is_open:
        return False
    say_registration_closed(turn, window.state)
    await turn.goto("menu")
    return True


def say_registration_closed(turn: Turn, state: WindowState) -> None:
    """Explain politely why registration cannot go on now."""
    config = turn.deps.config
    schedule = config.schedule
    if state is WindowState.NOT_YET:
        opens = format_datetime(config.local(schedule.registration_start), turn.language)
        turn.say(turn.t("registration_not_yet", opens=opens))
    elif state is WindowState.CLOSED_EARLY:
        turn.say(turn.t("registration_closed_early"))
    else:
        closed = format_date(schedule.registration_end.date(), turn.language)
        turn.say(turn.t("registration_ended", closed=closed))
