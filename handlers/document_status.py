"""Which documents an applicant has handed in (read-only facts used by several steps)."""

from __future__ import annotations

from core.recruitment import Document
from handlers.flow import Turn
from services.documents import documents_to_send
from storage.models import Applicant


def missing_documents(turn: Turn) -> list[Document]:
    """The configured documents this applicant has still to send: not handed in yet, or asked
    for again by staff."""
    return documents_to_send(turn.deps.config, turn.applicant.documents)


def asked_again(turn: Turn) -> list[Document]:
    """The documents staff asked this chat's applicant (if any) to send again, in order."""
    applicant = turn.known_applicant
    asked = {d.kind for d in applicant.documents if d.needs_resend} if applicant else set()
    return [doc for doc in turn.deps.config.documents if doc.key in asked]


def checklist(turn: Turn, applicant: Applicant | None = None) -> str:
    """One line per document of `applicant` (default: the one writing): ✅ in, ⬜ missing, 🔁
    asked for again (with staff's reason)."""
    held = {document.kind: document for document in (applicant or turn.applicant).documents}
    lines = []
    for doc in turn.deps.config.documents:
        name = doc.name.get(turn.language)
        document = held.get(doc.key)
        if document is not None and document.needs_resend:
            lines.append(turn.t("documents_resend_line", name=name, reason=document.resend_reason))
        else:
            lines.append(f"{'✅' if document is not None else '⬜'} {name}")
    return "\n".join(lines)
