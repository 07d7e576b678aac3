"""The applicant's profile: which answers it holds, in the order they are asked."""

from __future__ import annotations

from storage.models import Applicant

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
