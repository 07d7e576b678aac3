"""whatsapp

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("chat_identities", schema=None) as batch_op:
        batch_op.add_column(sa.Column("address", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("verified_phone", sa.String(length=16), nullable=True))
        batch_op.add_column(
            sa.Column("last_inbound_at", storage.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(
            batch_op.f("ix_chat_identities_verified_phone"), ["verified_phone"], unique=False
        )

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("template_only", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("platform_status", sa.String(length=16), nullable=True))
        batch_op.create_index(
            "ix_outbox_platform_message_id", ["platform_message_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_platform_message_id")
        batch_op.drop_column("platform_status")
        batch_op.drop_column("template_only")

    with op.batch_alter_table("chat_identities", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chat_identities_verified_phone"))
        batch_op.drop_column("last_inbound_at")
        batch_op.drop_column("verified_phone")
        batch_op.drop_column("address")
