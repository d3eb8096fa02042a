"""studies.distinct_modifier, studies.distinct_reason: a study marked a distinct service (59 / X{EPSU})

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07 21:30:00

An ECG done at a Holter hook-up (an NCCI indicator-1 pair) is denied unless its line carries 59 or an X
modifier, and nothing let a user say the ECG was a distinct service. The study now keeps the modifier
chosen and the documented reason (NULL: not marked).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # in place (no batch rebuild): SQLite refuses to drop the table orders, studies and claims reference
    op.add_column("studies", sa.Column("distinct_modifier", sa.String(2), nullable=True))
    op.add_column("studies", sa.Column("distinct_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    # in place, as 0019's merged_at (SQLite 3.35+): a batch rebuild drops the table others reference
    op.drop_column("studies", "distinct_reason")
    op.drop_column("studies", "distinct_modifier")
