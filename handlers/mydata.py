"""'My data': what is stored about the applicant, and erasing it for good."""

from __future__ import annotations

from handlers.document_status import checklist
from handlers.flow import Step, Turn, step
from handlers.formatting import format_datetime
from handlers.link import start_link
from handlers.profile import profile_complete
from handlers.profile_steps import profile_text
from handlers.resume import resume_registration
from handlers.types import Reply


@step
class MyDataStep(Step):
    name = "my_data"

    async def prompt(self, turn: Turn) -> Reply:
        applicant = turn.applicant
        if applicant.consent_at is None:
            text = turn.t("mydata_nothing")
        else:
            consent = format_datetime(
                applicant.consent_at.astimezone(turn.deps.config.tz), turn.language
            )
            yes_count = sum(1 for answer in applicant.eligibility.values() if answer)
            text = turn.t(
                "mydata",
                profile=profile_text(turn),
                documents=checklist(turn),
                consent=consent,
                version=applicant.consent_version,
                eligibility=turn.t(
                    "mydata_eligibility", yes=yes_count, total=len(turn.deps.config.required_items)
                ),
                number=applicant.registration_number or "-",
                months=turn.deps.config.consent.retention_months,
            )
        buttons = []
        if applicant.consent_at is not None:
            buttons.append(turn.button("md:edit", "mydata_edit"))
        buttons += [
            turn.button("md:link", "mydata_link"),
            turn.button("md:delete", "mydata_delete"),
            turn.button("menu:home", "to_menu"),
        ]
        return Reply(text=text, buttons=buttons)

    async def on_choice(self, turn: Turn, choice: str) -> None:
        if choice == "md:edit" and turn.applicant.consent_at is not None:
            if profile_complete(turn.applicant):
                await turn.goto("edit_pick")
            else:
                await resume_registration(turn)
        elif choice == "md:link":
            await start_link(turn)
        elif choice == "md:delete":
            await turn.goto("delete_confirm")
        else:
            await super().on_choice(turn, choice)


@step
class DeleteConfirmStep(Step):
    name = "delete_confirm"

    async def prompt(self, turn: Turn) -> Reply:
        buttons = [turn.button("del:yes", "delete_yes"), turn.button("del:no", "delete_no")]
        return Reply(text=turn.t("delete_confirm"), buttons=buttons)

    async def on_choice(self, turn: Turn, choice: str) -> None:
        if choice == "del:yes":
            applicant = turn.applicant
            await turn.audit.record(
                turn.actor,
                "applicant_deleted",
                turn.now,
                applicant.id,
                {"registration_number": applicant.registration_number, "by": "applicant"},
            )
            turn.files_to_forget.extend(document.path for document in applicant.documents)
            await turn.applicants.delete(applicant)
            turn.deleted = True
            turn.say(turn.t("deleted"))
        elif choice == "del:no":
            turn.say(turn.t("delete_cancelled"))
            await turn.goto("menu")
        else:
            await super().on_choice(turn, choice)
