"""Who may use staff powers: identities named in settings or added with `mitrabot staff add`."""

from __future__ import annotations

from handlers.flow import Turn


async def is_staff(turn: Turn) -> bool:
    """True when the sender is staff (named in settings, or added with `mitrabot staff add`)."""
    if turn.actor in turn.deps.staff_identities:
        return True
    return await turn.staff.is_staff(turn.incoming.channel.value, turn.incoming.user_id)
