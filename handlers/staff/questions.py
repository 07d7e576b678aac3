"""Staff's inbox of typed questions in chat: `/pertanyaan` lists them, `/jawab N …` answers."""

from __future__ import annotations

from handlers.flow import Turn
from services.questions import answer_question, inbox_text


async def list_questions(turn: Turn, argument: str) -> bool:
    """The open questions, oldest first."""
    turn.say(await inbox_text(turn.session, turn.deps.config, turn.deps.catalog, turn.language))
    return False


async def answer(turn: Turn, argument: str) -> bool:
    """`/jawab 12 teks`: the answer goes to the chat that asked, through the outbox."""
    number, _, text = argument.partition(" ")
    if not number.isdigit() or not text.strip():
        turn.say(turn.t("staff_answer_usage"))
        return False
    deps = turn.deps
    question = await answer_question(
        turn.session, deps.config, deps.catalog, int(number), text.strip(), turn.actor, turn.now
    )
    turn.say(turn.t("staff_answer_sent" if question else "staff_answer_not_found", id=number))
    return False
