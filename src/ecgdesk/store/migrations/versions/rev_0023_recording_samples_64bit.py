"""recordings.n_samples becomes 64-bit on PostgreSQL

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 19:15:00

A recording of 15 days at 2 kHz has 2.6e9 samples, past int4's 2^31 - 1: PostgreSQL refused the row
(``NumericValueOutOfRange``) when the import attached the recording, after the whole file had been copied
and its signal pyramid built. SQLite's INTEGER is 64-bit already.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("recordings", "n_samples", type_=sa.BigInteger())


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("recordings", "n_samples", type_=sa.Integer())
