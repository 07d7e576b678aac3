"""Prometheus metrics of one `serve` or `worker` process, in a registry of its own (never the
global one): updates received and handled per channel, how long handling took, sends by result,
documents checked by verdict, reminders queued, and the outbox's depth and oldest due message,
read from the database at each scrape. It is the process's `core.observer.Observer`."""

from __future__ import annotations

from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from scheduler.delivery import Outcome
from storage.health import Backlog

LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def send_result(outcome: Outcome) -> str:
    """The label of a send's outcome: ok, rate_limited (429), refused (a permanent 4xx),
    unreachable (the user blocked the bot), failed_temporarily (5xx, timeout)."""
    if outcome.state == "sent":
        return "ok"
    if outcome.state == "unreachable":
        return "unreachable"
    if outcome.slow_down is not None:
        return "rate_limited"
    return "failed_temporarily" if outcome.state == "retry" else "refused"


class Metrics:
    """The counters this process moves and the gauges filled at scrape time."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.received = Counter(
            "mitrabot_updates_received",
            "Inbound payloads accepted and stored (webhook bodies, polled updates)",
            ["channel"],
            registry=self.registry,
        )
        self.handled = Counter(
            "mitrabot_updates_handled",
            "Inbound payloads handled to the end",
            ["channel"],
            registry=self.registry,
        )
        self.handling = Histogram(
            "mitrabot_update_handling_seconds",
            "Time to handle one inbound payload (the conversation's turns and their replies)",
            ["channel"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.sends = Counter(
            "mitrabot_sends",
            "Outbox send attempts by result",
            ["channel", "result"],
            registry=self.registry,
        )
        self.documents = Counter(
            "mitrabot_documents_checked",
            "Document uploads checked, by document and verdict (accepted or the refusal code)",
            ["kind", "result"],
            registry=self.registry,
        )
        self.reminders = Counter(
            "mitrabot_reminders_queued",
            "Reminder messages queued in the outbox by the reminder jobs, by reminder kind",
            ["kind"],
            registry=self.registry,
        )
        self.outbox_depth = Gauge(
            "mitrabot_outbox_queued", "Outbox messages waiting to be sent", registry=self.registry
        )
        self.outbox_age = Gauge(
            "mitrabot_outbox_oldest_due_seconds",
            "How long the longest-due queued outbox message has been due (0: none)",
            registry=self.registry,
        )

    def count_send(self, channel: str, outcome: Outcome) -> None:
        """One send attempt and what came of it (the delivery path's hook)."""
        self.sends.labels(channel, send_result(outcome)).inc()

    def document_checked(self, kind: str, verdict: str) -> None:
        """One document upload checked (the conversation's hook, after its turn is saved)."""
        self.documents.labels(kind, verdict).inc()

    def reminders_queued(self, kind: str, count: int) -> None:
        """Reminder messages queued by a job (the scheduler's hook)."""
        self.reminders.labels(kind).inc(count)

    def render(self, backlog: Backlog, now: datetime) -> bytes:
        """The text exposition, with the outbox gauges set from `backlog`."""
        self.outbox_depth.set(backlog.queued)
        due = backlog.oldest_due
        self.outbox_age.set(max(0.0, (now - due).total_seconds()) if due is not None else 0.0)
        return generate_latest(self.registry)
