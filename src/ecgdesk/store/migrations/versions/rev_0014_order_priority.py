"""orders: the priority the ordering provider gave (routine, urgent, asap, stat)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 02:40:00

Orders recorded before this revision become ``routine``: none was read with a priority before.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("priority", sa.String(10), nullable=False, server_default="routine"))


def downgrade() -> None:
    # a plain DROP COLUMN (SQLite >= 3.35, PostgreSQL): batch mode would copy and drop ``orders``, which
    # the studies' foreign keys refuse on SQLite once there are studies
    op.drop_column("orders", "priority")
