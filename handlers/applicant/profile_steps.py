"""Asking each profile field, the NIK cross-check, the summary, editing and confirming."""

from __future__ import annotations

from core.callbacks import (
    EDIT_BACK,
    EditButton,
    FieldButton,
    MenuButton,
    MenuItem,
    NikAction,
    NikButton,
    SummaryAction,
    SummaryButton,
)
from core.formatting import format_date
from core.types import Button, Reply
from core.validation import Invalid, parse_nik
from handlers.applicant.resume import closed_for_registration, resume_registration
from handlers.applicant.sobat import open_sobat, sobat_enrolled
from handlers.document_status import checklist, missing_documents
from handlers.flow import Step, StepName, Turn, match_button
from handlers.profile import (
    FIELDS,
    FIELDS_BY_NAME,
    FieldSpec,
    display_value,
    needs_guardian,
    needs_nik_check,
    nik_fingerprint,
    nik_mismatches,
    preferred_status,
)
from services.profile import profile_complete


def _spec(turn: Turn) -> FieldSpec:
    return FIELDS_BY_NAME[turn.chat.data["field"]]


async def _after_field(turn: Turn, name: str, before: str) -> None:
    """Where a saved answer leads: what changed (and the summary's next action) after an edit
    of a complete profile, else onwards to the next open question."""
    if not turn.chat.data.get("edit") or not profile_complete(turn.applicant):
        await resume_registration(turn)
    elif needs_guardian(turn):
        await turn.goto(StepName.GUARDIAN, edit=True)
    elif needs_nik_check(turn):
        await turn.goto(StepName.NIK_CHECK, edit=True)
    else:
        _show_change(turn, name, before)


async def ask_to_fix(turn: Turn, name: str) -> None:
    """Ask field `name` again from a cross-check (NIK, guardian); the answer leads back where
    the applicant was: the summary when they were editing, else the next unanswered question."""
    await turn.goto(StepName.FIELD, field=name, edit=bool(turn.chat.data.get("edit")))


def _refuse(turn: Turn, refusal: Invalid) -> None:
    """Say why an answer was refused; the question stays open."""
    turn.say(turn.t(f"invalid_{refusal.code}", **refusal.params))


class FieldStep(Step):
    free_text = True

    async def prompt(self, turn: Turn) -> Reply:
        spec = _spec(turn)
        text = turn.t(f"ask_{spec.name}")
        if getattr(turn.applicant, spec.name) is not None:
            text += "\n\n" + turn.t("current_value", value=display_value(turn, spec.name))
        buttons = []
        if spec.options is not None:
            buttons = [
                Button(id=FieldButton(spec.name, option.value).pack(), label=option.label)
                for option in spec.options(turn)
            ]
        return Reply(text=text, buttons=buttons)

    async def on_text(self, turn: Turn, text: str) -> None:
        spec = _spec(turn)
        if spec.options is not None:
            await self._typed_choice(turn, spec, text)
            return
        assert spec.parse is not None
        try:
            value = await spec.parse(turn, text)
        except Invalid as refusal:
            _refuse(turn, refusal)
            return
        await self._save(turn, spec, value)

    async def reads_as_answer(self, turn: Turn, text: str) -> bool:
        """A typed option, or a typed answer that passes the field's check; no answer to a
        profile question holds a "?" (an address check alone would take any question)."""
        spec = _spec(turn)
        if spec.options is not None:
            return await self._typed_option(turn, spec, text) is not None
        assert spec.parse is not None
        try:
            await spec.parse(turn, text)
        except Invalid:
            return False
        return "?" not in text

    async def _typed_option(self, turn: Turn, spec: FieldSpec, text: str) -> str | None:
        """The option button a typed text names (an alias, its label, its number, yes/no)."""
        assert spec.options is not None
        options = spec.options(turn)
        typed = text.strip().casefold()
        alias = next((o for o in options if typed in (a.casefold() for a in o.aliases)), None)
        choice = FieldButton(spec.name, alias.value).pack() if alias else None
        return choice or match_button(text, (await self.prompt(turn)).buttons)

    async def _typed_choice(self, turn: Turn, spec: FieldSpec, text: str) -> None:
        choice = await self._typed_option(turn, spec, text)
        if choice is None:
            await super().on_text(turn, text)
        else:
            await self.on_choice(turn, choice)

    async def on_choice(self, turn: Turn, choice: str) -> None:
        spec = _spec(turn)
        values = {option.value for option in spec.options(turn)} if spec.options else set()
        button = FieldButton.unpack(choice)
        if button is None or button.field != spec.name or button.value not in values:
            await super().on_choice(turn, choice)
            return
        await self._save(turn, spec, spec.from_choice(button.value))

    async def _save(self, turn: Turn, spec: FieldSpec, value: object) -> None:
        before = display_value(turn, spec.name)
        if spec.store is None:
            setattr(turn.applicant, spec.name, value)
        else:
            try:
                await spec.store(turn, value)
            except Invalid as refusal:
                _refuse(turn, refusal)
                return
        if spec.name == "birth_date" and not turn.chat.data.get("edit"):
            turn.say(turn.t("saved_birth_date", value=display_value(turn, "birth_date")))
        await _after_field(turn, spec.name, before)


class NikCheckStep(Step):
    async def prompt(self, turn: Turn) -> Reply:
        applicant = turn.applicant
        assert applicant.nik is not None
        nik = parse_nik(applicant.nik)
        mismatches = nik_mismatches(applicant)
        lines = []
        if "birth_date" in mismatches:
            born = nik.birth_date(turn.now.date())
            nik_date = format_date(born, turn.language) if born else "-"
            lines.append(
                turn.t(
                    "nik_mismatch_date",
                    nik_date=nik_date,
                    typed=format_date(applicant.birth_date, turn.language),
                )
            )
        if "sex" in mismatches:
            nik_sex = turn.t("sex_female" if nik.female else "sex_male")
            lines.append(
                turn.t("nik_mismatch_sex", nik_sex=nik_sex, typed=display_value(turn, "sex"))
            )
        buttons = [turn.button(NikButton(NikAction.FIX_DATE), "nik_fix_date")]
        if "sex" in mismatches:
            buttons.append(turn.button(NikButton(NikAction.FIX_SEX), "nik_fix_sex"))
        buttons += [
            turn.button(NikButton(NikAction.FIX_NIK), "nik_fix_nik"),
            turn.button(NikButton(NikAction.OK), "nik_ok"),
        ]
        text = turn.t("nik_mismatch", nik=applicant.nik, details="\n".join(lines))
        return Reply(text=text, buttons=buttons)

    async def on_choice(self, turn: Turn, choice: str) -> None:
        action = button.action if (button := NikButton.unpack(choice)) else None
        targets = {
            NikAction.FIX_DATE: "birth_date",
            NikAction.FIX_SEX: "sex",
            NikAction.FIX_NIK: "nik",
        }
        if action in targets:
            await ask_to_fix(turn, targets[action])
        elif action is NikAction.OK:
            turn.applicant.nik_check_ack = nik_fingerprint(turn.applicant)
            await turn.audit.record(
                turn.actor,
                "nik_mismatch_confirmed",
                turn.now,
                turn.applicant.id,
                {"fields": nik_mismatches(turn.applicant)},
            )
            await resume_registration(turn)
        else:
            await super().on_choice(turn, choice)


def profile_text(turn: Turn) -> str:
    """Every profile answer, one per line, as the applicant reads them."""
    lines = [f"{turn.t(f'field_{spec.name}')}: {display_value(turn, spec.name)}" for spec in FIELDS]
    return "\n".join(lines)


PREFERRED_MARKS = {True: ("✅", "met"), False: ("➖", "unmet"), None: ("…", "unknown")}


def _preferred_text(turn: Turn) -> tuple[str, str]:
    """The preferred items with their marks, and what each mark shown means."""
    statuses = preferred_status(turn)
    lines = [f"{PREFERRED_MARKS[met][0]} {text}" for text, met in statuses]
    shown = {met for _, met in statuses}
    legend = [
        turn.t(f"preferred_legend_{meaning}")
        for met, (_, meaning) in PREFERRED_MARKS.items()
        if met in shown
    ]
    return "\n".join(lines), "\n".join(legend)


def _next_action(turn: Turn) -> tuple[str, list[Button]]:
    """What the applicant can do from the summary: already registered, hand in the missing
    documents, or submit."""
    applicant = turn.applicant
    if applicant.registration_number:
        return turn.t("summary_registered", number=applicant.registration_number), []
    if missing_documents(turn):
        return turn.t("summary_documents_missing"), [
            turn.button(MenuButton(MenuItem.DOCUMENTS), "summary_documents")
        ]
    return turn.t("summary_check"), [
        turn.button(SummaryButton(SummaryAction.CONFIRM), "summary_confirm")
    ]


def _show_change(turn: Turn, name: str, before: str) -> None:
    """After one edit: only what changed and the next action, not the whole summary again."""
    turn.move(StepName.SUMMARY)
    after = display_value(turn, name)
    field = turn.t(f"field_{name}")
    if after == before:
        text = turn.t("edit_unchanged", field=field, value=after)
    else:
        text = turn.t("edit_changed", field=field, before=before, after=after)
    note, action = _next_action(turn)
    buttons = [
        *action,
        turn.button(SummaryButton(SummaryAction.EDIT), "summary_edit_more"),
        turn.button(SummaryButton(SummaryAction.SHOW), "summary_show"),
    ]
    turn.say(f"{text}\n\n{note}", buttons)


class SummaryStep(Step):
    async def prompt(self, turn: Turn) -> Reply:
        preferred, legend = _preferred_text(turn)
        text = turn.t(
            "summary",
            profile=profile_text(turn),
            documents=checklist(turn),
            preferred=preferred,
            legend=legend,
        )
        note, action = _next_action(turn)
        over = (await turn.registration_window()).is_over  # nothing can be changed any more
        edit = [] if over else [turn.button(SummaryButton(SummaryAction.EDIT), "summary_edit")]
        buttons = [*action, *edit, turn.button(MenuButton(MenuItem.HOME), "to_menu")]
        return Reply(text=f"{text}\n\n{note}", buttons=buttons)

    async def on_choice(self, turn: Turn, choice: str) -> None:
        action = button.action if (button := SummaryButton.unpack(choice)) else None
        if action is SummaryAction.EDIT:
            if not await closed_for_registration(turn):
                await turn.goto(StepName.EDIT_PICK)
        elif action is SummaryAction.SHOW:
            await turn.goto(StepName.SUMMARY)
        elif action is SummaryAction.CONFIRM and turn.applicant.registration_number is None:
            await _confirm(turn)
        else:
            await super().on_choice(turn, choice)


async def _confirm(turn: Turn) -> None:
    applicant = turn.applicant
    config = turn.deps.config
    incomplete = not profile_complete(applicant) or missing_documents(turn)
    if incomplete or needs_guardian(turn) or needs_nik_check(turn):
        await resume_registration(turn)
        return
    if await closed_for_registration(turn):
        return
    sequence = await turn.counters.next(f"registration:{config.registration_number_prefix}")
    applicant.registration_number = f"{config.registration_number_prefix}-{sequence:05d}"
    applicant.confirmed_at = turn.now
    await turn.audit.record(
        turn.actor,
        "registration_confirmed",
        turn.now,
        applicant.id,
        {"registration_number": applicant.registration_number},
    )
    schedule = config.schedule
    params = {
        "number": applicant.registration_number,
        "portal": config.sobat.portal,
        "activity": config.sobat.activity,
        "closes": format_date(schedule.registration_end.date(), turn.language),
        "selection_start": format_date(schedule.selection_start, turn.language),
        "selection_end": format_date(schedule.selection_end, turn.language),
        "announcement": format_date(schedule.announcement, turn.language),
    }
    if await sobat_enrolled(turn):
        turn.say(turn.t("confirmed_sobat_done", **params))
        await turn.goto(StepName.MENU)
        return
    # The bot's number is not the official registration: say so first, then open the guide.
    turn.say(turn.t("confirmed", **params))
    await open_sobat(turn)


class EditPickStep(Step):
    async def prompt(self, turn: Turn) -> Reply:
        buttons = [turn.button(EditButton(spec.name), f"field_{spec.name}") for spec in FIELDS]
        buttons.append(turn.button(EditButton(EDIT_BACK), "edit_back"))
        return Reply(text=turn.t("edit_pick"), buttons=buttons)

    async def on_choice(self, turn: Turn, choice: str) -> None:
        name = button.field if (button := EditButton.unpack(choice)) else None
        if name in FIELDS_BY_NAME:
            await turn.goto(StepName.FIELD, field=name, edit=True)
        elif name == EDIT_BACK:
            await turn.goto(StepName.SUMMARY)
        else:
            await super().on_choice(turn, choice)
