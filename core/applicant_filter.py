"""The staff desk's view of the applicants: which of them (a filter), in which order, which page.

A plain, serialisable value (`model_dump(mode="json")` / `model_validate`): the desk keeps it
server-side under an opaque id, since a search may hold a NIK, which never goes in a URL.
What each field means in the database is decided in `services/desk_views.py`.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

PAGE_SIZE = 50
"""Rows on one page of the list."""

PASSED_PREFIX = "passed:"
"""A funnel step `passed:<stage>`: passed stage 1, 2, ... or `passed:final` (candidate partner)."""


class FunnelStep(StrEnum):
    """The steps before the selection stages (then `passed:<stage>` for each stage)."""

    STARTED = "started"
    CONSENTED = "consented"
    ELIGIBLE = "eligible"
    PROFILE_COMPLETE = "profile_complete"
    DOCUMENTS_COMPLETE = "documents_complete"
    REGISTERED = "registered"
    SOBAT_DONE = "sobat_done"


class SobatState(StrEnum):
    """Where an applicant is on the official SOBAT registration, as the bot's guide knows it."""

    NOT_STARTED = "not_started"
    """Has not begun the guide (no account answer, no step marked)."""
    STARTED = "started"
    """Begun, nothing stuck, not enrolled yet."""
    STUCK = "stuck"
    """A step reported stuck, not enrolled yet."""
    ENROLLED = "enrolled"
    """The last step of their path (enrolling in the activity) done."""


class SortKey(StrEnum):
    NAME = "name"
    NUMBER = "number"
    REGISTERED_AT = "registered_at"
    KECAMATAN = "kecamatan"


StageOutcome = Literal["passed", "not_passed", "pending", "none"]
"""A recorded outcome at a stage, or `none`: no result recorded."""


class StageFilter(BaseModel):
    """Applicants with this outcome at this stage ("1", "2", ..., or "final")."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    stage: str = Field(pattern=r"^(\d{1,2}|final)$")
    outcome: StageOutcome


class ApplicantFilter(BaseModel):
    """Who the list shows (every condition set must hold), sorted and paged."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    search: str | None = Field(default=None, max_length=80)
    """A name (contains, any case), a registration number (contains), or a NIK (16 digits:
    exact, never a part of one)."""
    step: str | None = Field(default=None, pattern=r"^([a-z_]+|passed:(\d{1,2}|final))$")
    """A funnel step (`FunnelStep` or `passed:<stage>`): exactly the people its number counts."""
    kecamatan: str | None = Field(default=None, max_length=16)
    """A kecamatan code of the config, or `luar` (outside the regency)."""
    stage: StageFilter | None = None
    missing_fields: tuple[str, ...] = ()
    """Profile answers (`services.profile.PROFILE_FIELDS`): those lacking any of them."""
    missing_documents: tuple[str, ...] = ()
    """Document keys of the config: those lacking any of them."""
    sobat: SobatState | None = None
    channel: Literal["telegram", "whatsapp", "terminal"] | None = None
    """Those with a chat on this channel (a linked applicant may have two)."""
    consent: Literal["given", "none"] | None = None
    """`none`: no consent on record (declined or not answered yet). Withdrawing consent erases
    the person's data (`/datasaya`), so nobody in the list has withdrawn it."""
    started_on: date | None = None
    """Started on this day (the recruitment's time zone)."""
    registered_on: date | None = None
    """Registered (got a registration number) on this day (the recruitment's time zone)."""
    sort: SortKey = SortKey.NUMBER
    descending: bool = False
    page: int = Field(default=1, ge=1)
