"""inbound_payloads.handled_at: a handled update keeps its row (body emptied) as the record
that it was handled, so a Telegram update received again is not handled twice

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("inbound_payloads", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("handled_at", storage.models.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    op.execute("DELETE FROM inbound_payloads WHERE handled_at IS NOT NULL")
    with op.batch_alter_table("inbound_payloads", schema=None) as batch_op:
        batch_op.drop_column("handled_at")
