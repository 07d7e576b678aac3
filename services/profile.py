"""The applicant's profile and documents: which answers and files it holds, in asking order."""

from __future__ import annotations

from collections.abc import Collection

from core.recruitment import Document, RecruitmentConfig
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


def missing_documents(config: RecruitmentConfig, handed_in: Collection[str]) -> list[Document]:
    """The configured documents whose kind is not among those `handed_in`, in asking order."""
    return [document for document in config.documents if document.key not in handed_in]
