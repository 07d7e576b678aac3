"""The pieces every step uses: the step names, the turn being answered, and what a step is.

The table of every step (its class, the file it expects, whether it registers, where /batal
goes) is `handlers/steps.py`; a turn reaches it through `Turn.flow`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum, StrEnum, auto
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict
from sqlalchemy.ext.asyncio import AsyncSession

from core.callbacks import CallbackData
from core.catalog import Catalog
from core.clock import Clock
from core.observer import NO_OBSERVER, Observer
from core.recruitment import RecruitmentConfig
from core.types import Button, Incoming, Reply
from core.validation import parse_yes_no
from services.uploads import TableUpload, Upload
from services.window import RegistrationWindow, registration_window
from storage.files import FileStore
from storage.models import Applicant, ChatSession
from storage.repositories import Applicants, Audit, Counters, Flags, Staff

YES, NO = "yes", "no"


class StepName(StrEnum):
    """Every place in the conversation; the value is what `ChatSession.step` stores."""

    NEW = "new"
    MENU = "menu"
    LINK_PHONE = "link_phone"
    LINK_CONFIRM = "link_confirm"
    CONSENT = "consent"
    ELIGIBILITY = "eligibility"
    INELIGIBLE = "ineligible"
    GUARDIAN = "guardian"
    FIELD = "field"
    NIK_CHECK = "nik_check"
    DOCUMENTS = "documents"
    SUMMARY = "summary"
    EDIT_PICK = "edit_pick"
    MY_DATA = "my_data"
    DELETE_CONFIRM = "delete_confirm"
    SOBAT_ACCOUNT = "sobat_account"
    SOBAT_EMAIL = "sobat_email"
    SOBAT_STEP = "sobat_step"
    SOBAT_STUCK = "sobat_stuck"
    SOBAT_REPORT = "sobat_report"
    BC_COMPOSE = "bc_compose"
    BC_AUDIENCE = "bc_audience"
    BC_STAGE = "bc_stage"
    BC_KECAMATAN = "bc_kecamatan"
    BC_CHANNEL = "bc_channel"
    BC_CONFIRM = "bc_confirm"
    RES_UPLOAD = "res_upload"
    RES_CONFIRM = "res_confirm"
    RES_PUBLISH = "res_publish"


@dataclass(frozen=True)
class Dependencies:
    """What every turn may read: the recruitment, the texts, the clock, staff named in settings,
    and what the process counts (`observer`)."""

    config: RecruitmentConfig
    catalog: Catalog
    clock: Clock
    files: FileStore
    staff_identities: frozenset[str] = frozenset()
    observer: Observer = NO_OBSERVER


class ApplicantNeeded(Exception):
    """A turn of a chat that speaks for no applicant (a staff chat) reached an applicant's data:
    the dispatcher runs it again, from the start, as an applicant's."""


@dataclass
class Turn:
    """One incoming message being answered: who, what they sent, and the replies so far."""

    chat: ChatSession
    """This chat's conversation: its step, what the step keeps (`chat.data`), its language."""
    known_applicant: Applicant | None
    """The applicant this chat speaks for; None for a staff chat that never needed one."""
    session: AsyncSession
    deps: Dependencies
    incoming: Incoming
    now: datetime
    flow: Mapping[StepName, StepSpec]
    """The table of steps (`handlers.steps.FLOW`)."""
    replies: list[Reply] = field(default_factory=list)
    deleted: bool = False
    """Set when the applicant erased their data during this turn."""
    upload: Upload | None = None
    """The checked file this message carried, when the current step was waiting for one."""
    upload_saved: bool = False
    table: TableUpload | None = None
    """The results file this message carried, when staff were asked for one."""
    files_to_forget: list[str] = field(default_factory=list)
    """Stored files no longer needed; deleted after the commit unless another row uses them."""
    window: RegistrationWindow | None = None
    """Whether registration is open now, once read (with the chat, or on first use)."""

    async def registration_window(self) -> RegistrationWindow:
        """Whether registration is open now (read once per turn)."""
        if self.window is None:
            self.window = await registration_window(self.deps.config, self.flags, self.now)
        return self.window

    @property
    def applicant(self) -> Applicant:
        """The applicant this chat speaks for. A staff chat that speaks for none becomes one
        here (the turn is run again as an applicant's: `ApplicantNeeded`)."""
        if self.known_applicant is None:
            raise ApplicantNeeded
        return self.known_applicant

    @property
    def language(self) -> str:
        """The language this chat is held in."""
        return self.chat.language

    @property
    def actor(self) -> str:
        """Who acts, for the audit log: the chat identity."""
        return f"{self.incoming.channel.value}:{self.incoming.user_id}"

    @property
    def applicants(self) -> Applicants:
        return Applicants(self.session)

    @property
    def audit(self) -> Audit:
        return Audit(self.session)

    @property
    def flags(self) -> Flags:
        return Flags(self.session)

    @property
    def staff(self) -> Staff:
        return Staff(self.session)

    @property
    def counters(self) -> Counters:
        return Counters(self.session)

    def t(self, key: str, **params: object) -> str:
        """A catalog text in this chat's language."""
        return self.deps.catalog.text(self.language, key, **params)

    def button(self, data: CallbackData, key: str, **params: object) -> Button:
        """A button carrying `data`, whose label (and short title, if any) comes from the
        catalog."""
        title = self.deps.catalog.short(self.language, key, **params)
        return Button(id=data.pack(), label=self.t(key, **params), title=title)

    def say(self, text: str, buttons: list[Button] | None = None) -> None:
        """Queue a reply."""
        self.replies.append(Reply(text=text, buttons=buttons or []))

    @property
    def step(self) -> Step:
        """The step this chat is at."""
        return self.flow[StepName(self.chat.step)].step

    def move(self, step: StepName, **data: Any) -> None:
        """Put the chat at `step` (with what it keeps) without asking its question."""
        self.chat.step = step
        self.chat.data = data

    async def goto(self, step: StepName, **data: Any) -> None:
        """Move to `step` and ask its question."""
        self.move(step, **data)
        self.replies.append(await self.flow[step].step.prompt(self))

    async def reprompt(self) -> None:
        """Ask the current step's question again."""
        self.replies.append(await self.step.prompt(self))


class StepData(BaseModel):
    """The typed data of a step that keeps more than a key or two. It is stored as the same
    JSON object as before (`dump()`), so a conversation in progress survives an update."""

    model_config = ConfigDict(frozen=True)

    @classmethod
    def of(cls, turn: Turn) -> Self:
        """The data the chat's current step keeps."""
        return cls.model_validate(turn.chat.data)

    def dump(self) -> dict[str, Any]:
        """The JSON object to store (`turn.goto(step, **data.dump())`)."""
        return self.model_dump(mode="json")


class Step:
    """One place in the conversation: it asks a question and interprets the answer."""

    free_text: ClassVar[bool] = False
    """True when the step reads typed answers itself; otherwise typed text picks a button."""

    async def prompt(self, turn: Turn) -> Reply:
        """The question (and buttons) of this step."""
        raise NotImplementedError

    async def on_choice(self, turn: Turn, choice: str) -> None:
        """A button was pressed (or its label typed). Unknown ids are old buttons."""
        turn.say(turn.t("stale_button"))
        await turn.reprompt()

    async def on_text(self, turn: Turn, text: str) -> None:
        """Typed text that is not one of the buttons (free-text steps override this)."""
        turn.say(turn.t("not_understood"))
        await turn.reprompt()

    async def reads_as_answer(self, turn: Turn, text: str) -> bool:
        """Whether typed text is a valid answer to this step (checked, nothing saved): a
        free-text step's answer is never taken for a question."""
        return False

    async def on_file(self, turn: Turn) -> None:
        """A file, photo or sticker (only the steps that expect one want it)."""
        turn.say(turn.t("file_not_expected"))
        await turn.reprompt()

    async def on_any(self, turn: Turn) -> bool:
        """Answer any message before commands, buttons, text or files are looked at; True when
        that was the whole answer (a step that only passes through, like the first contact)."""
        return False


class Expects(Enum):
    """The file a step waits for, checked and stored before the turn's transaction."""

    DOCUMENT = auto()
    """One of the applicant's documents (step data: which one, the album already seen)."""
    ATTACHMENT = auto()
    """A staff broadcast's attachment."""
    RESULTS_TABLE = auto()
    """A staff results file (CSV or XLSX)."""


class Registers(Enum):
    """Whether a step registers or changes the registration (refused once it is closed)."""

    NO = auto()
    YES = auto()
    UNTIL_NUMBERED = auto()
    """Only until the applicant has a registration number (the summary)."""
    UNLESS_ASKED_AGAIN = auto()
    """Except while sending a document staff asked for again (the documents step): that one
    is taken also once registration is closed."""


@dataclass(frozen=True)
class Cancel:
    """What /batal does at a step: say `text` (a catalog key) and go to `to`."""

    text: str
    to: StepName


@dataclass(frozen=True)
class StepSpec:
    """One row of the table of steps."""

    step: Step
    expects: Expects | None = None
    registers: Registers = Registers.NO
    cancel: Cancel | None = None
    """Where /batal goes; None: there is nothing to cancel (the menu's page says so)."""
    cancel_edit: Cancel | None = None
    """Where /batal goes instead when the step was opened to change one answer (`edit`)."""
    questions: bool = True
    """Typed text may be a question to answer (`handlers/applicant/questions.py`): at a button
    step any text that is no option, at a free-text step a clear question that does not read
    as the answer. False where typed text is content (a report, a broadcast, staff's flows)."""


def _normalize(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.casefold()).split())


def match_button(text: str, buttons: list[Button]) -> str | None:
    """The button a typed text means: its number in the list, its label, or yes/no words."""
    typed = _normalize(text)
    if not typed or not buttons:
        return None
    if typed.isdigit() and 1 <= int(typed) <= len(buttons):
        return buttons[int(typed) - 1].id
    for button in buttons:
        if _normalize(button.label) == typed:
            return button.id
    answer = parse_yes_no(text)
    if answer is not None:
        wanted = YES if answer else NO
        for button in buttons:
            if button.id.rsplit(":", 1)[-1] == wanted:
                return button.id
    return None
