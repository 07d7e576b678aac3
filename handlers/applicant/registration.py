"""Consent, the eligibility self-check, a guardian's consent, and finding where to resume."""

from __future__ import annotations

from core.callbacks import (
    Answer,
    ConsentButton,
    EligibilityAnswer,
    EligibilityButton,
    GuardianAction,
    GuardianButton,
    IneligibleAction,
    IneligibleButton,
    MenuButton,
    MenuItem,
)
from core.recruitment import Requirement
from core.types import Button, Reply
from handlers.applicant.profile_steps import ask_to_fix
from handlers.applicant.resume import resume_registration
from handlers.flow import Step, StepName, Turn
from handlers.profile import applicant_age


class ConsentStep(Step):
    async def prompt(self, turn: Turn) -> Reply:
        config = turn.deps.config
        documents = ", ".join(document.name.get(turn.language) for document in config.documents)
        text = turn.t(
            "consent",
            office=config.office.name,
            documents=documents,
            months=config.consent.retention_months,
            version=config.consent.version,
        )
        buttons = [
            turn.button(ConsentButton(Answer.YES), "consent_yes"),
            turn.button(ConsentButton(Answer.NO), "consent_no"),
        ]
        return Reply(text=text, buttons=buttons)

    async def on_choice(self, turn: Turn, choice: str) -> None:
        button = ConsentButton.unpack(choice)
        if button == ConsentButton(Answer.YES):
            turn.applicant.consent_at = turn.now
            turn.applicant.consent_version = turn.deps.config.consent.version
            await turn.audit.record(
                turn.actor,
                "consent_given",
                turn.now,
                turn.applicant.id,
                {"version": turn.deps.config.consent.version},
            )
            turn.say(turn.t("consent_thanks"))
            await resume_registration(turn)
        elif button == ConsentButton(Answer.NO):
            turn.say(turn.t("consent_declined"))
            await turn.goto(StepName.MENU)
        else:
            await super().on_choice(turn, choice)


def _answers(item: Requirement) -> tuple[EligibilityAnswer, EligibilityAnswer]:
    """(meets, fails) of a required item: yes/no, or met/unmet when it has its own labels."""
    if item.answers is None:
        return EligibilityAnswer.YES, EligibilityAnswer.NO
    return EligibilityAnswer.MET, EligibilityAnswer.UNMET


def eligibility_buttons(turn: Turn, item: Requirement) -> list[Button]:
    """The two answers to a required item: "Ya"/"Tidak", or the item's own labels (then the
    ids do not end in yes/no, so a typed "ya" is not read as an answer it may not mean)."""
    if item.answers is None:
        return [
            turn.button(EligibilityButton(EligibilityAnswer.YES), "answer_yes"),
            turn.button(EligibilityButton(EligibilityAnswer.NO), "answer_no"),
        ]
    return [
        Button(
            id=EligibilityButton(EligibilityAnswer.MET).pack(),
            label=item.answers.meets.get(turn.language),
        ),
        Button(
            id=EligibilityButton(EligibilityAnswer.UNMET).pack(),
            label=item.answers.fails.get(turn.language),
        ),
    ]


class EligibilityStep(Step):
    def _item(self, turn: Turn) -> tuple[int, Requirement]:
        items = turn.deps.config.required_items
        number = turn.chat.data["number"]
        return next((i, item) for i, item in enumerate(items, 1) if item.number == number)

    async def prompt(self, turn: Turn) -> Reply:
        position, item = self._item(turn)
        assert item.question is not None  # guaranteed by the config's validation
        text = turn.t(
            "eligibility_question",
            index=position,
            total=len(turn.deps.config.required_items),
            question=item.question.get(turn.language),
        )
        return Reply(text=text, buttons=eligibility_buttons(turn, item))

    async def on_choice(self, turn: Turn, choice: str) -> None:
        _, item = self._item(turn)
        meets, fails = _answers(item)
        answer = button.answer if (button := EligibilityButton.unpack(choice)) else None
        if answer not in (meets, fails):
            await super().on_choice(turn, choice)
            return
        turn.applicant.eligibility = {
            **turn.applicant.eligibility,
            str(item.number): answer is meets,
        }
        await resume_registration(turn)


class IneligibleStep(Step):
    async def prompt(self, turn: Turn) -> Reply:
        number = turn.chat.data["number"]
        item = next(i for i in turn.deps.config.required_items if i.number == number)
        text = turn.t("ineligible", requirement=item.text.get(turn.language))
        buttons = [
            turn.button(IneligibleButton(IneligibleAction.RETRY), "ineligible_retry"),
            turn.button(MenuButton(MenuItem.HOME), "to_menu"),
        ]
        return Reply(text=text, buttons=buttons)

    async def on_choice(self, turn: Turn, choice: str) -> None:
        if IneligibleButton.unpack(choice) != IneligibleButton(IneligibleAction.RETRY):
            await super().on_choice(turn, choice)
            return
        number = turn.chat.data["number"]
        answers = dict(turn.applicant.eligibility)
        answers.pop(str(number), None)
        turn.applicant.eligibility = answers
        await turn.goto(StepName.ELIGIBILITY, number=number)


class GuardianStep(Step):
    async def prompt(self, turn: Turn) -> Reply:
        text = turn.t("guardian", age=applicant_age(turn))
        buttons = [
            turn.button(GuardianButton(GuardianAction.YES), "guardian_yes"),
            turn.button(GuardianButton(GuardianAction.FIX), "guardian_fix"),
            turn.button(MenuButton(MenuItem.HOME), "to_menu"),
        ]
        return Reply(text=text, buttons=buttons)

    async def on_choice(self, turn: Turn, choice: str) -> None:
        button = GuardianButton.unpack(choice)
        if button == GuardianButton(GuardianAction.YES):
            turn.applicant.guardian_consent_at = turn.now
            await turn.audit.record(
                turn.actor, "guardian_consent_given", turn.now, turn.applicant.id
            )
            await resume_registration(turn)
        elif button == GuardianButton(GuardianAction.FIX):
            await ask_to_fix(turn, "birth_date")
        else:
            await super().on_choice(turn, choice)
