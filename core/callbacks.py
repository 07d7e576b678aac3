"""Typed button data: one small codec per button family.

A button's id (Telegram `callback_data`, a WhatsApp reply id, the terminal's numbered choice) is
its family's prefix and its fields joined by ":", e.g. `doc:replace:ktp` is
`DocumentButton(DocumentAction.REPLACE, "ktp")`. `pack()` writes it; `unpack()` reads it back,
or gives None for another family's id or an old or malformed one, never an exception, so the
step answers it as an old button. The packed strings are the ones buttons already sent carry.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import Enum, StrEnum
from functools import cache
from types import NoneType
from typing import Any, ClassVar, Self, get_type_hints

SEPARATOR = ":"


@dataclass(frozen=True)
class CallbackData:
    """A button family: `prefix`, then each field in order (a trailing None field is left out;
    the last field takes the rest of the id, so it may itself hold ":")."""

    prefix: ClassVar[str]

    def pack(self) -> str:
        """The button's id."""
        parts = [self.prefix]
        for item in fields(self):
            value = getattr(self, item.name)
            if value is None:
                break
            parts.append(str(value.value if isinstance(value, Enum) else value))
        return SEPARATOR.join(parts)

    @classmethod
    def unpack(cls, data: str | None) -> Self | None:
        """The button `data` is the id of, or None when it is not one of this family's."""
        head = cls.prefix + SEPARATOR
        if not data or not data.startswith(head):
            return None
        kinds = _field_types(cls)
        values = data[len(head) :].split(SEPARATOR, len(kinds) - 1)
        parsed: dict[str, Any] = {}
        for (name, (kind, _)), value in zip(kinds.items(), values, strict=False):
            try:
                parsed[name] = kind(value)
            except ValueError:
                return None
        missing = list(kinds.items())[len(values) :]
        if any(not optional for _, (_, optional) in missing):
            return None
        return cls(**parsed)


@cache
def _field_types(cls: type[CallbackData]) -> dict[str, tuple[type, bool]]:
    """Each field's type (str, int or a StrEnum) and whether it may be left out."""
    hints = get_type_hints(cls)
    types: dict[str, tuple[type, bool]] = {}
    for item in fields(cls):
        hint = hints[item.name]
        args = getattr(hint, "__args__", (hint,))
        options = [t for t in args if t is not NoneType]
        types[item.name] = (options[0], len(options) < len(args))
    return types


class Answer(StrEnum):
    YES = "yes"
    NO = "no"


class MenuItem(StrEnum):
    """The main menu's items (also opened by a command or from a reminder)."""

    REGISTER = "register"
    STATUS = "status"
    SOBAT = "sobat"
    DOCUMENTS = "documents"
    REQUIREMENTS = "requirements"
    HOWTO = "howto"
    SCHEDULE = "schedule"
    FAQ = "faq"
    MYDATA = "mydata"
    LANGUAGE = "language"
    HELP = "help"
    HOME = "home"


@dataclass(frozen=True)
class MenuButton(CallbackData):
    """`menu:status`: a main-menu item, pressed from anywhere."""

    prefix = "menu"
    item: MenuItem


class RemindAction(StrEnum):
    STOP = "stop"


@dataclass(frozen=True)
class RemindButton(CallbackData):
    """`remind:stop`: under a reminder, stop reminders."""

    prefix = "remind"
    action: RemindAction


@dataclass(frozen=True)
class ConsentButton(CallbackData):
    """`consent:yes` / `consent:no`."""

    prefix = "consent"
    answer: Answer


class EligibilityAnswer(StrEnum):
    YES = "yes"
    NO = "no"
    MET = "met"
    """The item's own label for meeting it (then a typed "ya" is not read as an answer)."""
    UNMET = "unmet"


@dataclass(frozen=True)
class EligibilityButton(CallbackData):
    """`elig:yes`, `elig:no`, `elig:met`, `elig:unmet`: an answer to a required item."""

    prefix = "elig"
    answer: EligibilityAnswer


class IneligibleAction(StrEnum):
    RETRY = "retry"


@dataclass(frozen=True)
class IneligibleButton(CallbackData):
    """`inel:retry`: "I answered wrongly"."""

    prefix = "inel"
    action: IneligibleAction


class GuardianAction(StrEnum):
    YES = "yes"
    FIX = "fix"


@dataclass(frozen=True)
class GuardianButton(CallbackData):
    """`guard:yes` (a guardian consents) / `guard:fix` (fix the birth date)."""

    prefix = "guard"
    action: GuardianAction


@dataclass(frozen=True)
class FieldButton(CallbackData):
    """`f:sex:L`: an option of a profile question."""

    prefix = "f"
    field: str
    value: str


class NikAction(StrEnum):
    FIX_DATE = "fix_date"
    FIX_SEX = "fix_sex"
    FIX_NIK = "fix_nik"
    OK = "ok"


@dataclass(frozen=True)
class NikButton(CallbackData):
    """`nik:fix_date` …: the NIK disagrees with the birth date or sex."""

    prefix = "nik"
    action: NikAction


class SummaryAction(StrEnum):
    EDIT = "edit"
    SHOW = "show"
    CONFIRM = "confirm"


@dataclass(frozen=True)
class SummaryButton(CallbackData):
    """`sum:edit`, `sum:show`, `sum:confirm`."""

    prefix = "sum"
    action: SummaryAction


EDIT_BACK = "back"
"""`edit:back`: back to the summary without changing anything."""


@dataclass(frozen=True)
class EditButton(CallbackData):
    """`edit:email`: change one profile answer (or `edit:back`)."""

    prefix = "edit"
    field: str


class DocumentAction(StrEnum):
    LATER = "later"
    REPLACE = "replace"


@dataclass(frozen=True)
class DocumentButton(CallbackData):
    """`doc:later`, `doc:replace:ktp`."""

    prefix = "doc"
    action: DocumentAction
    key: str | None = None


class LinkAction(StrEnum):
    PHONE = "phone"
    """The Telegram contact was shared (the adapter sends this for a shared contact)."""
    YES = "yes"
    NO = "no"


@dataclass(frozen=True)
class LinkButton(CallbackData):
    """`link:phone`, `link:yes`, `link:no`: linking two chats of one number."""

    prefix = "link"
    action: LinkAction


class MyDataAction(StrEnum):
    EDIT = "edit"
    LINK = "link"
    DELETE = "delete"


@dataclass(frozen=True)
class MyDataButton(CallbackData):
    """`md:edit`, `md:link`, `md:delete`."""

    prefix = "md"
    action: MyDataAction


@dataclass(frozen=True)
class DeleteButton(CallbackData):
    """`del:yes` / `del:no`: erase my data."""

    prefix = "del"
    answer: Answer


class SobatPath(StrEnum):
    NEW = "new"
    """B.1: no SOBAT account yet."""
    EXISTING = "existing"
    """B.2: an account already."""


@dataclass(frozen=True)
class SobatPathButton(CallbackData):
    """`sb:path:new` / `sb:path:existing`."""

    prefix = "sb:path"
    path: SobatPath


class SobatAction(StrEnum):
    DONE = "done"
    STUCK = "stuck"
    BACK = "back"
    CHANGE = "change"
    EMAIL = "email"
    EMAIL_SAME = "email:same"
    FIXED = "fixed"
    REPORT = "report"
    STEP = "step"


@dataclass(frozen=True)
class SobatButton(CallbackData):
    """`sb:done`, `sb:stuck`, `sb:email:same` …: the SOBAT guide."""

    prefix = "sb"
    action: SobatAction


class ResultAction(StrEnum):
    CANCEL = "cancel"
    APPLY = "apply"
    APPLY_KNOWN = "apply_known"
    PUBLISH = "publish"


@dataclass(frozen=True)
class ResultButton(CallbackData):
    """`res:apply`, `res:publish` …: staff importing or publishing results."""

    prefix = "res"
    action: ResultAction


class BroadcastAction(StrEnum):
    CANCEL = "cancel"
    SEND = "send"
    REWRITE = "rewrite"


@dataclass(frozen=True)
class BroadcastButton(CallbackData):
    """`bc:send`, `bc:rewrite`, `bc:cancel`."""

    prefix = "bc"
    action: BroadcastAction


@dataclass(frozen=True)
class AudienceButton(CallbackData):
    """`bca:incomplete`: a broadcast's audience kind."""

    prefix = "bca"
    kind: str


@dataclass(frozen=True)
class AudienceStageButton(CallbackData):
    """`bcs:passed:1`: those who passed (or not) a published stage."""

    prefix = "bcs"
    kind: str
    stage: str


@dataclass(frozen=True)
class AudienceKecamatanButton(CallbackData):
    """`bck:3528010`: those living in one kecamatan (or outside)."""

    prefix = "bck"
    code: str


@dataclass(frozen=True)
class AudienceChannelButton(CallbackData):
    """`bcc:telegram`: those on one channel."""

    prefix = "bcc"
    channel: str


class QuestionAction(StrEnum):
    TOPIC = "topic"
    STAFF = "staff"


@dataclass(frozen=True)
class QuestionButton(CallbackData):
    """`q:topic:jadwal`, `q:staff`: a typed question's possible topics, or "ask staff"."""

    prefix = "q"
    action: QuestionAction
    topic: str | None = None
