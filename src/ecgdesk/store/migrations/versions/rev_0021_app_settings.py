"""app_settings: application settings an administrator changes (the escalation minutes of rule 9)

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 15:00:00

A new table; no existing row changes. Without a row a setting keeps its default (the escalation minutes:
``monitoring/data/queue_policy.json``), so an upgraded database behaves as before.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "app_settings",
        sa.Column("name", sa.String(60), primary_key=True),
        sa.Column("value_json", sa.Text(), nullable=False),
        sa.Column("changed_by", sa.String(64), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("app_settings")
