"""A recruitment in progress for the desk's funnel and list: the bench's synthetic applicants
(bench/desk.py: every stage of the registration, SOBAT, results), few enough to page through."""

from __future__ import annotations

from bench.desk import seed
from core.recruitment import load_recruitment
from storage.db import Database

PEOPLE = 130
"""Three pages of the list (50 a page)."""


def nik_of(i: int) -> str:
    """The NIK of applicant `i` once they answered it (bench/rows.py)."""
    return f"3528{i:012d}"


async def seed_population(db: Database, people: int = PEOPLE) -> None:
    """`people` applicants, ids 1 … people, always the same ones."""
    await seed(db, load_recruitment(), people)
