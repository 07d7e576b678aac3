"""The applicant's profile and documents: which answers and files it holds, in asking order."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from core.callbacks import Answer
from core.catalog import Catalog
from core.formatting import format_date
from core.recruitment import Document, RecruitmentConfig, Requirement
from core.validation import age_on
from storage.models import Applicant

OUTSIDE = "luar"
"""The kecamatan answer of someone living outside the regency."""

PROFILE_FIELDS: tuple[str, ...] = (
    "full_name",
    "nik",
    "birth_place",
    "birth_date",
    "sex",
    "address",
    "kecamatan",
    "phone",
    "email",
    "education",
    "experience",
    "gadget",
    "motorbike",
)
"""Every profile answer, in the order the conversation asks for it."""


def missing_fields(applicant: Applicant) -> list[str]:
    """The profile answers this applicant has not given yet, in asking order."""
    return [name for name in PROFILE_FIELDS if getattr(applicant, name) is None]


def profile_complete(applicant: Applicant) -> bool:
    """True when every profile field has an answer."""
    return not missing_fields(applicant)


MALE, FEMALE = "L", "P"
YES, NO = Answer.YES.value, Answer.NO.value


@dataclass(frozen=True)
class Option:
    """One answer offered as a button; `aliases` may also be typed."""

    value: str
    label: str
    aliases: tuple[str, ...] = ()


def field_options(
    config: RecruitmentConfig, catalog: Catalog, language: str, name: str
) -> list[Option] | None:
    """The answers a chosen field offers (its stored value and label); None for a typed one."""
    if name == "sex":
        return [
            Option(MALE, catalog.text(language, "sex_male")),
            Option(FEMALE, catalog.text(language, "sex_female")),
        ]
    if name == "kecamatan":
        outside = catalog.text(language, "kecamatan_outside", regency=config.office.regency_name)
        options = [Option(k.code, k.name, tuple(k.aliases)) for k in config.kecamatan]
        return [*options, Option(OUTSIDE, outside)]
    if name == "education":
        return [Option(level.key, level.label.get(language)) for level in config.education_levels]
    if name in BOOLEAN_FIELDS:
        return [
            Option(YES, catalog.text(language, "answer_yes")),
            Option(NO, catalog.text(language, "answer_no")),
        ]
    return None


BOOLEAN_FIELDS = frozenset({"experience", "gadget", "motorbike"})


def applicant_age(config: RecruitmentConfig, applicant: Applicant, now: datetime) -> int | None:
    """Age in completed years at registration (confirmation, or `now` while unconfirmed)."""
    if applicant.birth_date is None:
        return None
    moment = applicant.confirmed_at or now
    return age_on(applicant.birth_date, moment.astimezone(config.tz).date())


def shown_value(
    config: RecruitmentConfig,
    catalog: Catalog,
    language: str,
    applicant: Applicant,
    name: str,
    now: datetime,
) -> str:
    """A stored profile answer as people read it ('-' when empty): a choice's label, a date
    with the age."""
    value = getattr(applicant, name)
    if value is None:
        return "-"
    if name == "birth_date":
        age = applicant_age(config, applicant, now)
        return catalog.text(
            language, "birth_date_with_age", date=format_date(value, language), age=age
        )
    options = field_options(config, catalog, language, name)
    if options is not None:
        stored = (YES if value else NO) if isinstance(value, bool) else value
        option = next((o for o in options if o.value == stored), None)
        return option.label if option else str(value)
    return str(value)


def preferred_status(
    config: RecruitmentConfig, applicant: Applicant, now: datetime
) -> list[tuple[Requirement, bool | None]]:
    """Each 'diutamakan' item with whether the profile shows it (None: not answered yet)."""
    age = applicant_age(config, applicant, now)
    level = config.education_by_key(applicant.education) if applicant.education else None
    facts: dict[str, bool | None] = {
        "experience": applicant.experience,
        "education": level.meets_minimum if level else None,
        "domicile": None if applicant.kecamatan is None else applicant.kecamatan != OUTSIDE,
        "age": None if age is None else config.age_min <= age <= config.age_max,
        "gadget": applicant.gadget,
        "motorbike": applicant.motorbike,
    }
    return [(item, facts[item.check]) for item in config.preferred_items if item.check is not None]


def missing_documents(config: RecruitmentConfig, handed_in: Collection[str]) -> list[Document]:
    """The configured documents whose kind is not among those `handed_in`, in asking order."""
    return [document for document in config.documents if document.key not in handed_in]
