"""users.must_change_password: a password an administrator set is changed by its user at the next login

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-08 01:40:00

An administrator's reset (or the password given when adding a user) was the user's password for good: the
administrator knew it. Set by ``user add`` / ``reset-password`` (and at a login with a password below the
policy), cleared by the user's own change; until then the user reaches only the change of password. Rows
stored before this revision start with false.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # in place (no batch rebuild): SQLite refuses to drop the table sessions and tokens reference
    op.add_column(
        "users", sa.Column("must_change_password", sa.Boolean(), nullable=False, server_default="0")
    )


def downgrade() -> None:
    op.drop_column("users", "must_change_password")
