"""private dedup keys: processed_updates keeps the SHA-256 of a platform's update id, never the
id itself (a WhatsApp message id carries the sender's phone number)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-10
"""

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

processed = sa.table(
    "processed_updates",
    sa.column("channel", sa.String),
    sa.column("key", sa.String),
)


def upgrade() -> None:
    connection = op.get_bind()
    rows = connection.execute(sa.select(processed.c.channel, processed.c.key)).all()
    for channel, key in rows:
        if len(key) == 64 and all(c in "0123456789abcdef" for c in key):
            continue  # already a digest
        connection.execute(
            processed.update()
            .where(processed.c.channel == channel, processed.c.key == key)
            .values(key=hashlib.sha256(key.encode()).hexdigest())
        )


def downgrade() -> None:
    """The ids cannot be recovered from their digests; the keys stay digests (they still
    recognise a re-delivery only under this revision's code)."""
