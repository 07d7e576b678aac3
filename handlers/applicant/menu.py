"""The main menu and the information pages: requirements, how to register, schedule, FAQ, help."""

from __future__ import annotations

from core.callbacks import MenuButton, MenuItem
from core.formatting import format_date, format_datetime
from core.types import Button, Reply
from handlers.applicant.link import offer_link
from handlers.applicant.resume import closed_for_registration, resume_registration
from handlers.applicant.sobat import open_sobat
from handlers.applicant.status import expectation, status_text
from handlers.document_status import asked_again, missing_documents
from handlers.flow import Step, StepName, Turn
from services.results import FINAL
from services.window import WindowState
from storage.results import Publications

MENU_ITEMS = (
    MenuItem.STATUS,
    MenuItem.SOBAT,
    MenuItem.DOCUMENTS,
    MenuItem.REQUIREMENTS,
    MenuItem.HOWTO,
    MenuItem.SCHEDULE,
    MenuItem.FAQ,
    MenuItem.MYDATA,
    MenuItem.LANGUAGE,
    MenuItem.HELP,
)


async def register_button(turn: Turn) -> Button | None:
    """The registration button: it says whether registration starts, goes on or is done; none
    once registration is over for someone who had not registered. (A staff chat that speaks
    for no applicant sees what someone who has not started sees.)"""
    applicant = turn.known_applicant
    over = (await turn.registration_window()).is_over
    if applicant is not None and applicant.registration_number:
        register_key: str | None = "menu_register_view"
    elif over:
        register_key = None
    elif applicant is not None and applicant.consent_at:
        register_key = "menu_register_continue"
    else:
        register_key = "menu_register_start"
    return turn.button(MenuButton(MenuItem.REGISTER), register_key) if register_key else None


async def menu_buttons(turn: Turn) -> list[Button]:
    """The main menu, the registration button first.

    Once registration is over, nothing that registers is offered: no "Daftar" or "Lanjutkan
    pendaftaran" (the registered still see theirs) and no documents, unless staff asked for
    one again.
    """
    register = await register_button(turn)
    closed = (await turn.registration_window()).is_over and not asked_again(turn)
    buttons = [register] if register else []
    items = [item for item in MENU_ITEMS if not (closed and item is MenuItem.DOCUMENTS)]
    buttons += [turn.button(MenuButton(item), f"menu_{item}") for item in items]
    return buttons


class WelcomeStep(Step):
    """A chat the bot has never seen: welcome it, then offer to link it to the other app's chat
    of the same proven number (when it speaks for an applicant: not a staff chat), or show the
    menu; whatever the first message was."""

    async def prompt(self, turn: Turn) -> Reply:
        config = turn.deps.config
        return Reply(text=turn.t("welcome", office=config.office.short_name, year=config.year))

    async def on_any(self, turn: Turn) -> bool:
        turn.replies.append(await self.prompt(turn))
        phone = turn.incoming.verified_phone if turn.known_applicant else None
        if not (phone and await offer_link(turn, phone)):
            await turn.goto(StepName.MENU)
        return True


class MenuStep(Step):
    async def prompt(self, turn: Turn) -> Reply:
        return Reply(text=turn.t("menu"), buttons=await menu_buttons(turn))


async def show_page(turn: Turn, text: str, actions: list[Button] | None = None) -> None:
    """Show an information page with its own `actions` (if any) and one "Menu" button under
    it, not the whole menu again; the applicant is at the menu, so a typed menu item still
    opens it."""
    turn.move(StepName.MENU)
    turn.say(text, [*(actions or []), turn.button(MenuButton(MenuItem.HOME), "to_menu")])


async def open_menu_item(turn: Turn, item: MenuItem) -> None:
    """Act on a main-menu button, from wherever the applicant is."""
    if item is MenuItem.REGISTER:
        await resume_registration(turn)
    elif item is MenuItem.DOCUMENTS:
        await open_documents(turn)
    elif item is MenuItem.SOBAT:
        await open_sobat(turn)
    elif item is MenuItem.STATUS:
        unfinished = turn.applicant.registration_number is None
        register = await register_button(turn) if unfinished else None
        await show_page(turn, await status_text(turn), [register] if register else [])
    elif item is MenuItem.REQUIREMENTS:
        await show_page(turn, requirements_text(turn))
    elif item is MenuItem.HOWTO:
        await show_page(turn, howto_text(turn))
    elif item is MenuItem.SCHEDULE:
        await show_page(turn, await schedule_text(turn))
    elif item is MenuItem.FAQ:
        await show_page(turn, faq_text(turn))
    elif item is MenuItem.MYDATA:
        await turn.goto(StepName.MY_DATA)
    elif item is MenuItem.LANGUAGE:
        await switch_language(turn)
    elif item is MenuItem.HELP:
        await show_page(turn, help_text(turn))
    else:
        await turn.goto(StepName.MENU)


async def open_documents(turn: Turn) -> None:
    """The documents step: one staff asked for again (also once registration is closed), the
    first missing one, or the choice to replace one."""
    if turn.applicant.consent_at is None:
        await resume_registration(turn)  # consent comes before any personal data
        return
    asked = asked_again(turn)
    if not asked and await closed_for_registration(turn):
        return
    due = asked or missing_documents(turn)
    await turn.goto(StepName.DOCUMENTS, doc=due[0].key if due else None)


async def switch_language(turn: Turn) -> None:
    """Toggle Indonesian / English and ask the current question again in the new language."""
    turn.chat.language = "en" if turn.language == "id" else "id"
    turn.say(turn.t("language_changed"))
    await turn.reprompt()


def requirements_text(turn: Turn) -> str:
    config = turn.deps.config

    def listing(items: list) -> str:
        return "\n".join(f"{item.number}. {item.text.get(turn.language)}" for item in items)

    return turn.t(
        "requirements",
        title=config.title.get(turn.language),
        required=listing(config.required_items),
        preferred=listing(config.preferred_items),
    )


def howto_text(turn: Turn) -> str:
    config = turn.deps.config
    documents = "\n".join(
        f"{n}. {doc.name.get(turn.language)}" for n, doc in enumerate(config.documents, 1)
    )
    return turn.t("howto", steps=config.how_to_register.get(turn.language), documents=documents)


def documents_text(turn: Turn) -> str:
    """The documents of section C, each with what a good picture of it shows."""
    documents = "\n\n".join(
        f"{n}. {doc.name.get(turn.language)}\n{doc.hint.get(turn.language)}"
        for n, doc in enumerate(turn.deps.config.documents, 1)
    )
    return turn.t("documents_page", documents=documents)


async def schedule_text(turn: Turn) -> str:
    config = turn.deps.config
    schedule = config.schedule
    language = turn.language
    window = await turn.registration_window()
    today = turn.now.date()
    if window.state is WindowState.NOT_YET:
        status = turn.t("schedule_opens_in", days=(window.opens_at.date() - today).days)
    elif window.state is WindowState.OPEN:
        days = (window.closes_at.date() - today).days
        status = turn.t("schedule_days_left", days=days) if days else turn.t("schedule_last_day")
    elif window.state is WindowState.CLOSED_EARLY:
        status = turn.t("schedule_closed_early")
    else:
        status = turn.t("schedule_closed")
    stages = "\n".join(
        turn.t("schedule_stage", number=stage.number, name=stage.name.get(language))
        for stage in config.stages
    )
    announcement = config.local(schedule.announcement_at)
    text = turn.t(
        "schedule",
        registration_start=format_date(schedule.registration_start.date(), language),
        registration_end=format_datetime(config.local(schedule.registration_end), language),
        status=status,
        selection_start=format_date(schedule.selection_start, language),
        selection_end=format_date(schedule.selection_end, language),
        selection_status=_selection_status(turn),
        stages=stages,
        announcement=(
            format_datetime(announcement, language)
            if schedule.announcement_time
            else format_date(schedule.announcement, language)
        ),
        announcement_status=await _announcement_status(turn),
        today=format_date(today, language),
    )
    if window.state in (WindowState.NOT_YET, WindowState.OPEN):
        text += "\n\n" + turn.t("schedule_quota_note")
    return text


def _selection_status(turn: Turn) -> str:
    """Whether the selection period is ahead, running or over today."""
    schedule, today = turn.deps.config.schedule, turn.now.date()
    if today < schedule.selection_start:
        return turn.t("schedule_not_started")
    if today <= schedule.selection_end:
        return turn.t("schedule_running")
    return turn.t("schedule_finished")


async def _announcement_status(turn: Turn) -> str:
    """How far away the final announcement is, or that it is today, published or processed."""
    if FINAL in await Publications(turn.session).all():
        return turn.t("schedule_published")
    kind, _ = expectation(turn.deps.config, FINAL, turn.now)
    if kind == "on":
        days = (turn.deps.config.schedule.announcement - turn.now.date()).days
        return turn.t("schedule_in_days", days=days)
    if kind in ("today", "today_at"):
        return turn.t("schedule_today")
    return turn.t("schedule_processing")


def faq_text(turn: Turn) -> str:
    """The FAQ entries with an answer of their own (the others are pages of the menu)."""
    entries = [
        f"❓ {faq.question.get(turn.language)}\n{faq.answer.get(turn.language)}"
        for faq in turn.deps.config.faq
        if faq.answer is not None
    ]
    return turn.t("faq", entries="\n\n".join(entries))


def contact_text(turn: Turn) -> str:
    contact = turn.deps.config.contact
    lines = [turn.deps.config.office.name]
    for key in ("address", "phone", "whatsapp", "email", "website"):
        value = getattr(contact, key)
        if value:
            lines.append(f"{turn.t(f'contact_{key}')}: {value}")
    if contact.hours:
        lines.append(f"{turn.t('contact_hours')}: {contact.hours.get(turn.language)}")
    return "\n".join(lines)


def help_text(turn: Turn) -> str:
    return turn.t("help", contact=contact_text(turn))
