"""orders: when the ordering system put the order on hold (HL7 v2 ORC-1 HD, FHIR ServiceRequest on-hold)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 08:30:00

A nullable column: no order recorded before this revision is on hold (an on-hold ServiceRequest was read as
a change, and HD was refused).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("held_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    # a plain DROP COLUMN (SQLite >= 3.35, PostgreSQL): batch mode would copy and drop ``orders``, which
    # the studies' foreign keys refuse on SQLite once there are studies
    op.drop_column("orders", "held_at")
