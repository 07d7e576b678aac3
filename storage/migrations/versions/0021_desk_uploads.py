"""the staff desk: a results file kept between its dry run and applying it

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-12
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "desk_uploads",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("session_hash", sa.String(length=64), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("file_name", sa.String(length=100), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["session_hash"], ["desk_sessions.token_hash"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("desk_uploads", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_desk_uploads_session_hash"), ["session_hash"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("desk_uploads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_desk_uploads_session_hash"))
    op.drop_table("desk_uploads")
