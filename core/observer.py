"""What the conversation and the scheduled jobs tell the process's metrics, without knowing them:
a protocol the web layer implements (`bot.metrics.Metrics`) and a default that ignores it all.

Labels are closed sets taken from the recruitment config and the catalog codes (a document's
key, a refusal code, a reminder's kind), never a personal value."""

from __future__ import annotations

from typing import Protocol

ACCEPTED = "accepted"
"""The verdict of a document that passed every check (otherwise: the refusal's catalog code)."""


class Observer(Protocol):
    """Events worth counting."""

    def document_checked(self, kind: str, verdict: str) -> None:
        """A document upload of `kind` (the document's key) was checked and its turn saved:
        `verdict` is `ACCEPTED` or the refusal's code (doc_too_small, doc_blurry, ...)."""

    def reminders_queued(self, kind: str, count: int) -> None:
        """`count` reminder messages of `kind` (registration, sobat, event, silent) were
        queued in the outbox."""


class NoObserver:
    """Counts nothing (tests, the terminal, the CLI)."""

    def document_checked(self, kind: str, verdict: str) -> None:
        """Ignored."""

    def reminders_queued(self, kind: str, count: int) -> None:
        """Ignored."""


NO_OBSERVER = NoObserver()
