"""Who may use staff powers: identities named in settings or added with `mitrabot staff add`."""

from __future__ import annotations

from handlers.flow import StepName, Turn


async def is_staff(turn: Turn) -> bool:
    """True when the sender is staff (named in settings, or added with `mitrabot staff add`)."""
    if turn.actor in turn.deps.staff_identities:
        return True
    return await turn.staff.is_staff(turn.incoming.channel.value, turn.incoming.user_id)


async def staff_only(turn: Turn) -> bool:
    """Check rights again at a step of a staff flow; refuse (logged) and go home if not staff."""
    if await is_staff(turn):
        return True
    await turn.audit.record(
        turn.actor, "staff_command_refused", turn.now, detail={"command": turn.chat.step}
    )
    turn.say(turn.t("staff_only"))
    await turn.goto(StepName.MENU)
    return False
