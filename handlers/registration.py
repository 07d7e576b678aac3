"""Consent, the eligibility self-check, a guardian's consent, and finding where to resume."""

from __future__ import annotations

from handlers.flow import NO, YES, Step, Turn, step
from handlers.profile import applicant_age
from handlers.profile_steps import ask_to_fix
from handlers.resume import resume_registration
from handlers.types import Reply


@step
class ConsentStep(Step):
    name = "consent"

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
            turn.button("consent:yes", "consent_yes"),
            turn.button("consent:no", "consent_no"),
        ]
        return Reply(text=text, buttons=buttons)

    async def on_choice(self, turn: Turn, choice: str) -> None:
        if choice == "consent:yes":
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
        elif choice == "consent:no":
            turn.say(turn.t("consent_declined"))
            await turn.goto("menu")
        else:
            await super().on_choice(turn, choice)


@step
class EligibilityStep(Step):
    name = "eligibility"

    async def prompt(self, turn: Turn) -> Reply:
        items = turn.deps.config.required_items
        number = turn.applicant.step_data["number"]
        position = next(i for i, item in enumerate(items, 1) if item.number == number)
        question = items[position - 1].question
        assert question is not None  # guaranteed by the config's validation
        text = turn.t(
            "eligibility_question",
            index=position,
            total=len(items),
            question=question.get(turn.language),
        )
        buttons = [turn.button(f"elig:{YES}", "answer_yes"), turn.button(f"elig:{NO}", "answer_no")]
        return Reply(text=text, buttons=buttons)

    async def on_choice(self, turn: Turn, choice: str) -> None:
        if choice not in (f"elig:{YES}", f"elig:{NO}"):
            await super().on_choice(turn, choice)
            return
        number = turn.applicant.step_data["number"]
        turn.applicant.eligibility = {
            **turn.applicant.eligibility,
            str(number): choice.endswith(YES),
        }
        await resume_registration(turn)


@step
class IneligibleStep(Step):
    name = "ineligible"

    async def prompt(self, turn: Turn) -> Reply:
        number = turn.applicant.step_data["number"]
        item = next(i for i in turn.deps.config.required_items if i.number == number)
        text = turn.t("ineligible", requirement=item.text.get(turn.language))
        buttons = [
            turn.button("inel:retry", "ineligible_retry"),
            turn.button("menu:home", "to_menu"),
        ]
        return Reply(text=text, buttons=buttons)

    async def on_choice(self, turn: Turn, choice: str) -> None:
        if choice != "inel:retry":
            await super().on_choice(turn, choice)
            return
        number = turn.applicant.step_data["number"]
        answers = dict(turn.applicant.eligibility)
        answers.pop(str(number), None)
        turn.applicant.eligibility = answers
        await turn.goto("eligibility", number=number)


@step
class GuardianStep(Step):
    name = "guardian"

    async def prompt(self, turn: Turn) -> Reply:
        text = turn.t("guardian", age=applicant_age(turn))
        buttons = [
            turn.button("guard:yes", "guardian_yes"),
            turn.button("guard:fix", "guardian_fix"),
            turn.button("menu:home", "to_menu"),
        ]
        return Reply(text=text, buttons=buttons)

    async def on_choice(self, turn: Turn, choice: str) -> None:
        if choice == "guard:yes":
            turn.applicant.guardian_consent_at = turn.now
            await turn.audit.record(
                turn.actor, "guardian_consent_given", turn.now, turn.applicant.id
            )
            await resume_registration(turn)
        elif choice == "guard:fix":
            await ask_to_fix(turn, "birth_date")
        else:
            await super().on_choice(turn, choice)
