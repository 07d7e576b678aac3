"""chat_sessions.address and last_inbound_at: where to send to any chat, a staff chat too (a
WhatsApp wa_id), and whether its 24-hour window is open

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-10
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("chat_sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("address", sa.String(length=32), nullable=True))
        batch_op.add_column(
            sa.Column("last_inbound_at", storage.models.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("chat_sessions", schema=None) as batch_op:
        batch_op.drop_column("last_inbound_at")
        batch_op.drop_column("address")
