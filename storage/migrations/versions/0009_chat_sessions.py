"""chat sessions: the conversation's step, step data and language leave the applicant's row

Every chat identity gets a session holding its applicant's step, step data and language (two
linked chats start from the same place, as before); then the columns are dropped. Downgrading
gives each applicant the session of the chat that wrote last and drops the staff-only ones.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


_MOVED = ("step_data", "step", "language")
"""The applicant's columns that move to the chat sessions.

Dropped (and added back) in place, not in batch mode: on SQLite a batch copies `applicants`
and drops the old table, and with foreign keys enforced (`storage/db.py`) that drop deletes
every chat identity, document and result through ON DELETE CASCADE. SQLite drops a column in
place since 3.35.
"""


def upgrade() -> None:
    op.create_table(
        "chat_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column("step", sa.String(length=32), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("channel", "external_id"),
    )
    op.execute(
        "INSERT INTO chat_sessions"
        " (channel, external_id, language, step, data, created_at, updated_at, version)"
        " SELECT chat_identities.channel, chat_identities.external_id, applicants.language,"
        " applicants.step, applicants.step_data, chat_identities.created_at,"
        " applicants.updated_at, 1"
        " FROM chat_identities JOIN applicants ON applicants.id = chat_identities.applicant_id"
    )
    for column in _MOVED:
        op.drop_column("applicants", column)


_LATEST = (
    "(SELECT chat_sessions.{column} FROM chat_sessions JOIN chat_identities"
    " ON chat_identities.channel = chat_sessions.channel"
    " AND chat_identities.external_id = chat_sessions.external_id"
    " WHERE chat_identities.applicant_id = applicants.id"
    " ORDER BY chat_sessions.updated_at DESC, chat_sessions.id DESC LIMIT 1)"
)


def downgrade() -> None:
    op.add_column(
        "applicants",
        sa.Column("language", sa.String(length=2), nullable=False, server_default="id"),
    )
    op.add_column(
        "applicants",
        sa.Column("step", sa.String(length=32), nullable=False, server_default="new"),
    )
    op.add_column(
        "applicants",
        sa.Column("step_data", sa.JSON(), nullable=False, server_default="{}"),
    )
    op.execute(
        "UPDATE applicants SET"
        f" language = COALESCE({_LATEST.format(column='language')}, 'id'),"
        f" step = COALESCE({_LATEST.format(column='step')}, 'new'),"
        f" step_data = COALESCE({_LATEST.format(column='data')}, '{{}}')"
    )
    op.drop_table("chat_sessions")
