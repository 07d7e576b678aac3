"""sobat

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sobat_progress",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("applicant_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("updated_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["applicant_id"], ["applicants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("applicant_id", "step"),
    )
    with op.batch_alter_table("sobat_progress", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sobat_progress_applicant_id"), ["applicant_id"], unique=False
        )

    op.create_table(
        "sobat_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("applicant_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(length=32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("answered_by", sa.String(length=128), nullable=True),
        sa.Column("answered_at", storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["applicant_id"], ["applicants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("sobat_reports", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sobat_reports_applicant_id"), ["applicant_id"], unique=False
        )

    with op.batch_alter_table("applicants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sobat_path", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("sobat_email", sa.String(length=254), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_applicants_sobat_email"), ["sobat_email"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("applicants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_applicants_sobat_email"))
        batch_op.drop_column("sobat_email")
        batch_op.drop_column("sobat_path")

    with op.batch_alter_table("sobat_reports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sobat_reports_applicant_id"))

    op.drop_table("sobat_reports")
    with op.batch_alter_table("sobat_progress", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sobat_progress_applicant_id"))

    op.drop_table("sobat_progress")
