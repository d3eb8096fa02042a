"""login_failures: refused logins by client address, for the per-address login limit

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-08 01:45:00

Only the account locked after failed logins: one address trying many user names (password spraying) was
never slowed. A new table; no existing row changes, and an upgraded database starts with no failures
counted.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_login_failures_address_at", "login_failures", ["address", "at"])
    op.create_index("ix_login_failures_at", "login_failures", ["at"])


def downgrade() -> None:
    op.drop_index("ix_login_failures_at", "login_failures")
    op.drop_index("ix_login_failures_address_at", "login_failures")
    op.drop_table("login_failures")
