"""unique invariants: one NIK per applicant

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-28

The NIK index becomes unique. Rows written before it may hold a NIK twice (the old
check-then-insert let two chats saving the same NIK at once both keep it). Each such NIK stays
with the applicant who confirmed a registration with it, or else with the oldest applicant; the
others lose it (and its mismatch acknowledgement), are asked for it again by the bot, and each
loss is in the audit log. Two confirmed registrations with one NIK are not decided here: the
upgrade stops and names the applicant ids for staff to settle by hand.
"""

from collections.abc import Sequence
from itertools import groupby

import sqlalchemy as sa
from alembic import op

import storage.models
from core.clock import Clock

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTOR = "migration:0010"

applicants = sa.table(
    "applicants",
    sa.column("id", sa.Integer()),
    sa.column("nik", sa.String()),
    sa.column("nik_check_ack", sa.String()),
    sa.column("registration_number", sa.String()),
)
audit_log = sa.table(
    "audit_log",
    sa.column("at", storage.models.UTCDateTime()),
    sa.column("actor", sa.String()),
    sa.column("action", sa.String()),
    sa.column("applicant_id", sa.Integer()),
    sa.column("detail", sa.JSON()),
)


class DuplicateRegistrations(RuntimeError):
    """Two confirmed registrations share a NIK: only staff can tell which one is right."""


def _holders_of_shared_niks(connection: sa.Connection) -> list[list[tuple[int, bool]]]:
    """For each NIK held more than once: its holders as (id, confirmed), the keeper first."""
    shared = (
        sa.select(applicants.c.nik)
        .where(applicants.c.nik.is_not(None))
        .group_by(applicants.c.nik)
        .having(sa.func.count() > 1)
    )
    confirmed = applicants.c.registration_number.is_not(None)
    rows = connection.execute(
        sa.select(applicants.c.nik, applicants.c.id, confirmed)
        .where(applicants.c.nik.in_(shared))
        .order_by(applicants.c.nik, confirmed.desc(), applicants.c.id)
    ).all()
    return [
        [(applicant_id, bool(done)) for _, applicant_id, done in group]
        for _, group in groupby(rows, key=lambda row: row[0])
    ]


def _settle_shared_niks(connection: sa.Connection) -> None:
    groups = _holders_of_shared_niks(connection)
    clashes = [group for group in groups if sum(done for _, done in group) > 1]
    if clashes:
        ids = "; ".join(", ".join(str(i) for i, done in group if done) for group in clashes)
        raise DuplicateRegistrations(
            "Cannot make the NIK unique: confirmed registrations share a NIK (applicant ids "
            f"{ids}). Decide which registration keeps it, clear the NIK of the others "
            "(UPDATE applicants SET nik = NULL WHERE id = …), then run the upgrade again."
        )
    now = Clock().now()
    for (keeper, _), *others in groups:
        losers = [applicant_id for applicant_id, _ in others]
        connection.execute(
            sa.update(applicants)
            .where(applicants.c.id.in_(losers))
            .values(nik=None, nik_check_ack=None)
        )
        connection.execute(
            sa.insert(audit_log),
            [
                {
                    "at": now,
                    "actor": ACTOR,
                    "action": "nik_cleared_duplicate",
                    "applicant_id": loser,
                    "detail": {"kept_by": keeper},
                }
                for loser in losers
            ],
        )


def upgrade() -> None:
    _settle_shared_niks(op.get_bind())
    with op.batch_alter_table("applicants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_applicants_nik"))
        batch_op.create_index(batch_op.f("ix_applicants_nik"), ["nik"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("applicants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_applicants_nik"))
        batch_op.create_index(batch_op.f("ix_applicants_nik"), ["nik"], unique=False)
