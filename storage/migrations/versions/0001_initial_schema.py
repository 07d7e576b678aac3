"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "applicants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column("step", sa.String(length=32), nullable=False),
        sa.Column("step_data", sa.JSON(), nullable=False),
        sa.Column("consent_at", storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("consent_version", sa.String(length=64), nullable=True),
        sa.Column("guardian_consent_at", storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("eligibility", sa.JSON(), nullable=False),
        sa.Column("full_name", sa.String(length=80), nullable=True),
        sa.Column("nik", sa.String(length=16), nullable=True),
        sa.Column("birth_place", sa.String(length=60), nullable=True),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("sex", sa.String(length=1), nullable=True),
        sa.Column("address", sa.String(length=300), nullable=True),
        sa.Column("kecamatan", sa.String(length=16), nullable=True),
        sa.Column("phone", sa.String(length=16), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("education", sa.String(length=32), nullable=True),
        sa.Column("experience", sa.Boolean(), nullable=True),
        sa.Column("gadget", sa.Boolean(), nullable=True),
        sa.Column("motorbike", sa.Boolean(), nullable=True),
        sa.Column("nik_check_ack", sa.String(length=64), nullable=True),
        sa.Column("registration_number", sa.String(length=32), nullable=True),
        sa.Column("confirmed_at", storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("registration_number"),
    )
    with op.batch_alter_table("applicants", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_applicants_nik"), ["nik"], unique=False)

    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("applicant_id", sa.Integer(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_audit_log_applicant_id"), ["applicant_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_audit_log_at"), ["at"], unique=False)

    op.create_table(
        "counters",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "processed_updates",
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("processed_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("channel", "key"),
    )
    op.create_table(
        "recruitment_flags",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("updated_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "staff",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("added_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("added_by", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("channel", "external_id"),
    )
    op.create_table(
        "chat_identities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("applicant_id", sa.Integer(), nullable=False),
        sa.Column("created_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["applicant_id"], ["applicants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("channel", "external_id"),
    )
    with op.batch_alter_table("chat_identities", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_chat_identities_applicant_id"), ["applicant_id"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("chat_identities", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chat_identities_applicant_id"))

    op.drop_table("chat_identities")
    op.drop_table("staff")
    op.drop_table("recruitment_flags")
    op.drop_table("processed_updates")
    op.drop_table("counters")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_log_at"))
        batch_op.drop_index(batch_op.f("ix_audit_log_applicant_id"))

    op.drop_table("audit_log")
    with op.batch_alter_table("applicants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_applicants_nik"))

    op.drop_table("applicants")
