"""The recruitment config: everything regency- or year-specific, validated, with line numbers."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

DEFAULT_CONFIG_PATH = Path(__file__).parent / "data" / "pamekasan-2024.yaml"

PreferredCheck = Literal["experience", "education", "domicile", "age", "gadget", "motorbike"]


class ConfigError(Exception):
    """The config file cannot be used; `lines` are `file:line: problem` messages."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LocalText(_Strict):
    """A text in Indonesian, optionally in English too (Indonesian is the fallback)."""

    id: str = Field(min_length=1)
    en: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_plain_string(cls, value: Any) -> Any:
        return {"id": value} if isinstance(value, str) else value

    def get(self, language: str) -> str:
        """The text in `language`, falling back to Indonesian."""
        return self.en if language == "en" and self.en else self.id


class Office(_Strict):
    name: str
    short_name: str
    regency_name: str
    regency_code: str = Field(pattern=r"^\d{4}$", description="Kemendagri code, as in NIKs")


class Contact(_Strict):
    """How applicants reach the office; every field optional."""

    address: str | None = None
    phone: str | None = None
    whatsapp: str | None = None
    email: str | None = None
    website: str | None = None
    hours: LocalText | None = None


class AnswerLabels(_Strict):
    """The two buttons of a required item when "Ya"/"Tidak" would be unclear (each says what
    it means); `meets` is the answer that fulfils the requirement."""

    meets: LocalText
    fails: LocalText


class Requirement(_Strict):
    """One item of the announcement's section A."""

    number: int = Field(ge=1)
    kind: Literal["required", "preferred"]
    text: LocalText
    question: LocalText | None = None
    answers: AnswerLabels | None = Field(
        default=None, description="button labels instead of Ya/Tidak (required items only)"
    )
    check: PreferredCheck | None = None

    @model_validator(mode="after")
    def _kind_fields(self) -> Requirement:
        if self.kind == "required" and self.question is None:
            raise ValueError("a required item needs a yes/no 'question'")
        if self.kind == "preferred" and self.check is None:
            raise ValueError("a preferred item needs 'check' (which profile answer shows it)")
        if self.kind == "preferred" and self.answers is not None:
            raise ValueError("only a required item has 'answers'")
        return self


class Document(_Strict):
    """A document applicants hand in, and what makes a picture of it usable."""

    key: str = Field(pattern=r"^[a-z_]+$")
    name: LocalText
    short_name: LocalText | None = Field(
        default=None, description="on buttons where the name is too long (WhatsApp)"
    )
    hint: LocalText
    accepts: list[Literal["image", "pdf"]] = Field(default_factory=lambda: ["image"], min_length=1)
    min_short_side: int = Field(default=300, ge=1, description="pixels, the image's shorter side")
    min_long_side: int = Field(default=400, ge=1, description="pixels, the image's longer side")
    min_sharpness: float = Field(default=20.0, ge=0, description="variance of the Laplacian")


class DocumentLimits(_Strict):
    """Checks that apply to every uploaded file."""

    max_bytes: int = Field(default=20 * 1024 * 1024, ge=1024)
    max_pixels: int = Field(default=50_000_000, ge=10_000)
    min_brightness: float = Field(default=45.0, ge=0, le=255)
    max_brightness: float = Field(default=245.0, ge=0, le=255)
    max_pdf_pages: int = Field(default=10, ge=1)


class Stage(_Strict):
    """A selection stage; applicants see its name, when to expect results, and what follows."""

    number: int = Field(ge=1)
    name: LocalText
    results_by: date | None = Field(
        default=None,
        description="the day the office publishes the results at the latest, when it has set one; "
        "unset: the bot names no date",
    )
    next_steps: LocalText | None = Field(
        default=None, description="told to those who pass, with their result"
    )


class FinalResult(_Strict):
    """What applicants are told with the final result (next steps, or thanks)."""

    passed: LocalText
    not_passed: LocalText


class Schedule(_Strict):
    """Dates and times of the recruitment, in the config's time zone (naive values)."""

    registration_start: datetime
    registration_end: datetime
    selection_start: date
    selection_end: date
    announcement: date = Field(description="the day the final result is announced")
    announcement_time: time | None = Field(
        default=None,
        description="the hour of that day the result is published, when the office has set one; "
        "unset: published at the start of the day and no hour is named",
    )

    @model_validator(mode="before")
    @classmethod
    def _split_announcement(cls, data: Any) -> Any:
        """`announcement: 2023-12-15T09:00:00` is the day and its hour (older files)."""
        if isinstance(data, dict) and isinstance(data.get("announcement"), datetime):
            moment = data["announcement"]
            data = {**data, "announcement": moment.date()}
            data.setdefault("announcement_time", moment.time())
        return data

    @field_validator("registration_start", "registration_end", mode="before")
    @classmethod
    def _date_means_whole_day(cls, value: Any, info: Any) -> Any:
        if isinstance(value, date) and not isinstance(value, datetime):
            moment = time(23, 59, 59) if info.field_name == "registration_end" else time(0, 0)
            return datetime.combine(value, moment)
        return value

    @property
    def announcement_at(self) -> datetime:
        """When the final result is published (naive, local): the set hour, else 00:00."""
        return datetime.combine(self.announcement, self.announcement_time or time(0, 0))

    @model_validator(mode="after")
    def _ordered(self) -> Schedule:
        if self.registration_end <= self.registration_start:
            raise ValueError("registration_end must be after registration_start")
        if self.selection_end < self.selection_start:
            raise ValueError("selection_end must not be before selection_start")
        return self


class EducationLevel(_Strict):
    key: str = Field(pattern=r"^[a-z0-9_]+$")
    label: LocalText
    meets_minimum: bool = Field(description="counts as 'minimal tamat SMA/sederajat'")


class Kecamatan(_Strict):
    code: str = Field(pattern=r"^\d{2}\.\d{2}\.\d{2}$", description="Kemendagri code")
    bps_code: str = Field(pattern=r"^\d{7}$")
    name: str
    aliases: list[str] = Field(default_factory=list)
    quota: int | None = Field(
        default=None, ge=1, description="registrations wanted from this kecamatan; None: no quota"
    )


class Phrasings(_Strict):
    """Other ways applicants ask a question, per language (matched in either language)."""

    id: list[str] = Field(default_factory=list)
    en: list[str] = Field(default_factory=list)

    def all(self) -> list[str]:
        """Every phrasing, Indonesian first."""
        return [*self.id, *self.en]


FaqPage = Literal["requirements", "howto", "documents", "schedule"]
"""A page of the bot built from this file that answers a question: section A, B, C or D."""


class Faq(_Strict):
    """A question applicants ask, answered by its own text or by one of the bot's pages."""

    key: str = Field(pattern=r"^[a-z0-9_]+$", description="stable: questions refer to it")
    section: str | None = Field(default=None, description="the announcement's section it restates")
    question: LocalText
    answer: LocalText | None = None
    page: FaqPage | None = None
    phrasings: Phrasings = Field(default_factory=Phrasings)

    @model_validator(mode="after")
    def _one_answer(self) -> Faq:
        if (self.answer is None) == (self.page is None):
            raise ValueError("a FAQ entry needs either 'answer' or 'page', not both")
        return self


class QuietHours(_Strict):
    """When nothing that is not urgent is sent (local time); may wrap past midnight."""

    start: time = time(21, 0)
    end: time = time(6, 0)

    def is_quiet(self, moment: datetime) -> bool:
        """True when `moment` (aware, local) falls inside the window."""
        now = moment.timetz().replace(tzinfo=None)
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= now < self.end
        return now >= self.start or now < self.end

    def next_allowed(self, moment: datetime) -> datetime:
        """`moment` itself outside the window, else the window's end (next morning)."""
        if not self.is_quiet(moment):
            return moment
        end = moment.replace(hour=self.end.hour, minute=self.end.minute, second=0, microsecond=0)
        return end if end > moment else end + timedelta(days=1)


class Reminders(_Strict):
    """When the bot nudges applicants on its own (local times)."""

    send_at: time = Field(default=time(9, 0), description="time of day reminders go out")
    registration_days_before: list[int] = Field(
        default_factory=lambda: [7, 3, 1], description="days before registration_end"
    )
    silent_after_days: int = Field(
        default=3, ge=1, description="nudge, once, who started but wrote nothing for this long"
    )
    sobat_days_before: list[int] = Field(
        default_factory=lambda: [5, 2],
        description="days before registration_end: remind who has SOBAT steps left",
    )
    late_grace_hours: int = Field(
        default=6, ge=0, le=24, description="a reminder missed while down is sent this late at most"
    )

    @field_validator("registration_days_before", "sobat_days_before")
    @classmethod
    def _positive_distinct(cls, days: list[int]) -> list[int]:
        if any(day < 1 for day in days) or len(set(days)) != len(days):
            raise ValueError("days must be distinct and at least 1")
        return sorted(days, reverse=True)


class Event(_Strict):
    """A dated event for some applicants (e.g. the competency test), announced beforehand."""

    key: str = Field(pattern=r"^[a-z0-9_]+$")
    at: datetime
    audience: str = Field(description="who it concerns, e.g. passed:1 (see broadcasts)")
    remind_days_before: list[int] = Field(default_factory=lambda: [1])
    text: LocalText


class SobatStep(_Strict):
    """One step on the SOBAT portal, with a short how-to."""

    key: str = Field(pattern=r"^[a-z0-9_]+$")
    title: LocalText
    how: LocalText


class SobatFix(_Strict):
    """A common problem on the portal and its fix; `steps` limits it to those steps."""

    problem: LocalText
    fix: LocalText
    steps: list[str] = Field(default_factory=list, description="step keys; empty: every step")
    key: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9_]+$",
        description="set: typed questions about this problem are answered with the fix",
    )
    phrasings: Phrasings = Field(default_factory=Phrasings)


class Sobat(_Strict):
    """The official registration on the SOBAT portal, as the announcement (section B) tells it."""

    portal: str
    activity: str
    new_account: list[SobatStep] = Field(min_length=1, description="B.1: no SOBAT account yet")
    existing_account: list[SobatStep] = Field(min_length=1, description="B.2: has an account")
    fixes: list[SobatFix] = Field(default_factory=list)
    help_within: LocalText | None = Field(
        default=None,
        description="when a stuck applicant can expect staff's help, if the office promises a time",
    )

    @model_validator(mode="after")
    def _known_steps(self) -> Sobat:
        for path in (self.new_account, self.existing_account):
            _unique("sobat steps", [step.key for step in path])
        keys = {step.key for step in self.new_account + self.existing_account}
        for fix in self.fixes:
            unknown = set(fix.steps) - keys
            if unknown:
                raise ValueError(f"sobat fix names unknown steps {sorted(unknown)}")
        return self

    def path(self, name: str) -> list[SobatStep]:
        """The steps of `new` or `existing`."""
        return self.new_account if name == "new" else self.existing_account


class WhatsAppTemplate(_Strict):
    """The approved template (category UTILITY) that carries business-initiated messages
    outside WhatsApp's 24-hour window: its body has one variable, filled with our text."""

    name: str = Field(pattern=r"^[a-z0-9_]+$")
    language: str = "id"


class Consent(_Strict):
    version: str
    retention_months: int = Field(ge=1, le=120)
    """How long an applicant's data is kept after it last changed (told in the consent text)."""

    def applicant_cutoff(self, now: datetime) -> datetime:
        """Applicants unchanged since before this moment are past the retention period."""
        return now - timedelta(days=round(self.retention_months * 30.44))


class Retention(_Strict):
    """How long what is not the applicant's record itself is kept (the daily retention job).

    The applicant's record follows `consent.retention_months`."""

    run_at: time = Field(default=time(2, 30), description="local time of the daily run")
    dedup_days: int = Field(
        default=8, ge=1, le=90, description="keys of handled updates (platforms retry ≤ 7 days)"
    )
    inbound_days: int = Field(
        default=7, ge=1, le=90, description="accepted payloads never handled are dropped after"
    )
    files_days: int = Field(
        default=30, ge=1, le=365, description="broadcast attachments and failure CSVs kept after"
    )
    sent_text_days: int = Field(
        default=3, ge=1, le=90, description="the text of a sent (or failed) message kept after"
    )
    audit_months: int = Field(
        default=24, ge=1, le=120, description="audit entries keep applicants' chat ids this long"
    )


class RecruitmentConfig(_Strict):
    """One regency's recruitment for one year."""

    office: Office
    title: LocalText
    year: int = Field(ge=2000, le=2100)
    announcement_number: str
    announcement_date: date
    registration_number_prefix: str = Field(pattern=r"^[A-Z0-9-]{1,12}$")
    timezone: str = "Asia/Jakarta"
    quota: int | None = Field(
        default=None, ge=1, description="how many registrations staff want; None: unannounced"
    )
    age_min: int = Field(ge=0, le=100)
    age_max: int = Field(ge=0, le=120)
    consent: Consent
    retention: Retention = Field(default_factory=Retention)
    requirements: list[Requirement] = Field(min_length=1)
    how_to_register: LocalText
    documents: list[Document] = Field(min_length=1)
    document_limits: DocumentLimits = Field(default_factory=DocumentLimits)
    schedule: Schedule
    stages: list[Stage] = Field(min_length=1)
    final_result: FinalResult
    education_levels: list[EducationLevel] = Field(min_length=1)
    kecamatan: list[Kecamatan] = Field(min_length=1)
    faq: list[Faq] = Field(default_factory=list)
    contact: Contact = Field(default_factory=Contact)
    quiet_hours: QuietHours = Field(default_factory=QuietHours)
    reminders: Reminders = Field(default_factory=Reminders)
    sobat: Sobat
    whatsapp_template: WhatsAppTemplate = Field(
        default_factory=lambda: WhatsAppTemplate(name="pemberitahuan_mitra")
    )
    events: list[Event] = Field(default_factory=list)
    notes: list[LocalText] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone {value!r}") from error
        return value

    @model_validator(mode="after")
    def _consistent(self) -> RecruitmentConfig:
        _unique("requirements", [item.number for item in self.requirements])
        _unique("stages", [stage.number for stage in self.stages])
        if [stage.number for stage in self.stages] != list(range(1, len(self.stages) + 1)):
            raise ValueError("stages must be numbered 1, 2, 3, ... in order")
        for stage in self.stages:
            if stage.results_by and stage.results_by > self.schedule.announcement:
                raise ValueError(f"stage {stage.number}: results_by is after the announcement")
        _unique("events", [event.key for event in self.events])
        fix_keys = [fix.key for fix in self.sobat.fixes if fix.key]
        _unique("faq and sobat fix keys", [faq.key for faq in self.faq] + fix_keys)
        _unique("documents", [doc.key for doc in self.documents])
        _unique("education_levels", [level.key for level in self.education_levels])
        _unique("kecamatan", [k.code for k in self.kecamatan])
        if self.age_max < self.age_min:
            raise ValueError("age_max must not be below age_min")
        return self

    def unset_optional(self) -> list[str]:
        """The optional facts this file leaves empty, by path: the bot then does not mention
        them, and an office may fill them in once it has announced them."""
        unset = [
            f"contact.{key}"
            for key in ("address", "phone", "whatsapp", "email", "website", "hours")
            if getattr(self.contact, key) is None
        ]
        if self.schedule.announcement_time is None:
            unset.append("schedule.announcement_time")
        unset += [
            f"stages[{stage.number}].results_by"
            for stage in self.stages
            if stage.results_by is None
        ]
        if self.sobat.help_within is None:
            unset.append("sobat.help_within")
        if self.quota is None:
            unset.append("quota")
        if not self.events:
            unset.append("events")
        return unset

    @property
    def tz(self) -> ZoneInfo:
        """The recruitment's time zone."""
        return ZoneInfo(self.timezone)

    def local(self, moment: datetime) -> datetime:
        """A naive config time made aware in the recruitment's time zone."""
        return moment.replace(tzinfo=self.tz)

    @property
    def required_items(self) -> list[Requirement]:
        """The items an applicant must meet (asked as yes/no)."""
        return [item for item in self.requirements if item.kind == "required"]

    @property
    def preferred_items(self) -> list[Requirement]:
        """The 'diutamakan' items: recorded, never a reason to refuse."""
        return [item for item in self.requirements if item.kind == "preferred"]

    def kecamatan_by_code(self, code: str) -> Kecamatan | None:
        """The kecamatan with Kemendagri code `code`, if it is in this regency."""
        return next((k for k in self.kecamatan if k.code == code), None)

    def stage_by_number(self, number: int) -> Stage | None:
        """The selection stage numbered `number`."""
        return next((stage for stage in self.stages if stage.number == number), None)

    def document_by_key(self, key: str) -> Document | None:
        """The document stored under `key`."""
        return next((doc for doc in self.documents if doc.key == key), None)

    def education_by_key(self, key: str) -> EducationLevel | None:
        """The education level stored under `key`."""
        return next((level for level in self.education_levels if level.key == key), None)


def _unique(section: str, keys: list[Any]) -> None:
    seen: set[Any] = set()
    for key in keys:
        if key in seen:
            raise ValueError(f"{section}: {key!r} appears twice")
        seen.add(key)


def load_recruitment(path: Path = DEFAULT_CONFIG_PATH) -> RecruitmentConfig:
    """Read and validate a recruitment file; raise ConfigError with line numbers when it is bad."""
    try:
        source = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError([f"{path}: cannot read: {error.strerror}"]) from error
    try:
        data = yaml.safe_load(source)
        root = yaml.compose(source)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        problem = getattr(error, "problem", None) or str(error)
        raise ConfigError([f"{where}: YAML syntax: {problem}"]) from error
    if not isinstance(data, dict):
        raise ConfigError([f"{path}:1: the file must be a mapping of settings"])
    try:
        return RecruitmentConfig.model_validate(data)
    except ValidationError as error:
        lines = []
        for problem in error.errors():
            location = ".".join(str(part) for part in problem["loc"]) or "(top level)"
            line = _line_of(root, problem["loc"])
            lines.append(f"{path}:{line}: {location}: {problem['msg']}")
        raise ConfigError(lines) from error


def _line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int:
    """The 1-based line of the deepest YAML node reachable along a pydantic error location."""
    line = 1
    for part in loc:
        if node is None:
            break
        line = node.start_mark.line + 1
        node = _child(node, part)
    if node is not None:
        line = node.start_mark.line + 1
    return line


def _child(node: yaml.Node, part: Any) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if key.value == str(part):
                return value
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
        return node.value[part]
    return None
