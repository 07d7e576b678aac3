"""documents.resend_reason and resend_requested_at: staff asked the applicant to send this
document again (it stays until the new file replaces the row)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-12
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("resend_reason", sa.String(length=300), nullable=True))
        batch_op.add_column(
            sa.Column(
                "resend_requested_at", storage.models.UTCDateTime(timezone=True), nullable=True
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.drop_column("resend_requested_at")
        batch_op.drop_column("resend_reason")
