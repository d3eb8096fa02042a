"""jobs: the time before which a queued job is not leased (its backoff after a transient error)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 06:00:00

Jobs queued before this revision have none (NULL): they run as soon as a worker is free, as before.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("not_before", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("not_before")
