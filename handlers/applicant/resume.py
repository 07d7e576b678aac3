"""Where an applicant's registration goes on from, and why it cannot when it is closed."""

from __future__ import annotations

from core.formatting import format_date, format_datetime
from handlers.document_status import missing_documents
from handlers.flow import StepName, Turn
from handlers.profile import FIELDS, needs_guardian, needs_nik_check
from services.window import RegistrationWindow, WindowState


async def resume_registration(turn: Turn) -> None:
    """Go to the first thing the applicant still has to do (or the summary when all is done)."""
    applicant = turn.applicant
    config = turn.deps.config
    if applicant.registration_number is None and await closed_for_registration(turn):
        return
    if applicant.consent_at is None:
        await turn.goto(StepName.CONSENT)
        return
    for item in config.required_items:
        answer = applicant.eligibility.get(str(item.number))
        if answer is None:
            await turn.goto(StepName.ELIGIBILITY, number=item.number)
            return
        if answer is False:
            await turn.goto(StepName.INELIGIBLE, number=item.number)
            return
    if needs_guardian(turn):
        await turn.goto(StepName.GUARDIAN)
        return
    if needs_nik_check(turn):
        await turn.goto(StepName.NIK_CHECK)
        return
    missing = next((spec for spec in FIELDS if getattr(applicant, spec.name) is None), None)
    if missing is not None:
        await turn.goto(StepName.FIELD, field=missing.name)
        return
    documents = missing_documents(turn)
    if documents and turn.chat.step != StepName.DOCUMENTS:
        await turn.goto(StepName.DOCUMENTS, doc=documents[0].key)
        return
    await turn.goto(StepName.SUMMARY)


async def closed_for_registration(turn: Turn) -> bool:
    """True (after saying why and going to the menu) when registration is not open now."""
    window = await turn.registration_window()
    if window.is_open:
        return False
    say_registration_closed(turn, window)
    await turn.goto(StepName.MENU)
    return True


def say_registration_closed(turn: Turn, window: RegistrationWindow) -> None:
    """Explain politely why registration cannot go on now, and what the applicant still can do."""
    if window.state is WindowState.NOT_YET:
        opens = format_datetime(window.opens_at, turn.language)
        turn.say(turn.t("registration_not_yet", opens=opens))
        return
    closed = format_date(window.closed_at.date(), turn.language)
    early = window.state is WindowState.CLOSED_EARLY
    key = "registration_closed_early" if early else "registration_ended"
    turn.say(f"{turn.t(key, closed=closed)}\n\n{_still_possible(turn)}")


def _still_possible(turn: Turn) -> str:
    """What an applicant can still do once registration is closed, by how far they got."""
    applicant = turn.applicant
    if applicant.registration_number is not None:
        return turn.t("closed_can_registered", number=applicant.registration_number)
    if applicant.consent_at is not None:
        return turn.t("closed_can_unfinished")
    return turn.t("closed_can_read")
