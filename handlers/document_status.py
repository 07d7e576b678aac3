"""Which documents an applicant has handed in (read-only facts used by several steps)."""

from __future__ import annotations

from core.recruitment import Document
from handlers.flow import Turn
from services import profile
from storage.models import Applicant


def missing_documents(turn: Turn) -> list[Document]:
    """The configured documents this applicant has not handed in yet."""
    have = {document.kind for document in turn.applicant.documents}
    return profile.missing_documents(turn.deps.config, have)


def checklist(turn: Turn, applicant: Applicant | None = None) -> str:
    """One line per document of `applicant` (default: the one writing): ✅ in, ⬜ missing."""
    have = {document.kind for document in (applicant or turn.applicant).documents}
    return "\n".join(
        f"{'✅' if doc.key in have else '⬜'} {doc.name.get(turn.language)}"
        for doc in turn.deps.config.documents
    )
