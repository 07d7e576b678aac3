"""Applicants stop (/berhenti, or the button under a reminder) and restart (/ingatkan) reminders."""

from __future__ import annotations

from handlers.flow import Turn


async def stop_reminders(turn: Turn) -> None:
    """No more reminders for this applicant (results and staff broadcasts still arrive)."""
    if turn.applicant.reminders_off_at is None:
        turn.applicant.reminders_off_at = turn.now
        await turn.audit.record(turn.actor, "reminders_stopped", turn.now, turn.applicant.id)
    turn.say(turn.t("reminders_stopped"))
    await turn.reprompt()


async def resume_reminders(turn: Turn) -> None:
    """Reminders again, from the next one due."""
    if turn.applicant.reminders_off_at is not None:
        turn.applicant.reminders_off_at = None
        await turn.audit.record(turn.actor, "reminders_resumed", turn.now, turn.applicant.id)
    turn.say(turn.t("reminders_resumed"))
    await turn.reprompt()
