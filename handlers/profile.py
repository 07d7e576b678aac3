"""Profile fields: how each is asked, checked, stored and shown; and checks across them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from core.validation import (
    Invalid,
    parse_address,
    parse_date,
    parse_email,
    parse_name,
    parse_nik,
    parse_phone,
    parse_place,
)
from handlers.flow import Turn
from services import profile
from services.profile import (
    FEMALE,
    PROFILE_FIELDS,
    YES,
    Option,
    field_options,
    shown_value,
)
from storage.models import Applicant


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


def _options(name: str) -> Callable[[Turn], list[Option]]:
    def options(turn: Turn) -> list[Option]:
        return field_options(turn.deps.config, turn.deps.catalog, turn.language, name) or []

    return options


def _as_bool(value: str) -> bool:
    return value == YES


_SPECS: tuple[FieldSpec, ...] = (
    FieldSpec("full_name", parse=_plain(parse_name)),
    FieldSpec("nik", parse=_plain(_nik), store=_store_nik),
    FieldSpec("birth_place", parse=_plain(parse_place)),
    FieldSpec("birth_date", parse=_birth_date),
    FieldSpec("sex", options=_options("sex")),
    FieldSpec("address", parse=_plain(parse_address)),
    FieldSpec("kecamatan", options=_options("kecamatan")),
    FieldSpec("phone", parse=_plain(parse_phone)),
    FieldSpec("email", parse=_plain(parse_email)),
    FieldSpec("education", options=_options("education")),
    FieldSpec("experience", options=_options("experience"), from_choice=_as_bool),
    FieldSpec("gadget", options=_options("gadget"), from_choice=_as_bool),
    FieldSpec("motorbike", options=_options("motorbike"), from_choice=_as_bool),
)
FIELDS_BY_NAME = {spec.name: spec for spec in _SPECS}
FIELDS: tuple[FieldSpec, ...] = tuple(FIELDS_BY_NAME[name] for name in PROFILE_FIELDS)
"""How each profile answer is asked and read, in the profile's own order."""


def applicant_age(turn: Turn) -> int | None:
    """Age in completed years at registration (confirmation, or now while unconfirmed)."""
    return profile.applicant_age(turn.deps.config, turn.applicant, turn.now)


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
    deps = turn.deps
    return shown_value(deps.config, deps.catalog, turn.language, turn.applicant, name, turn.now)


def preferred_status(turn: Turn) -> list[tuple[str, bool | None]]:
    """Each 'diutamakan' item with whether the profile shows it (None: not answered yet)."""
    statuses = profile.preferred_status(turn.deps.config, turn.applicant, turn.now)
    return [(item.text.get(turn.language), met) for item, met in statuses]
