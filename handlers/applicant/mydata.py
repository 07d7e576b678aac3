"""'My data': what is stored about the applicant, and erasing it for good."""

from __future__ import annotations

from core.callbacks import Answer, DeleteButton, MenuButton, MenuItem, MyDataAction, MyDataButton
from core.formatting import format_datetime
from core.types import Reply
from handlers.applicant.link import CHANNEL_NAMES, start_link
from handlers.applicant.profile_steps import profile_text
from handlers.applicant.resume import closed_for_registration, resume_registration
from handlers.applicant.sobat import checklist as sobat_checklist
from handlers.applicant.sobat import progress_of
from handlers.document_status import checklist
from handlers.flow import Step, StepName, Turn
from services.erasure import erase_applicant
from services.profile import profile_complete
from storage.repositories import ChatIdentities
from storage.sobat import SobatReports


async def _sobat_text(turn: Turn) -> str:
    """The SOBAT guide as stored: account answer, steps done or stuck, e-mail, own reports."""
    applicant = turn.applicant
    reports = await SobatReports(turn.session).of_applicant(applicant.id)
    if applicant.sobat_path is None and applicant.sobat_email is None and not reports:
        return turn.t("mydata_sobat_none")
    path = turn.t(f"mydata_sobat_{applicant.sobat_path}") if applicant.sobat_path else "-"
    lines = [
        turn.t(
            "mydata_sobat",
            path=path,
            checklist=sobat_checklist(turn, await progress_of(turn)),
            email=applicant.sobat_email or "-",
        )
    ]
    tz = turn.deps.config.tz
    for report in reports:
        at = format_datetime(report.created_at.astimezone(tz), turn.language)
        lines.append(turn.t("mydata_sobat_report", id=report.id, at=at, text=report.text))
        if report.answer:
            lines.append(turn.t("mydata_sobat_answer", answer=report.answer))
    return "\n".join(lines)


async def _chats_text(turn: Turn) -> str:
    """The chat accounts that speak for the applicant, with the phone numbers they prove."""
    lines = []
    for identity in await ChatIdentities(turn.session).of_applicant(turn.applicant.id):
        channel = CHANNEL_NAMES.get(identity.channel, identity.channel)
        phone = identity.verified_phone or identity.address
        key = "mydata_chat_phone" if phone else "mydata_chat"
        lines.append(turn.t(key, channel=channel, id=identity.external_id, phone=phone))
    return "\n".join(lines)


class MyDataStep(Step):
    async def prompt(self, turn: Turn) -> Reply:
        applicant = turn.applicant
        tz = turn.deps.config.tz
        if applicant.consent_at is None:
            text = turn.t("mydata_nothing", chats=await _chats_text(turn))
        else:
            consent = format_datetime(applicant.consent_at.astimezone(tz), turn.language)
            yes_count = sum(1 for answer in applicant.eligibility.values() if answer)
            eligibility = turn.t(
                "mydata_eligibility", yes=yes_count, total=len(turn.deps.config.required_items)
            )
            if applicant.guardian_consent_at is not None:
                at = format_datetime(applicant.guardian_consent_at.astimezone(tz), turn.language)
                eligibility += "\n" + turn.t("mydata_guardian", at=at)
            text = turn.t(
                "mydata",
                profile=profile_text(turn),
                documents=checklist(turn),
                consent=consent,
                version=applicant.consent_version,
                eligibility=eligibility,
                sobat=await _sobat_text(turn),
                chats=await _chats_text(turn),
                number=applicant.registration_number or "-",
                months=turn.deps.config.consent.retention_months,
            )
        buttons = []
        if applicant.consent_at is not None and not (await turn.registration_window()).is_over:
            buttons.append(turn.button(MyDataButton(MyDataAction.EDIT), "mydata_edit"))
        buttons += [
            turn.button(MyDataButton(MyDataAction.LINK), "mydata_link"),
            turn.button(MyDataButton(MyDataAction.DELETE), "mydata_delete"),
            turn.button(MenuButton(MenuItem.HOME), "to_menu"),
        ]
        return Reply(text=text, buttons=buttons)

    async def on_choice(self, turn: Turn, choice: str) -> None:
        action = button.action if (button := MyDataButton.unpack(choice)) else None
        if action is MyDataAction.EDIT and turn.applicant.consent_at is not None:
            if await closed_for_registration(turn):
                return
            if profile_complete(turn.applicant):
                await turn.goto(StepName.EDIT_PICK)
            else:
                await resume_registration(turn)
        elif action is MyDataAction.LINK:
            await start_link(turn)
        elif action is MyDataAction.DELETE:
            await turn.goto(StepName.DELETE_CONFIRM)
        else:
            await super().on_choice(turn, choice)


class DeleteConfirmStep(Step):
    async def prompt(self, turn: Turn) -> Reply:
        buttons = [
            turn.button(DeleteButton(Answer.YES), "delete_yes"),
            turn.button(DeleteButton(Answer.NO), "delete_no"),
        ]
        return Reply(text=turn.t("delete_confirm"), buttons=buttons)

    async def on_choice(self, turn: Turn, choice: str) -> None:
        button = DeleteButton.unpack(choice)
        if button == DeleteButton(Answer.YES):
            turn.files_to_forget += await erase_applicant(
                turn.session,
                turn.applicant,
                actor=turn.actor,
                by="applicant",
                now=turn.now,
                files=turn.deps.files,
            )
            turn.deleted = True
            turn.say(turn.t("deleted"))
        elif button == DeleteButton(Answer.NO):
            turn.say(turn.t("delete_cancelled"))
            await turn.goto(StepName.MENU)
        else:
            await super().on_choice(turn, choice)
