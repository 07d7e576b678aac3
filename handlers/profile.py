"""Profile fields: how each is asked, checked, stored and shown; and checks across them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from core.formatting import format_date
from core.validation import (
    Invalid,
    age_on,
    parse_address,
    parse_date,
    parse_email,
    parse_name,
    parse_nik,
    parse_phone,
    parse_place,
)
from handlers.flow import NO, YES, Turn
from services.profile import OUTSIDE, PROFILE_FIELDS
from storage.models import Applicant

MALE, FEMALE = "L", "P"


@dataclass(frozen=True)
class Option:
    """One answer offered as a button; `aliases` may also be typed."""

    value: str
    label: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class FieldSpec:
    """A profile field: either typed (`parse`) or chosen (`options`)."""

    name: str
    parse: Callable[[Turn, str], Awaitable[Any]] | None = None
    options: Callable[[Turn], list[Option]] | None = None
    from_choice: Callable[[str], Any] = field(default=lambda value: value)
    store: Callable[[Turn, Any], Awaitable[None]] | None = None
    """Saves an answer that a rule of the database may refuse (raising Invalid); without it
    the answer is set on the applicant."""


def _nik(text: str) -> str:
    return parse_nik(text).value


async def _store_nik(turn: Turn, nik: str) -> None:
    """One NIK per applicant, kept by the database: one that another applicant holds, or is
    saving at this very moment, is refused (and asked again)."""
    if not await turn.applicants.claim_nik(turn.applicant, nik):
        raise Invalid("nik_taken")


async def _birth_date(turn: Turn, text: str) -> date:
    return parse_date(text, turn.now.date())


def _plain(parser: Callable[[str], Any]) -> Callable[[Turn, str], Awaitable[Any]]:
    async def parse(_turn: Turn, text: str) -> Any:
        return parser(text)

    return parse


def _sex_options(turn: Turn) -> list[Option]:
    return [Option(MALE, turn.t("sex_male")), Option(FEMALE, turn.t("sex_female"))]


def _kecamatan_options(turn: Turn) -> list[Option]:
    config = turn.deps.config
    options = [Option(k.code, k.name, tuple(k.aliases)) for k in config.kecamatan]
    outside = turn.t("kecamatan_outside", regency=config.office.regency_name)
    return [*options, Option(OUTSIDE, outside)]


def _education_options(turn: Turn) -> list[Option]:
    levels = turn.deps.config.education_levels
    return [Option(level.key, level.label.get(turn.language)) for level in levels]


def _yes_no_options(turn: Turn) -> list[Option]:
    return [Option(YES, turn.t("answer_yes")), Option(NO, turn.t("answer_no"))]


def _as_bool(value: str) -> bool:
    return value == YES


_SPECS: tuple[FieldSpec, ...] = (
    FieldSpec("full_name", parse=_plain(parse_name)),
    FieldSpec("nik", parse=_plain(_nik), store=_store_nik),
    FieldSpec("birth_place", parse=_plain(parse_place)),
    FieldSpec("birth_date", parse=_birth_date),
    FieldSpec("sex", options=_sex_options),
    FieldSpec("address", parse=_plain(parse_address)),
    FieldSpec("kecamatan", options=_kecamatan_options),
    FieldSpec("phone", parse=_plain(parse_phone)),
    FieldSpec("email", parse=_plain(parse_email)),
    FieldSpec("education", options=_education_options),
    FieldSpec("experience", options=_yes_no_options, from_choice=_as_bool),
    FieldSpec("gadget", options=_yes_no_options, from_choice=_as_bool),
    FieldSpec("motorbike", options=_yes_no_options, from_choice=_as_bool),
)
FIELDS_BY_NAME = {spec.name: spec for spec in _SPECS}
FIELDS: tuple[FieldSpec, ...] = tuple(FIELDS_BY_NAME[name] for name in PROFILE_FIELDS)
"""How each profile answer is asked and read, in the profile's own order."""


def applicant_age(turn: Turn) -> int | None:
    """Age in completed years at registration (confirmation, or now while unconfirmed)."""
    birth = turn.applicant.birth_date
    if birth is None:
        return None
    moment = turn.applicant.confirmed_at or turn.now
    return age_on(birth, moment.astimezone(turn.deps.config.tz).date())


def needs_guardian(turn: Turn) -> bool:
    """Under 18: children's data needs a parent's or guardian's consent first."""
    age = applicant_age(turn)
    return age is not None and age < 18 and turn.applicant.guardian_consent_at is None


def nik_fingerprint(applicant: Applicant) -> str:
    """The (NIK, birth date, sex) combination an acknowledgement of a mismatch applies to."""
    return f"{applicant.nik}|{applicant.birth_date}|{applicant.sex}"


def nik_mismatches(applicant: Applicant) -> list[str]:
    """Which of birth date and sex disagree with the NIK (empty while any is missing)."""
    if applicant.nik is None or applicant.birth_date is None or applicant.sex is None:
        return []
    return parse_nik(applicant.nik).mismatches(applicant.birth_date, applicant.sex == FEMALE)


def needs_nik_check(turn: Turn) -> bool:
    """A mismatch the applicant has not yet confirmed as correct."""
    applicant = turn.applicant
    return bool(nik_mismatches(applicant)) and applicant.nik_check_ack != nik_fingerprint(applicant)


def display_value(turn: Turn, name: str) -> str:
    """A stored field as the applicant reads it ('-' when empty)."""
    value = getattr(turn.applicant, name)
    if value is None:
        return "-"
    spec = FIELDS_BY_NAME[name]
    if name == "birth_date":
        return turn.t(
            "birth_date_with_age", date=format_date(value, turn.language), age=applicant_age(turn)
        )
    if spec.options is not None:
        stored = (YES if value else NO) if isinstance(value, bool) else value
        option = next((o for o in spec.options(turn) if o.value == stored), None)
        return option.label if option else str(value)
    return str(value)


def preferred_status(turn: Turn) -> list[tuple[str, bool | None]]:
    """Each 'diutamakan' item with whether the profile shows it (None: not answered yet)."""
    applicant = turn.applicant
    config = turn.deps.config
    age = applicant_age(turn)
    level = config.education_by_key(applicant.education) if applicant.education else None
    facts: dict[str, bool | None] = {
        "experience": applicant.experience,
        "education": level.meets_minimum if level else None,
        "domicile": None if applicant.kecamatan is None else applicant.kecamatan != OUTSIDE,
        "age": None if age is None else config.age_min <= age <= config.age_max,
        "gadget": applicant.gadget,
        "motorbike": applicant.motorbike,
    }
    return [
        (item.text.get(turn.language), facts[item.check])
        for item in config.preferred_items
        if item.check is not None
    ]
