"""inbound platform id: a stored inbound payload carries the platform's id (Telegram's
update_id), unique per channel, so the same update is stored once

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("inbound_payloads", schema=None) as batch_op:
        batch_op.add_column(sa.Column("platform_id", sa.String(length=64), nullable=True))
        batch_op.create_index(
            "uq_inbound_payloads_platform_id", ["channel", "platform_id"], unique=True
        )


def downgrade() -> None:
    with op.batch_alter_table("inbound_payloads", schema=None) as batch_op:
        batch_op.drop_index("uq_inbound_payloads_platform_id")
        batch_op.drop_column("platform_id")
