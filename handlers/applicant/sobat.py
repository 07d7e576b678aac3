"""The SOBAT guide: the official portal registration (announcement section B), a step at a time.

The applicant says whether they have a SOBAT account (path B.1 "new" or B.2 "existing"), gives the
e-mail of that account, then goes through the path's steps: each with a how-to and "done" or
"I'm stuck". Stuck gives the config's common fixes, then a report for staff in their own words.
Progress is stored per step, so the checklist survives restarts and a change of path.
"""

from __future__ import annotations

from core.callbacks import (
    MenuButton,
    MenuItem,
    SobatAction,
    SobatButton,
    SobatPath,
    SobatPathButton,
)
from core.recruitment import SobatStep
from core.types import Reply
from core.validation import Invalid, parse_email
from handlers.applicant.resume import resume_registration
from handlers.flow import Step, StepName, Turn
from services.sobat import enrolment_steps
from storage.sobat import SobatReports, SobatSteps

MAX_REPORT_LENGTH = 500


async def progress_of(turn: Turn) -> dict[str, str]:
    """{step key: done | stuck} of the applicant writing."""
    return await SobatSteps(turn.session).of_applicant(turn.applicant.id)


async def _set_progress(turn: Turn, key: str, state: str) -> None:
    await SobatSteps(turn.session).set(turn.applicant.id, key, state, turn.now)


async def sobat_enrolled(turn: Turn) -> bool:
    """Whether the applicant writing has marked the SOBAT enrolment done."""
    progress = await progress_of(turn)
    return any(progress.get(key) == "done" for key in enrolment_steps(turn.deps.config))


def _path(turn: Turn) -> list[SobatStep]:
    return turn.deps.config.sobat.path(turn.applicant.sobat_path or "new")


def checklist(turn: Turn, progress: dict[str, str]) -> str:
    """One line per step of the applicant's path: ✅ done, 🆘 stuck, ⬜ not yet."""
    marks = {"done": "✅", "stuck": "🆘"}
    return "\n".join(
        f"{marks.get(progress.get(item.key, ''), '⬜')} {n}. {item.title.get(turn.language)}"
        for n, item in enumerate(_path(turn), 1)
    )


def _first_open(turn: Turn, progress: dict[str, str]) -> int | None:
    return next((n for n, item in enumerate(_path(turn)) if progress.get(item.key) != "done"), None)


async def open_sobat(turn: Turn) -> None:
    """The guide from the menu: ask what is missing, else the first step not done."""
    applicant = turn.applicant
    if applicant.consent_at is None:
        await resume_registration(turn)  # consent before the e-mail is asked
        return
    if applicant.sobat_path is None:
        await turn.goto(StepName.SOBAT_ACCOUNT)
    elif applicant.sobat_email is None:
        await turn.goto(StepName.SOBAT_EMAIL)
    else:
        await _show_next(turn)


async def _show_next(turn: Turn) -> None:
    progress = await progress_of(turn)
    index = _first_open(turn, progress)
    if index is None:
        activity = turn.deps.config.sobat.activity
        turn.say(turn.t("sobat_all_done", checklist=checklist(turn, progress), activity=activity))
        await turn.goto(StepName.MENU)
        return
    await turn.goto(StepName.SOBAT_STEP, index=index)


class AccountStep(Step):
    """Has the applicant a SOBAT account already (B.2) or not (B.1)?"""

    async def prompt(self, turn: Turn) -> Reply:
        sobat = turn.deps.config.sobat
        return Reply(
            text=turn.t("sobat_account", portal=sobat.portal, activity=sobat.activity),
            buttons=[
                turn.button(SobatPathButton(SobatPath.NEW), "sobat_path_new"),
                turn.button(SobatPathButton(SobatPath.EXISTING), "sobat_path_existing"),
                turn.button(MenuButton(MenuItem.HOME), "to_menu"),
            ],
        )

    async def on_choice(self, turn: Turn, choice: str) -> None:
        button = SobatPathButton.unpack(choice)
        if button is None:
            await super().on_choice(turn, choice)
            return
        path = button.path
        changed = turn.applicant.sobat_path not in (None, path)
        turn.applicant.sobat_path = path
        await turn.audit.record(
            turn.actor, "sobat_path", turn.now, turn.applicant.id, {"path": path}
        )
        if changed:
            turn.say(turn.t("sobat_path_changed"))
        if turn.applicant.sobat_email is None:
            await turn.goto(StepName.SOBAT_EMAIL)
        else:
            await _show_next(turn)


class EmailStep(Step):
    """The e-mail of the SOBAT account (staff match SOBAT's lists by it)."""

    free_text = True

    async def prompt(self, turn: Turn) -> Reply:
        buttons = []
        if turn.applicant.email:
            buttons.append(
                turn.button(
                    SobatButton(SobatAction.EMAIL_SAME),
                    "sobat_email_same",
                    email=turn.applicant.email,
                )
            )
        buttons.append(turn.button(MenuButton(MenuItem.HOME), "to_menu"))
        return Reply(text=turn.t("sobat_email"), buttons=buttons)

    async def on_choice(self, turn: Turn, choice: str) -> None:
        if _action(choice) is SobatAction.EMAIL_SAME and turn.applicant.email:
            await self._save(turn, turn.applicant.email)
        else:
            await super().on_choice(turn, choice)

    async def reads_as_answer(self, turn: Turn, text: str) -> bool:
        try:
            parse_email(text)
        except Invalid:
            return False
        return True

    async def on_text(self, turn: Turn, text: str) -> None:
        try:
            email = parse_email(text)
        except Invalid as invalid:
            turn.say(turn.t(f"invalid_{invalid.code}", **invalid.params))
            await turn.reprompt()
            return
        await self._save(turn, email)

    async def _save(self, turn: Turn, email: str) -> None:
        turn.applicant.sobat_email = email
        turn.say(turn.t("sobat_email_saved", email=email))
        await _show_next(turn)


def _action(choice: str) -> SobatAction | None:
    """The guide's button pressed, if `choice` is one."""
    button = SobatButton.unpack(choice)
    return button.action if button else None


def _step_at(turn: Turn) -> tuple[int, SobatStep]:
    path = _path(turn)
    index = min(max(int(turn.chat.data.get("index", 0)), 0), len(path) - 1)
    return index, path[index]


class GuideStep(Step):
    """One SOBAT step: how to do it, and done / stuck / back."""

    async def prompt(self, turn: Turn) -> Reply:
        index, item = _step_at(turn)
        progress = await progress_of(turn)
        path = _path(turn)
        done = sum(1 for each in path if progress.get(each.key) == "done")
        text = turn.t(
            "sobat_step",
            number=index + 1,
            total=len(path),
            title=item.title.get(turn.language),
            how=item.how.get(turn.language),
            checklist=checklist(turn, progress),
            done=done,
        )
        buttons = [
            turn.button(SobatButton(SobatAction.DONE), "sobat_done"),
            turn.button(SobatButton(SobatAction.STUCK), "sobat_stuck"),
        ]
        if index > 0:
            buttons.append(turn.button(SobatButton(SobatAction.BACK), "sobat_back"))
        buttons += [
            turn.button(SobatButton(SobatAction.CHANGE), "sobat_change_path"),
            turn.button(SobatButton(SobatAction.EMAIL), "sobat_change_email"),
            turn.button(MenuButton(MenuItem.HOME), "to_menu"),
        ]
        return Reply(text=text, buttons=buttons)

    async def on_choice(self, turn: Turn, choice: str) -> None:
        index, item = _step_at(turn)
        action = _action(choice)
        if action is SobatAction.DONE:
            await _set_progress(turn, item.key, "done")
            await turn.audit.record(
                turn.actor, "sobat_step_done", turn.now, turn.applicant.id, {"step": item.key}
            )
            await _show_next(turn)
        elif action is SobatAction.STUCK:
            await turn.goto(StepName.SOBAT_STUCK, index=index)
        elif action is SobatAction.BACK and index > 0:
            await turn.goto(StepName.SOBAT_STEP, index=index - 1)
        elif action is SobatAction.CHANGE:
            await turn.goto(StepName.SOBAT_ACCOUNT)
        elif action is SobatAction.EMAIL:
            await turn.goto(StepName.SOBAT_EMAIL)
        else:
            await super().on_choice(turn, choice)


def fixes_text(turn: Turn, key: str) -> str:
    """The config's common fixes for step `key`, numbered."""
    fixes = [fix for fix in turn.deps.config.sobat.fixes if not fix.steps or key in fix.steps]
    return "\n\n".join(
        f"{n}. {fix.problem.get(turn.language)}\n{fix.fix.get(turn.language)}"
        for n, fix in enumerate(fixes, 1)
    )


class StuckStep(Step):
    """Common fixes for the step; if none helps, a report for staff."""

    async def prompt(self, turn: Turn) -> Reply:
        _, item = _step_at(turn)
        fixes = fixes_text(turn, item.key) or turn.t("sobat_no_fixes")
        return Reply(
            text=turn.t("sobat_fixes", title=item.title.get(turn.language), fixes=fixes),
            buttons=[
                turn.button(SobatButton(SobatAction.FIXED), "sobat_fixed"),
                turn.button(SobatButton(SobatAction.REPORT), "sobat_report"),
                turn.button(SobatButton(SobatAction.STEP), "sobat_back_to_step"),
            ],
        )

    async def on_choice(self, turn: Turn, choice: str) -> None:
        index = turn.chat.data.get("index", 0)
        action = _action(choice)
        if action in (SobatAction.FIXED, SobatAction.STEP):
            await turn.goto(StepName.SOBAT_STEP, index=index)
        elif action is SobatAction.REPORT:
            await turn.goto(StepName.SOBAT_REPORT, index=index)
        else:
            await super().on_choice(turn, choice)


class ReportStep(Step):
    """The applicant describes the problem; staff get it and answer in the applicant's chat."""

    free_text = True

    async def prompt(self, turn: Turn) -> Reply:
        _, item = _step_at(turn)
        return Reply(
            text=turn.t(
                "sobat_report_ask", title=item.title.get(turn.language), limit=MAX_REPORT_LENGTH
            ),
            buttons=[turn.button(SobatButton(SobatAction.STEP), "sobat_back_to_step")],
        )

    async def on_choice(self, turn: Turn, choice: str) -> None:
        if _action(choice) is SobatAction.STEP:
            await turn.goto(StepName.SOBAT_STEP, index=turn.chat.data.get("index", 0))
        else:
            await super().on_choice(turn, choice)

    async def on_text(self, turn: Turn, text: str) -> None:
        if len(text) > MAX_REPORT_LENGTH:
            turn.say(turn.t("too_long", length=len(text), limit=MAX_REPORT_LENGTH))
            await turn.reprompt()
            return
        index, item = _step_at(turn)
        report = await SobatReports(turn.session).add(turn.applicant.id, item.key, text, turn.now)
        await _set_progress(turn, item.key, "stuck")
        await turn.audit.record(
            turn.actor, "sobat_stuck_reported", turn.now, turn.applicant.id, {"report": report.id}
        )
        within = turn.deps.config.sobat.help_within
        if within is None:
            turn.say(turn.t("sobat_reported", id=report.id))
        else:
            turn.say(
                turn.t("sobat_reported_within", id=report.id, within=within.get(turn.language))
            )
        await turn.goto(StepName.SOBAT_STEP, index=index)
