"""Questions typed anywhere in the conversation: answered from the config, offered as the two
likeliest topics, or handed to staff on request; then the pending question is asked again.

The matching is `services/faq.py`; the inbox and staff's answers are `services/questions.py`.
The typed question waits in the chat's step data (`ASKED`) until the applicant chooses.
"""

from __future__ import annotations

from core.callbacks import QuestionAction, QuestionButton
from core.types import Button
from handlers.applicant.menu import documents_text, howto_text, requirements_text, schedule_text
from handlers.flow import Turn
from services.faq import FaqIndex, Verdict, faq_index
from services.questions import Asker, hand_over, learned_phrasings, staff_chats

ASKED = "asked"
"""Step-data key of the typed question waiting for "ask staff" (kept beside the step's own)."""


async def _index(turn: Turn) -> FaqIndex:
    return faq_index(turn.deps.config, await learned_phrasings(turn.session))


async def answer_typed(turn: Turn, text: str) -> bool:
    """Answer a typed message if it is a question (True), else leave it to the step (False)."""
    index = await _index(turn)
    reading = index.read(text)
    if reading.verdict is Verdict.NONE:
        return False
    if reading.verdict is Verdict.ANSWER:
        turn.say(await topic_answer(turn, reading.topics[0]))
    else:
        _remember(turn, text)
        buttons = [_topic_button(turn, key, n) for n, key in enumerate(reading.topics, 1)]
        buttons.append(turn.button(QuestionButton(QuestionAction.STAFF), "question_to_staff"))
        if reading.verdict is Verdict.OFFER:
            titles = "\n".join(
                f"{n}. {_title(turn, key)}" for n, key in enumerate(reading.topics, 1)
            )
            turn.say(turn.t("question_offer", topics=titles), buttons)
        else:
            turn.say(turn.t("question_unsure"), buttons)
    await turn.reprompt()
    return True


async def on_question_button(turn: Turn, button: QuestionButton) -> None:
    """A topic offered for a typed question, or "ask staff"; then the pending question."""
    if button.action is QuestionAction.TOPIC and button.topic in _titles(turn):
        turn.say(await topic_answer(turn, button.topic))
    elif button.action is QuestionAction.STAFF and turn.chat.data.get(ASKED):
        await _hand_over(turn, str(turn.chat.data[ASKED]))
    else:
        turn.say(turn.t("stale_button"))
    await turn.reprompt()


async def _hand_over(turn: Turn, text: str) -> None:
    incoming = turn.incoming
    ranked = (await _index(turn)).rank(text)
    asker = Asker(
        applicant_id=turn.known_applicant.id if turn.known_applicant else None,
        channel=incoming.channel.value,
        recipient=incoming.address or incoming.user_id,
        language=turn.language,
        actor=turn.actor,
    )
    staff = await staff_chats(turn.session, turn.deps.staff_identities)
    question = await hand_over(
        turn.session,
        turn.deps.config,
        turn.deps.catalog,
        asker,
        text,
        ranked[0].key if ranked else None,
        staff,
        turn.now,
    )
    turn.chat.data = {key: value for key, value in turn.chat.data.items() if key != ASKED}
    turn.say(turn.t("question_handed_over", id=question.id))


def _remember(turn: Turn, text: str) -> None:
    turn.chat.data = {**turn.chat.data, ASKED: text}


def _titles(turn: Turn) -> dict[str, str]:
    """Each topic's title in this chat's language: the FAQ question or the SOBAT problem."""
    config = turn.deps.config
    titles = {faq.key: faq.question.get(turn.language) for faq in config.faq}
    titles |= {fix.key: fix.problem.get(turn.language) for fix in config.sobat.fixes if fix.key}
    return titles


def _title(turn: Turn, key: str) -> str:
    return _titles(turn).get(key, key)


def _topic_button(turn: Turn, key: str, number: int) -> Button:
    data = QuestionButton(QuestionAction.TOPIC, key).pack()
    return Button(
        id=data, label=_title(turn, key), title=turn.t("question_topic_short", number=number)
    )


async def topic_answer(turn: Turn, key: str) -> str:
    """What the config says on topic `key`: the FAQ's answer or page, or the SOBAT fix."""
    config = turn.deps.config
    language = turn.language
    for faq in config.faq:
        if faq.key != key:
            continue
        if faq.answer is not None:
            return f"❓ {faq.question.get(language)}\n{faq.answer.get(language)}"
        pages = {
            "requirements": requirements_text,
            "howto": howto_text,
            "documents": documents_text,
        }
        return await schedule_text(turn) if faq.page == "schedule" else pages[faq.page](turn)
    fix = next(fix for fix in config.sobat.fixes if fix.key == key)
    return f"🆘 {fix.problem.get(language)}\n{fix.fix.get(language)}"
